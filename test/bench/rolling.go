package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rollingRestart is scenario R4: under a fixed-rate acks=all load, every
// node in turn is stopped with SIGTERM (controlled shutdown), started again
// on its storage, and the next one waits until every partition of the topic
// has its full ISR back, as an operator's rolling upgrade does. It records
// how long the roll took, the longest gap between two acknowledgements of
// one partition over the roll (one second before the first signal until the
// last node is back in sync), the records that failed and acknowledged
// records not read back.
func rollingRestart(ctx context.Context, cfg ClusterConfig, c *Cluster, run *ClusterRun) error {
	const topic = "rolling"
	acks, stop, err := startSettledProducer(ctx, cfg, c, topic, 2*time.Second, "acknowledgements before the roll")
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	for id := 1; id <= 3; id++ {
		t := time.Now()
		if err := c.Terminate(id); err != nil {
			return err
		}
		exited := time.Since(t)
		if err := c.Restart(id); err != nil {
			return err
		}
		if err := c.waitISR(ctx, topic, 3); err != nil {
			return fmt.Errorf("node %d back in sync: %w", id, err)
		}
		log.Printf("%s: rolling restart: node %d exited in %.2fs, back in sync %.2fs after the signal", c.Name, id, exited.Seconds(), time.Since(t).Seconds())
	}
	end := time.Now()
	// The stall measure needs acknowledgements after the last restart.
	after := time.Now().Add(time.Second)
	if err := waitFor(ctx, 2*time.Minute, "acknowledgements after the roll", func() bool { return acks.allSince(after, cfg.Partitions) }); err != nil {
		return err
	}
	stop()
	run.RollS = end.Sub(start).Seconds()
	run.RollStallS = acks.maxGap(start.Add(-time.Second), end).Seconds()
	acks.mu.Lock()
	run.RollErrors = acks.errs
	acks.mu.Unlock()
	lost, err := countLost(ctx, c, topic, acks)
	if err != nil {
		return err
	}
	run.RollLost = lost
	log.Printf("%s: rolling restart of 3 nodes in %.1fs: longest stall %.3fs, %d failed, %d lost", c.Name, run.RollS, run.RollStallS, run.RollErrors, run.RollLost)
	return nil
}

// catchUpRack is the rack whose consumer R6 runs: node 3's (every node i
// has broker.rack=rack<i> when the cluster runs R6).
const catchUpRack = "rack3"

// catchUp is scenario R6: a backlog is produced (acks=all, for the
// benchmark's duration), then a consumer reads it from the start twice:
// without a rack, from the leaders, and with client.rack naming node 3's
// rack, so a broker that implements KIP-392 (Kafka with
// replica.selector.class=RackAwareReplicaSelector) points it at the
// follower there for every partition node 3 does not lead. It records the
// backlog, each read's rate and the share of bytes a non-leader served.
// Both systems get broker.rack and replica.selector.class (Cluster.Racks).
func catchUp(ctx context.Context, cfg ClusterConfig, c *Cluster, run *ClusterRun) error {
	const topic = "catchup"
	if err := c.CreateTopic(ctx, topic, cfg.Partitions); err != nil {
		return err
	}
	r, err := RunLoad(ctx, LoadConfig{Bootstrap: c.Bootstrap(), Topic: topic, Acks: -1, Linger: 5 * time.Millisecond, Duration: cfg.Duration})
	if err != nil {
		return fmt.Errorf("backlog: %w", err)
	}
	if err := c.waitISR(ctx, topic, 3); err != nil {
		return err
	}
	leaders, err := c.Leaders(ctx, topic)
	if err != nil {
		return err
	}
	ends, err := c.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	run.CatchUpMB = float64(total) * recordSize / 1e6
	log.Printf("%s: catch-up backlog %d records (%.0f MB; the producer sent %d)", c.Name, total, run.CatchUpMB, r.TotalRecords)
	for _, rack := range []string{"", catchUpRack} {
		mbps, followerShare, err := readBacklog(ctx, c, topic, rack, ends, leaders)
		if err != nil {
			return fmt.Errorf("catch-up (rack %q): %w", rack, err)
		}
		if rack == "" {
			run.CatchUpLeaderMBps = mbps
		} else {
			run.CatchUpRackMBps, run.CatchUpRackFollowerShare = mbps, followerShare
		}
		log.Printf("%s: catch-up with client.rack=%q: %.1f MB/s, %.0f%% of bytes from followers", c.Name, rack, mbps, 100*followerShare)
	}
	return nil
}

// readBacklog reads topic from the start to ends with a fresh consumer
// (client.rack rack when set) and returns its rate in MB of values per
// second and the share of batch bytes brokers other than the leader served.
func readBacklog(ctx context.Context, c *Cluster, topic, rack string, ends map[int32]int64, leaders map[int32]int32) (float64, float64, error) {
	offsets := map[int32]kgo.Offset{}
	for p := range ends {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	served := &servedBytes{leaders: leaders}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.WithHooks(served),
		kgo.FetchMaxBytes(50 << 20), kgo.FetchMaxPartitionBytes(10 << 20)}
	if rack != "" {
		opts = append(opts, kgo.Rack(rack))
	}
	cl, err := c.client(opts...)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	next := map[int32]int64{}
	var n int64
	start := time.Now()
	for {
		done := true
		for p, e := range ends {
			if next[p] < e {
				done = false
			}
		}
		if done {
			break
		}
		if rctx.Err() != nil {
			return 0, 0, fmt.Errorf("read %d records before the deadline", n)
		}
		fs := cl.PollFetches(rctx)
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
			n++
		})
	}
	d := time.Since(start).Seconds()
	return float64(n) * recordSize / 1e6 / d, served.followerShare(), nil
}

// servedBytes counts fetched batch bytes by whether the partition's leader
// served them (a kgo hook).
type servedBytes struct {
	leaders map[int32]int32

	mu                 sync.Mutex
	leader, nonLeaders int64
}

// OnFetchBatchRead is kgo.HookFetchBatchRead.
func (s *servedBytes) OnFetchBatchRead(meta kgo.BrokerMetadata, _ string, partition int32, m kgo.FetchBatchMetrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leaders[partition]; ok && l != meta.NodeID {
		s.nonLeaders += int64(m.CompressedBytes)
	} else {
		s.leader += int64(m.CompressedBytes)
	}
}

func (s *servedBytes) followerShare() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leader+s.nonLeaders == 0 {
		return 0
	}
	return float64(s.nonLeaders) / float64(s.leader+s.nonLeaders)
}

// endOffsets lists topic's high watermarks.
func (c *Cluster) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var ferr error
	res.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = o.Err
		}
		out[o.Partition] = o.Offset
	})
	return out, ferr
}
