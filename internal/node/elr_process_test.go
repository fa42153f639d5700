package node_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/protocol"
)

// elrState is a partition as DescribeTopicPartitions reports it.
type elrState struct {
	leader                 int32
	isr, elr, lastKnownELR []int32
}

func (s elrState) String() string {
	return fmt.Sprintf("leader %d ISR %v ELR %v LastKnownELR %v", s.leader, s.isr, s.elr, s.lastKnownELR)
}

func brokerIDList(ids []protocol.BrokerID) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		out = append(out, int32(id))
	}
	slices.Sort(out)
	return out
}

// TestELRUncleanRestartProcesses is KIP-966's PreviousBrokerEpoch on
// `spool serve` processes (a controller, brokers 1-3 holding the
// partition with min.insync.replicas 2, broker 4 answering): a broker in
// the ELR that is SIGKILLed wrote no clean shutdown file, so when it
// restarts the controller removes it from the ELR and it may not lead
// although it is unfenced; one stopped with SIGTERM wrote its broker epoch
// there, keeps its ELR place across the restart and leads from it. With
// no ELR member left, the last known leader is elected when it returns
// (Kafka's balanced recovery), and every acknowledged record is there.
func TestELRUncleanRestartProcesses(t *testing.T) {
	c := newProcCluster(t, []procSpec{{5, "controller"}, {1, "broker"}, {2, "broker"}, {3, "broker"}, {4, "broker"}},
		"KAFKA_AUTO_LEADER_REBALANCE_ENABLE=false")
	c.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const topic = "elr"
	minISR := "2"
	answer := c.addr(4) // broker 4 holds no replica and stays up
	cr := rawRequest(t, answer, 7, &protocol.CreateTopicsRequest{
		Topics: []protocol.CreateTopicsRequestCreatableTopic{{Name: topic, NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []protocol.CreateTopicsRequestCreatableReplicaAssignment{{PartitionIndex: 0, BrokerIDs: []protocol.BrokerID{1, 2, 3}}},
			Configs:     []protocol.CreateTopicsRequestCreatableTopicConfig{{Name: "min.insync.replicas", Value: &minISR}}}},
		TimeoutMs: 30000,
	}).(*protocol.CreateTopicsResponse)
	require.Zero(t, cr.Topics[0].ErrorCode)

	state := func() elrState {
		name := protocol.TopicName(topic)
		r := rawRequest(t, answer, 0, &protocol.DescribeTopicPartitionsRequest{
			Topics: []protocol.DescribeTopicPartitionsRequestTopicRequest{{Name: name}}, ResponsePartitionLimit: 10,
		}).(*protocol.DescribeTopicPartitionsResponse)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return elrState{leader: -2}
		}
		p := r.Topics[0].Partitions[0]
		return elrState{leader: int32(p.LeaderID), isr: brokerIDList(p.IsrNodes),
			elr: brokerIDList(p.EligibleLeaderReplicas), lastKnownELR: brokerIDList(p.LastKnownElr)}
	}
	waitState := func(what string, ok func(s elrState) bool) elrState {
		t.Helper()
		var last elrState
		require.Eventually(t, func() bool {
			last = state()
			return ok(last)
		}, 90*time.Second, 50*time.Millisecond, "%s; last seen: %v", what, &last)
		t.Logf("%s: %v", what, last)
		return last
	}
	// waitLive waits until broker id is registered and unfenced: the
	// controller has then decided its ELR place and any election it wins.
	waitLive := func(id int32) {
		t.Helper()
		require.Eventually(t, func() bool {
			ids, err := brokerIDs(answer)
			return err == nil && slices.Contains(ids, id)
		}, 90*time.Second, 50*time.Millisecond, "broker %d unfenced", id)
	}
	full := func(s elrState) bool { return s.leader >= 0 && slices.Equal(s.isr, []int32{1, 2, 3}) }
	waitState("full ISR", full)

	var acked []string
	produce := func(prefix string) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
		require.NoError(t, err)
		defer cl.Close()
		for i := range 50 {
			v := fmt.Sprintf("%s-%02d", prefix, i)
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr())
			acked = append(acked, v)
		}
	}
	readBack := func() {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		require.NoError(t, err)
		defer cl.Close()
		var got []string
		for len(got) < len(acked) {
			fs := cl.PollFetches(ctx)
			require.NoError(t, ctx.Err(), "read %d of %d acknowledged records", len(got), len(acked))
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		require.Equal(t, acked, got)
	}
	stop := func(id int32, sig syscall.Signal) {
		t.Helper()
		c.procs[id].signal(t, sig)
		// Every dir of this broker's (one here) tells whether the stop
		// was clean: the file holds Kafka's JSON with the broker epoch.
		dir := envValue(c.procs[id].env, "KAFKA_LOG_DIRS")
		b, err := os.ReadFile(filepath.Join(dir, ".kafka_cleanshutdown"))
		if sig == syscall.SIGKILL {
			require.ErrorIs(t, err, os.ErrNotExist, "broker %d was SIGKILLed", id)
		} else {
			require.NoError(t, err)
			require.Regexp(t, `^\{"version":0,"brokerEpoch":[1-9][0-9]*\}$`, string(b))
		}
	}

	// Unclean: 3 stops (controlled), 2 is SIGKILLed below the minimum and
	// joins the ELR, then 1, the leader, is SIGKILLed too.
	produce("first")
	stop(3, syscall.SIGTERM)
	waitState("3 out", func(s elrState) bool { return slices.Equal(s.isr, []int32{1, 2}) && len(s.elr) == 0 })
	stop(2, syscall.SIGKILL)
	waitState("2 in the ELR", func(s elrState) bool { return slices.Equal(s.isr, []int32{1}) && slices.Equal(s.elr, []int32{2}) })
	leader := state().leader
	stop(1, syscall.SIGKILL)
	waitState("no ISR", func(s elrState) bool {
		return s.leader == -1 && len(s.isr) == 0 && slices.Equal(s.elr, []int32{1, 2}) && slices.Equal(s.lastKnownELR, []int32{leader})
	})
	// 2 restarts without a clean shutdown file: out of the ELR, and
	// though unfenced it does not lead.
	c.procs[2].start(t, c.bin)
	waitLive(2)
	s := waitState("2 back, out of the ELR", func(s elrState) bool { return !slices.Contains(s.elr, 2) })
	require.Equal(t, int32(-1), s.leader, "a broker that restarted uncleanly may not lead")
	require.Equal(t, []int32{1}, s.elr)
	require.Equal(t, []int32{1}, s.lastKnownELR)
	// 1 restarts uncleanly too: no ELR member is left, so the last known
	// leader leads again once unfenced, with every acknowledged record.
	c.procs[1].start(t, c.bin)
	waitLive(1)
	waitState("1 leads again", func(s elrState) bool { return s.leader == 1 && len(s.elr) == 0 })
	c.procs[3].start(t, c.bin)
	waitState("full ISR again", full)
	readBack()

	// Clean: the same with SIGTERM for 2. It keeps its ELR place across
	// the restart and leads from it while 1 is still down.
	produce("second")
	stop(3, syscall.SIGTERM)
	waitState("3 out", func(s elrState) bool { return slices.Equal(s.isr, []int32{1, 2}) && len(s.elr) == 0 })
	stop(2, syscall.SIGTERM)
	waitState("2 in the ELR", func(s elrState) bool { return slices.Equal(s.isr, []int32{1}) && slices.Equal(s.elr, []int32{2}) })
	stop(1, syscall.SIGKILL)
	waitState("no ISR", func(s elrState) bool { return s.leader == -1 && len(s.isr) == 0 && slices.Equal(s.elr, []int32{1, 2}) })
	c.procs[2].start(t, c.bin)
	waitLive(2)
	waitState("2 leads from the ELR", func(s elrState) bool {
		return s.leader == 2 && slices.Equal(s.isr, []int32{2}) && slices.Equal(s.elr, []int32{1})
	})
	c.procs[1].start(t, c.bin)
	c.procs[3].start(t, c.bin)
	waitState("full ISR at the end", full)
	readBack()
}
