package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
)

// TestGroupLag: a group whose offset does not move while it lags is
// STALL (group ERR, exit 1); a caught-up group is OK.
func TestGroupLag(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{})
	requireOK(t, spool(t, b.Addr, "", "topic", "create", "lag", "-p", "1"))
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	requireOK(t, spool(t, b.Addr, in.String(), "produce", "lag", "-p", "0"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for group, at := range map[string]int64{"stuck": 4, "done": 10} {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "lag", Partition: 0, At: at, LeaderEpoch: -1})
		resp, err := adm.CommitOffsets(ctx, group, offs)
		require.NoError(t, err)
		require.NoError(t, resp.Error())
	}

	for _, tc := range []struct {
		group, status, partition string
		code                     int
		lag                      int64
	}{
		{"stuck", "ERR", "STALL", 1, 6},
		{"done", "OK", "OK", 0, 0},
	} {
		t.Run(tc.group, func(t *testing.T) {
			r := spool(t, b.Addr, "", "group", "lag", tc.group, "--samples", "3", "--interval", "20ms", "-o", "json")
			require.Equal(t, tc.code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			var out []groupLagStatus
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
			require.Len(t, out, 1)
			require.Equal(t, tc.status, out[0].Status)
			require.Equal(t, tc.lag, out[0].TotalLag)
			require.Len(t, out[0].Partitions, 1)
			require.Equal(t, tc.partition, out[0].Partitions[0].Status)
		})
	}
	r := spool(t, b.Addr, "", "group", "lag", "stuck", "--samples", "2", "--interval", "10ms")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, "Consumer group 'stuck' status ERR, total lag 6")
	require.Regexp(t, `stuck\s+lag\s+0\s+4\s+10\s+6\s+STALL`, r.stdout)
	r = spool(t, b.Addr, "", "group", "lag", "stuck", "--samples", "0")
	require.Equal(t, 2, r.code, "bad --samples is a usage error")
}
