package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
	"unicode/utf16"

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
	nodes      int // brokers 1..nodes, asked about the coordinator's partition
	mu         sync.Mutex
	commits    []groupCommit
	fetches    int
	consumed   int
	last       map[int32]int64 // last committed offset OffsetFetch returned
	violations []string
	// staleDeposed: answers below acknowledged commits (or going back)
	// from a coordinator that had been deposed and did not know it yet
	// (fetchSource.deposed), which Kafka gives as well; staleFetches counts
	// the OffsetFetch answers they came from. Not violations.
	staleDeposed []string
	staleFetches int
	errs         []string // commit and fetch errors: context, not violations
}

type groupCommit struct {
	partition int32
	offset    int64
	at        time.Time // when the OffsetCommit response arrived
}

func newGroupHistory(nodes int) *groupHistory {
	return &groupHistory{nodes: nodes, last: map[int32]int64{}}
}

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
//
// With kip848 the member uses the consumer group protocol (KIP-848,
// ConsumerGroupHeartbeat; the broker assigns, with the range assignor)
// instead of the classic one; the same invariants hold: a member commits only
// partitions the coordinator still has it own at its member epoch, and a
// commit at a stale epoch is refused.
func consumeGroup(ctx context.Context, seeds []string, topic, group string, member int, kip848 bool, g *groupHistory) error {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(time.Second), kgo.DialTimeout(2 * time.Second),
		kgo.FetchMaxWait(500 * time.Millisecond), kgo.MaxConcurrentFetches(1), kgo.FetchMaxBytes(256 << 10)}
	if kip848 {
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer())
	}
	cl, err := kgo.NewClient(opts...)
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
func watchCommits(ctx context.Context, cl *kgo.Client, adm *kadm.Client, group string, period time.Duration, g *groupHistory) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = g.observe(ctx, cl, adm, group)
	}
}

// fetchSource is who answered an OffsetFetch and what the brokers said about
// the group's __consumer_offsets partition around it, to tell a stale answer
// of a deposed coordinator (Kafka's behaviour as well: finding 3 in
// docs/reliability.md) from a lost commit.
type fetchSource struct {
	node int32 // the coordinator FindCoordinator named; the OffsetFetch went to it alone
	// ledEpoch is the partition's leader epoch in node's own metadata just
	// before the OffsetFetch, when node named itself leader; -1 otherwise.
	ledEpoch int32
	// newerLeader and newerEpoch: the highest leader epoch another broker's
	// metadata reported right after the answer, and its leader (-1 if none
	// was higher than ledEpoch).
	newerLeader, newerEpoch int32
}

func (s fetchSource) String() string {
	str := fmt.Sprintf("node %d", s.node)
	if s.ledEpoch >= 0 {
		str += fmt.Sprintf(" (leading at epoch %d in its own metadata)", s.ledEpoch)
	} else {
		str += " (not the leader in its own metadata)"
	}
	if s.newerEpoch >= 0 {
		str += fmt.Sprintf("; node %d led at epoch %d in another broker's metadata", s.newerLeader, s.newerEpoch)
	}
	return str
}

// deposed reports whether the answer came from a coordinator that still
// believed it led the partition at an epoch the cluster had already moved
// past: it has not applied the metadata that deposed it yet, so it answers
// from its last state, as Kafka's coordinator does until its broker learns
// of the new leader (and then unloads and answers NOT_COORDINATOR).
func (s fetchSource) deposed() bool {
	return s.ledEpoch >= 0 && s.newerEpoch > s.ledEpoch && s.newerLeader != s.node
}

// offsetsPartitionFor is Kafka's placement of a group on __consumer_offsets:
// Utils.abs(groupId.hashCode()) % partitions (Math.abs, MinInt32 to 0).
func offsetsPartitionFor(group string, partitions int32) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(c)
	}
	switch {
	case h == math.MinInt32:
		h = 0
	case h < 0:
		h = -h
	}
	return h % partitions
}

// offsetsLeader asks broker node alone for __consumer_offsets' metadata and
// returns the leader and leader epoch it knows for the group's partition.
func offsetsLeader(ctx context.Context, cl *kgo.Client, node int32, group string) (leader, epoch int32, err error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr("__consumer_offsets")
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl.Broker(int(node)))
	if err != nil {
		return -1, -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) == 0 {
		return -1, -1, fmt.Errorf("metadata of node %d: no __consumer_offsets", node)
	}
	ps := resp.Topics[0].Partitions
	want := offsetsPartitionFor(group, int32(len(ps)))
	for _, p := range ps {
		if p.Partition == want {
			return p.Leader, p.LeaderEpoch, nil
		}
	}
	return -1, -1, fmt.Errorf("metadata of node %d: no __consumer_offsets-%d", node, want)
}

