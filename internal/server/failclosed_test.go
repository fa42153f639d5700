package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/internal/spooltest"
)

// TestFailClosed starts the real binary with configurations that ask for
// protection Spool does not implement yet (issue 10; since issue 14 what
// remains: GSSAPI and other authorizers). Each must exit
// non-zero before opening a port or formatting its log dir, with a message
// naming the property; kcat's plaintext produce and consume without
// credentials must then fail because nothing listens. A PLAINTEXT node
// started the same way serves kcat, so the failures are the refusal's doing.
func TestFailClosed(t *testing.T) {
	bin := spooltest.Build(t)
	kcat := tool(t, "kcat")

	t.Run("control: plaintext serves kcat", func(t *testing.T) {
		dir := t.TempDir()
		addr, env := processEnv(t, filepath.Join(dir, "data"))
		startProcess(t, bin, env, addr, filepath.Join(dir, "spool.log"))
		run(t, "k:plain\n", kcat, "-b", addr, "-P", "-t", "open", "-K:")
		out := run(t, "", kcat, "-b", addr, "-C", "-t", "open", "-e", "-f", "%k=%s\n")
		require.Equal(t, "k=plain\n", out)
	})

	type ports struct{ client, client2, controller int }
	// What stays refused now that TLS, mTLS, SASL PLAIN/SCRAM/OAUTHBEARER,
	// ACLs and secured connections between nodes are implemented: GSSAPI
	// and other authorizers.
	tests := []struct {
		name string
		env  func(p ports) []string // KAFKA_* variables
		file func(p ports) string   // or server.properties
		want []string               // in the message
	}{
		{
			name: "SASL_SSL listener with Kafka's default mechanism GSSAPI",
			env: func(p ports) []string {
				return []string{
					fmt.Sprintf("KAFKA_LISTENERS=SASL_SSL://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", p.client, p.controller),
					"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
					"KAFKA_INTER_BROKER_LISTENER_NAME=SASL_SSL",
					"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
					"KAFKA_SUPER_USERS=User:admin",
				}
			},
			want: []string{"sasl.enabled.mechanisms=GSSAPI", "sasl.mechanism.inter.broker.protocol=GSSAPI", "SASL mechanism GSSAPI is not implemented yet"},
		},
		{
			name: "GSSAPI next to SCRAM in server.properties",
			file: func(p ports) string {
				return fmt.Sprintf("listeners=SASL_PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d\n"+
					"listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT\n"+
					"inter.broker.listener.name=SASL_PLAINTEXT\nsasl.enabled.mechanisms=SCRAM-SHA-512,GSSAPI\nsasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n",
					p.client, p.controller)
			},
			want: []string{"sasl.enabled.mechanisms=GSSAPI"},
		},
		{
			name: "SASL controller listener with Kafka's default controller mechanism GSSAPI",
			env: func(p ports) []string {
				return []string{"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_SSL", "KAFKA_SASL_ENABLED_MECHANISMS=PLAIN"}
			},
			want: []string{"sasl.mechanism.controller.protocol=GSSAPI", "SASL mechanism GSSAPI is not implemented yet"},
		},
		{
			name: "an authorizer other than StandardAuthorizer",
			env: func(p ports) []string {
				return []string{"KAFKA_AUTHORIZER_CLASS_NAME=kafka.security.authorizer.AclAuthorizer"}
			},
			want: []string{"authorizer.class.name=kafka.security.authorizer.AclAuthorizer", "supported: org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			p := ports{client: freePort(t), client2: freePort(t), controller: freePort(t)}
			// A plain single node on these ports; the case adds or overrides.
			env := []string{
				fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", p.client, p.controller),
				"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
				"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
				fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", p.controller),
				"KAFKA_LOG_DIRS=" + data,
			}
			args := []string{"serve"}
			if tt.env != nil {
				env = append(env, tt.env(p)...) // later entries win in exec's environment
			}
			if tt.file != nil {
				path := filepath.Join(dir, "server.properties")
				require.NoError(t, os.WriteFile(path, []byte(tt.file(p)), 0o644))
				env = filterEnv(env, "KAFKA_LISTENERS=") // the file's listeners apply
				args = append(args, path)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, ctx.Err(), "spool did not exit:\n%s", out)
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "spool must exit non-zero, got %v:\n%s", err, out)
			require.NotZero(t, exit.ExitCode())

			msg := string(out)
			require.Contains(t, msg, "refusing to start")
			require.Contains(t, msg, "not implemented yet")
			require.Contains(t, msg, "security protocols PLAINTEXT")
			for _, w := range tt.want {
				require.Contains(t, msg, w)
			}
			require.NotContains(t, msg, `"listening"`)

			// Nothing was opened or formatted.
			for _, port := range []int{p.client, p.client2, p.controller} {
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
				if err == nil {
					c.Close()
				}
				require.Error(t, err, "something listens on %d", port)
			}
			_, err = os.Stat(data)
			require.True(t, os.IsNotExist(err), "the log dir must not be created: %v", err)

			// The plaintext attempt of issue 10: no credentials, no TLS.
			for _, port := range []int{p.client, p.client2} {
				addr := fmt.Sprintf("127.0.0.1:%d", port)
				produce := exec.CommandContext(ctx, kcat, "-b", addr, "-P", "-t", "stolen",
					"-X", "message.timeout.ms=5000", "-X", "socket.connection.setup.timeout.ms=2000")
				produce.Stdin = strings.NewReader("secret\n")
				pout, err := produce.CombinedOutput()
				require.Error(t, err, "kcat produced to %s:\n%s", addr, pout)
				require.Contains(t, string(pout), "Connection refused")
				consume := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", "stolen", "-e", "-m", "1",
					"-X", "socket.connection.setup.timeout.ms=2000")
				cout, err := consume.CombinedOutput()
				require.Error(t, err, "kcat consumed from %s:\n%s", addr, cout)
				require.NotContains(t, string(cout), "secret")
			}
		})
	}
}

// filterEnv drops the variables starting with prefix.
func filterEnv(env []string, prefix string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// TestStartRefusesProtections: Start itself refuses, for callers other than
// cmd/spool, before it creates the log dir or binds the controller port.
func TestStartRefusesProtections(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	port, cport := freePort(t), freePort(t)
	cfg, _, err := config.Load("", []string{
		"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, cport),
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", cport),
		"KAFKA_LOG_DIRS=" + data,
		"KAFKA_AUTHORIZER_CLASS_NAME=com.example.MyAuthorizer",
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg, nil, zaptest.NewLogger(t), NewNodeBroker)
	require.Nil(t, n)
	require.ErrorIs(t, err, config.ErrProtectionNotImplemented)
	require.ErrorContains(t, err, "authorizer.class.name=com.example.MyAuthorizer")
	_, err = os.Stat(data)
	require.True(t, os.IsNotExist(err), "the log dir must not be created: %v", err)
}
