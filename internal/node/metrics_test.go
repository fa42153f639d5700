package node_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestStorageMetricsRegistered is the regression test for the storage and
// log cleaner collectors never reaching the registry: node.Start must hand
// its Registerer to storage.
func TestStorageMetricsRegistered(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{{id: 1, roles: "broker,controller"}})
	reg := prometheus.NewRegistry()
	c.startWith(1, reg)
	c.waitReady(1)
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]bool{}
	for _, mf := range families {
		got[mf.GetName()] = true
	}
	for _, name := range []string{
		"spool_storage_fsync_seconds",
		"spool_storage_segment_rolls_total",
		"spool_log_cleaner_passes_total",
		"spool_log_cleaner_max_dirty_ratio",
	} {
		require.True(t, got[name], "%s is not registered", name)
	}
}
