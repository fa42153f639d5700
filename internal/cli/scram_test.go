package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
)

func TestParseAddScram(t *testing.T) {
	for _, tc := range []struct {
		arg, err string
		mech     sasl.ScramMechanism
		iter     int32
	}{
		{arg: "SCRAM-SHA-512=[name=admin,password=admin-secret]", mech: sasl.ScramSHA512, iter: 4096},
		{arg: `SCRAM-SHA-256=[name=alice,iterations=8192,password="a,b"]`, err: "no equals sign"},
		{arg: `SCRAM-SHA-256=[name=alice,iterations=8192,password="secret"]`, mech: sasl.ScramSHA256, iter: 8192},
		{arg: "SCRAM-SHA-256=[name=alice,salt=c2FsdA==,saltedpassword=cGFzcw==,iterations=5000]", mech: sasl.ScramSHA256, iter: 5000},
		{arg: "SCRAM-SHA-256=[name=alice,saltedpassword=cGFzcw==]", err: "you must supply 'salt' with 'saltedpassword'"},
		{arg: "SCRAM-SHA-256=[name=alice]", err: "you must supply one of 'password' or 'saltedpassword'"},
		{arg: "SCRAM-SHA-256=[name=alice,password=x,color=blue]", err: "unknown SCRAM configurations: color"},
		{arg: "SCRAM-SHA-256=[name=alice,password=x,iterations=20000]", err: "must be <= 16384"},
		{arg: "SCRAM-SHA-256=name=alice,password=x", err: "start with ["},
		{arg: "PLAIN=[name=alice,password=x]", err: "not supported"},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			rec, err := parseAddScram(tc.arg)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			r := rec.(*controller.UserScramCredentialRecord)
			require.Equal(t, int8(tc.mech), r.Mechanism)
			require.Equal(t, tc.iter, r.Iterations)
			require.NotEmpty(t, r.StoredKey)
		})
	}
}

// TestBootstrapFromEnv: SPOOL_ADD_SCRAM writes the bootstrap file of a node
// that is not formatted yet, and is ignored once it is.
func TestBootstrapFromEnv(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := config.Load("", []string{"KAFKA_LOG_DIRS=" + dir})
	require.NoError(t, err)
	msg, err := BootstrapFromEnv(cfg, nil)
	require.NoError(t, err)
	require.Empty(t, msg, "unset: nothing to do")

	env := []string{EnvAddScram + "=SCRAM-SHA-512=[name=admin,password=a;b];SCRAM-SHA-256=[name=admin,password=c]"}
	msg, err = BootstrapFromEnv(cfg, env)
	require.NoError(t, err)
	require.Contains(t, msg, "2 SCRAM credential(s)")
	recs, err := controller.ReadBootstrap(dir)
	require.NoError(t, err)
	require.Len(t, recs, 2, "the ';' inside the first password stays in it")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.properties"), []byte("node.id=1\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, controller.BootstrapFileName)))
	msg, err = BootstrapFromEnv(cfg, env)
	require.NoError(t, err)
	require.Contains(t, msg, "ignored")
	_, err = os.Stat(filepath.Join(dir, controller.BootstrapFileName))
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = BootstrapFromEnv(cfg, []string{EnvAddScram + "=SCRAM-SHA-512=[password=x]"})
	require.ErrorContains(t, err, "you must supply 'name'")
}
