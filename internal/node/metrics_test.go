package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
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

// gatherValue sums the samples of name on reg whose labels include want;
// found is false when there are none.
func gatherValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (sum float64, found bool) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			found = true
			switch {
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				sum += m.GetUntyped().GetValue()
			}
		}
	}
	return sum, found
}

// TestClusterMetrics checks the metrics docs/metrics.md marks "cluster"
// on three brokers, and that killing a follower raises the leader's
// under-replicated count (the UnderReplicatedPartitions alert).
func TestClusterMetrics(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
	}, "KAFKA_REPLICA_LAG_TIME_MAX_MS=2000")
	regs := map[int32]*prometheus.Registry{}
	for id := int32(1); id <= 3; id++ {
		regs[id] = prometheus.NewRegistry()
		c.startWith(id, regs[id])
	}
	for id := int32(1); id <= 3; id++ {
		c.waitReady(id)
	}
	c.waitImages("every broker unfenced", unfenced(1, 2, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := newAdmin(t, c.nodes[1].addr())
	created, err := adm.CreateTopic(ctx, 1, 3, nil, "urp")
	require.NoError(t, err)
	require.NoError(t, created.Err)
	c.waitImages("topic everywhere", func(img *controller.MetadataImage) bool { return img.Topic("urp") != nil })
	leader := c.image().Topic("urp").Partitions[0].Leader
	tp := map[string]string{"topic": "urp", "partition": "0"}

	// Every follower reports its lag behind the leader.
	for id := int32(1); id <= 3; id++ {
		if id == leader {
			continue
		}
		require.Eventually(t, func() bool {
			_, ok := gatherValue(t, regs[id], "kafka_server_fetcherlagmetrics_consumerlag", tp)
			return ok
		}, 30*time.Second, 20*time.Millisecond, "node %d has no fetcher lag series", id)
	}
	// A write replicated to the followers counts as their ReplicationBytesIn
	// and as the leader's ReplicationBytesOut (all-topics series only, as
	// Kafka keeps them).
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[1].addr()), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, err)
	defer pcl.Close()
	require.NoError(t, pcl.ProduceSync(ctx, &kgo.Record{Topic: "urp", Value: []byte("replicated")}).FirstErr())
	all := map[string]string{"topic": ""}
	for id := int32(1); id <= 3; id++ {
		name := "kafka_server_brokertopicmetrics_replicationbytesin_total"
		if id == leader {
			name = "kafka_server_brokertopicmetrics_replicationbytesout_total"
		}
		require.Eventually(t, func() bool {
			v, _ := gatherValue(t, regs[id], name, all)
			return v > 0
		}, 30*time.Second, 20*time.Millisecond, "node %d: %s stays 0 after an acks=all write", id, name)
	}
	v, _ := gatherValue(t, regs[leader], "kafka_server_replicamanager_underreplicatedpartitions", nil)
	require.Zero(t, v, "fully replicated before the kill")
	active, total := 0.0, 0.0
	for id := int32(1); id <= 3; id++ {
		a, ok := gatherValue(t, regs[id], "kafka_controller_kafkacontroller_activecontrollercount", nil)
		require.True(t, ok)
		active += a
		n, _ := gatherValue(t, regs[id], "kafka_controller_kafkacontroller_activebrokercount", nil)
		total = max(total, n)
	}
	require.Equal(t, 1.0, active, "exactly one active controller")
	require.Equal(t, 3.0, total)

	// Kill a follower that is not the active controller.
	ctrl := c.activeController()
	victim := int32(-1)
	for id := int32(1); id <= 3; id++ {
		if id != leader && id != ctrl {
			victim = id
		}
	}
	if victim < 0 { // the leader is the active controller: any follower
		for id := int32(1); id <= 3; id++ {
			if id != leader {
				victim = id
			}
		}
	}
	c.kill(victim)
	require.Eventually(t, func() bool {
		v, _ := gatherValue(t, regs[leader], "kafka_server_replicamanager_underreplicatedpartitions", nil)
		p, _ := gatherValue(t, regs[leader], "kafka_cluster_partition_underreplicated", tp)
		return v >= 1 && p == 1
	}, 30*time.Second, 20*time.Millisecond, "killing follower %d did not raise the leader's (%d) under-replicated count", victim, leader)
	require.Eventually(t, func() bool {
		for id := int32(1); id <= 3; id++ {
			if id == victim {
				continue
			}
			if f, _ := gatherValue(t, regs[id], "kafka_controller_kafkacontroller_fencedbrokercount", nil); f == 1 {
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "the killed broker is not counted as fenced")
}
