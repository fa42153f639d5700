package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupHistory is what the consumer-group workload saw: the offset commits
// the coordinator acknowledged and the committed offsets OffsetFetch
// returned over time. mu guards every field.
//
// Invariants checked (a classic group whose members commit with
// BlockRebalanceOnPoll, so that a member only commits partitions it owns in
// the generation it commits with, and a fenced member's commit is refused):
//   - no acknowledged commit lost: an OffsetFetch sent after a commit of
//     offset o on partition p was acknowledged returns at least o for p;
//   - commits never go backwards: each OffsetFetch returns, per partition,
//     at least what the previous one returned.
type groupHistory struct {
	mu         sync.Mutex
	commits    []groupCommit
	fetches    int
	consumed   int
	last       map[int32]int64 // last committed offset OffsetFetch returned
	violations []string
	errs       []string // commit and fetch errors: context, not violations
}

type groupCommit struct {
	partition int32
	offset    int64
	at        time.Time // when the OffsetCommit response arrived
}

func newGroupHistory() *groupHistory { return &groupHistory{last: map[int32]int64{}} }

func (g *groupHistory) errf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.errs) < 50 {
		g.errs = append(g.errs, fmt.Sprintf(format, args...))
	}
}

// consumeGroup runs one member of group on topic until ctx is done: it polls,
// commits the polled records' next offsets synchronously, and only then lets a
// rebalance go on.
func consumeGroup(ctx context.Context, seeds []string, topic, group string, member int, g *groupHistory) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(time.Second), kgo.DialTimeout(2*time.Second),
		kgo.FetchMaxWait(500*time.Millisecond), kgo.MaxConcurrentFetches(1), kgo.FetchMaxBytes(256<<10))
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 500)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		offsets := map[string]map[int32]kgo.EpochOffset{}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if offsets[r.Topic] == nil {
				offsets[r.Topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		})
		if n > 0 {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			cl.CommitOffsetsSync(cctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				now := time.Now()
				if err != nil {
					g.errf("member %d: commit: %v", member, err)
					return
				}
				asked := map[int32]int64{}
				for _, t := range req.Topics {
					for _, p := range t.Partitions {
						asked[p.Partition] = p.Offset
					}
				}
				g.mu.Lock()
				defer g.mu.Unlock()
				g.consumed += n
				for _, t := range resp.Topics {
					for _, p := range t.Partitions {
						if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
							if len(g.errs) < 50 {
								g.errs = append(g.errs, fmt.Sprintf("member %d: commit p%d: %v", member, p.Partition, err))
							}
							continue
						}
						g.commits = append(g.commits, groupCommit{p.Partition, asked[p.Partition], now})
					}
				}
			})
			cancel()
		}
		cl.AllowRebalance()
	}
	return nil
}

// watchCommits fetches the group's committed offsets every period until ctx
// is done and checks each answer against the acknowledged commits.
func watchCommits(ctx context.Context, adm *kadm.Client, group string, period time.Duration, g *groupHistory) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = g.observe(ctx, adm, group)
	}
}

// observe sends one OffsetFetch and checks the answer: every commit
// acknowledged before it was sent must be reflected, and no partition's
// committed offset may be lower than in the previous answer.
func (g *groupHistory) observe(ctx context.Context, adm *kadm.Client, group string) error {
	sent := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Which broker answers is not visible through kadm: the coordinator
	// a FindCoordinator names just before goes into a violation's line,
	// as a lead (finding 3 in docs/reliability.md).
	via := "?"
	if fc, ok := adm.FindGroupCoordinators(fctx, group)[group]; ok && fc.Err == nil {
		via = fmt.Sprintf("node %d", fc.NodeID)
	}
	resp, err := adm.FetchOffsets(fctx, group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			g.errf("offset fetch: %v", err)
		}
		return err
	}
	got := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			got[o.Partition] = o.At
		}
	})
	g.checkFetch(sent, via, got)
	return nil
}

// checkFetch checks one OffsetFetch answer, got (partition -> committed
// offset), sent at sent, against the history, and remembers it. via names
// the coordinator FindCoordinator gave just before, for the report.
func (g *groupHistory) checkFetch(sent time.Time, via string, got map[int32]int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fetches++
	acked := map[int32]groupCommit{}
	for _, c := range g.commits {
		if c.at.Before(sent) && c.offset > acked[c.partition].offset {
			acked[c.partition] = c
		}
	}
	for p, c := range acked {
		if off, ok := got[p]; !ok || off < c.offset {
			g.violations = append(g.violations, fmt.Sprintf("p%d: commit of %d acknowledged at %s, OffsetFetch sent at %s returned %d (present %v; coordinator per FindCoordinator: %s)",
				p, c.offset, c.at.UTC().Format("15:04:05.000"), sent.UTC().Format("15:04:05.000"), off, ok, via))
		}
	}
	for p, off := range got {
		if prev, ok := g.last[p]; ok && off < prev {
			g.violations = append(g.violations, fmt.Sprintf("p%d: committed offset went back from %d to %d (OffsetFetch sent at %s; coordinator per FindCoordinator: %s)",
				p, prev, off, sent.UTC().Format("15:04:05.000"), via))
		}
		g.last[p] = max(g.last[p], off)
	}
}

func (g *groupHistory) stats() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Sprintf("%d records consumed and committed, %d partition commits acknowledged, %d offset fetches checked", g.consumed, len(g.commits), g.fetches)
}