// observe sends one OffsetFetch to the coordinator FindCoordinator names and
// checks the answer: every commit acknowledged before it was sent must be
// reflected, and no partition's committed offset may be lower than in the
// previous answer; unless the answer came from a deposed coordinator that
// had not learnt it yet (counted apart, see fetchSource.deposed).
func (g *groupHistory) observe(ctx context.Context, cl *kgo.Client, adm *kadm.Client, group string) error {
	sent := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fc, ok := adm.FindGroupCoordinators(fctx, group)[group]
	if !ok || fc.Err != nil {
		err := fmt.Errorf("find coordinator: %v", fc.Err)
		if ctx.Err() == nil {
			g.errf("offset fetch: %v", err)
		}
		return err
	}
	src := fetchSource{node: fc.NodeID, ledEpoch: -1, newerLeader: -1, newerEpoch: -1}
	if leader, epoch, err := offsetsLeader(fctx, cl, src.node, group); err == nil && leader == src.node {
		src.ledEpoch = epoch
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(fctx, cl.Broker(int(src.node)))
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, rg := range resp.Groups {
			err = errors.Join(err, kerr.ErrorForCode(rg.ErrorCode))
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			g.errf("offset fetch from node %d: %v", src.node, err)
		}
		return err
	}
	got := map[int32]int64{}
	add := func(p int32, off int64, code int16) {
		if code == 0 && off >= 0 {
			got[p] = off
		}
	}
	// v8+ answers per group, older versions at the top level; the group
	// commits one topic only, so partitions are keyed alone.
	for _, rg := range resp.Groups {
		for _, t := range rg.Topics {
			for _, p := range t.Partitions {
				add(p.Partition, p.Offset, p.ErrorCode)
			}
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			add(p.Partition, p.Offset, p.ErrorCode)
		}
	}
	// What the other brokers know of the partition right after the
	// answer: a higher epoch there means the answer's coordinator had been
	// deposed.
	for id := int32(1); id <= int32(g.nodes); id++ {
		if id == src.node {
			continue
		}
		if leader, epoch, err := offsetsLeader(fctx, cl, id, group); err == nil && epoch > src.newerEpoch && epoch > src.ledEpoch {
			src.newerLeader, src.newerEpoch = leader, epoch
		}
	}
	g.checkFetch(sent, src, got)
	return nil
}

// checkFetch checks one OffsetFetch answer, got (partition -> committed
// offset), sent at sent and answered by src, against the history, and
// remembers it. A lower answer from a deposed coordinator is recorded in
// staleDeposed, not as a violation.
func (g *groupHistory) checkFetch(sent time.Time, src fetchSource, got map[int32]int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fetches++
	acked := map[int32]groupCommit{}
	for _, c := range g.commits {
		if c.at.Before(sent) && c.offset > acked[c.partition].offset {
			acked[c.partition] = c
		}
	}
	var stale []string
	for p, c := range acked {
		if off, ok := got[p]; !ok || off < c.offset {
			stale = append(stale, fmt.Sprintf("p%d: commit of %d acknowledged at %s, OffsetFetch sent at %s returned %d (present %v; answered by %s)",
				p, c.offset, c.at.UTC().Format("15:04:05.000"), sent.UTC().Format("15:04:05.000"), off, ok, src))
		}
	}
	for p, off := range got {
		if prev, ok := g.last[p]; ok && off < prev {
			stale = append(stale, fmt.Sprintf("p%d: committed offset went back from %d to %d (OffsetFetch sent at %s; answered by %s)",
				p, prev, off, sent.UTC().Format("15:04:05.000"), src))
		}
	}
	sort.Strings(stale)
	if src.deposed() {
		g.staleDeposed = append(g.staleDeposed, stale...)
		if len(stale) > 0 {
			g.staleFetches++
		}
		// A deposed coordinator's answer is not the group's state: it
		// does not move g.last.
		return
	}
	g.violations = append(g.violations, stale...)
	for p, off := range got {
		g.last[p] = max(g.last[p], off)
	}
}

func (g *groupHistory) stats() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Sprintf("%d records consumed and committed, %d partition commits acknowledged, %d offset fetches checked, %d stale answers from a deposed coordinator", g.consumed, len(g.commits), g.fetches, g.staleFetches)
}

// groupType is the group's type as ListGroups (v5) reports it: "consumer"
// for a KIP-848 group, "classic" for the classic protocol, "" when no broker
// lists it.
func groupType(ctx context.Context, adm *kadm.Client, group string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, typ := range []string{"consumer", "classic"} {
		ls, err := adm.ListGroupsByType(ctx, []string{typ})
		if err != nil {
			return "", err
		}
		if _, ok := ls[group]; ok {
			return typ, nil
		}
	}
	return "", nil
}
