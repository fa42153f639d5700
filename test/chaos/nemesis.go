package main

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// faultKinds are the faults the nemesis chooses from by default. Seeds of
// runs made before kill-controller existed replay with
// -kinds kill,kill-leader,pause,partition,loss.
//
// The default stays the same so that seed 7 (make chaos-smoke) keeps its
// schedule; -kinds all adds the faults of 2026-12-07's third session (split,
// oneway, disk-full, power-loss, delay); the disk kinds turn -disks on, delay
// turns -proxy on.
var faultKinds = []string{"kill", "kill-leader", "kill-controller", "pause", "partition", "loss"}

// allKinds is every fault the nemesis knows, for -kinds all. A kind added
// here changes what -kinds all draws from an earlier seed: docs/reliability.md
// spells out the list each reported run used.
var allKinds = append(slices.Clone(faultKinds), "split", "oneway", "disk-full", "power-loss", "delay", "rolling")

// fault is one injected fault, as logged and reported.
type fault struct {
	Kind  string
	Node  int
	Start time.Time
	End   time.Time // when healed
	Note  string
}

// nemesis injects faults one at a time from a seeded source, so that a
// schedule replays from its seed (the timing of the workload does not).
type nemesis struct {
	c     *cluster
	disks *disks      // nil unless -disks
	proxy *proxy      // nil unless -proxy
	cl    *kgo.Client // DescribeQuorum for kill-controller
	adm   *kadm.Client
	topic string
	rng   *rand.Rand
	logf  func(format string, args ...any)
	kinds []string
	// gap is the healthy time between two faults; hold the time a fault lasts.
	gapMin, gapMax, holdMin, holdMax time.Duration
	faults                           []fault
	// exits lists the nodes that exited by themselves (not killed by a
	// fault), found before each fault and restarted: a finding each.
	exits []string
	// injected counts the faults healed so far, for progress lines read
	// by another goroutine (faults belongs to run's goroutine).
	injected atomic.Int64
}

func (n *nemesis) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.rng.Int63n(int64(hi-lo)))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// run injects up to max faults until ctx is done. Every fault is healed
// before run returns, even when ctx ends in the middle of one.
func (n *nemesis) run(ctx context.Context, max int) error {
	for len(n.faults) < max {
		if !sleepCtx(ctx, n.between(n.gapMin, n.gapMax)) {
			return nil
		}
		if err := n.reviveExited(); err != nil {
			return err
		}
		kind := n.kinds[n.rng.Intn(len(n.kinds))]
		node := 1 + n.rng.Intn(len(n.c.node))
		hold := n.between(n.holdMin, n.holdMax)
		part := int32(n.rng.Intn(1 << 16))
		f := fault{Kind: kind, Node: node}
		if kind == "loss" {
			f.Node = 0 // every node
		}
		if kind == "kill-leader" {
			st, err := describeTopic(ctx, n.adm, n.topic)
			if err == nil && len(st) > 0 {
				p := st[part%int32(len(st))]
				if p.leader > 0 {
					f.Node = int(p.leader)
					f.Note = fmt.Sprintf("leader of partition %d", part%int32(len(st)))
				}
			}
			if f.Note == "" {
				f.Note = "no leader known; random node"
			}
		}
		if kind == "kill-controller" {
			if id, err := n.activeController(ctx); err == nil {
				f.Node = int(id)
				f.Note = "active controller (raft leader)"
			} else {
				f.Note = fmt.Sprintf("no active controller known (%v); random node", err)
			}
		}
		f.Start = time.Now()
		n.logf("fault start #%d %s node=%d hold=%s %s", len(n.faults)+1, f.Kind, f.Node, hold.Round(time.Millisecond), f.Note)
		if err := n.inject(ctx, &f, hold); err != nil {
			return fmt.Errorf("fault %s on node %d: %w", f.Kind, f.Node, err)
		}
		f.End = time.Now()
		n.logf("fault end   #%d %s node=%d took=%s", len(n.faults)+1, f.Kind, f.Node, f.End.Sub(f.Start).Round(time.Millisecond))
		n.faults = append(n.faults, f)
		n.injected.Add(1)
	}
	return nil
}

// reviveExited restarts every node whose process exited by itself, and
// records it with the last lines of its log.
func (n *nemesis) reviveExited() error {
	for i := 1; i <= len(n.c.node); i++ {
		if n.c.running(i) {
			continue
		}
		nd := n.c.node[i-1]
		last := tail(nd.logPath, 3)
		if len(last) > 600 {
			last = last[len(last)-600:]
		}
		msg := fmt.Sprintf("node %d exited by itself before fault #%d (after %s); log tail: %s", i, len(n.faults)+1, n.lastFault(), last)
		n.logf("%s", msg)
		n.exits = append(n.exits, msg)
		n.c.mu.Lock()
		nd.cmd = nil
		n.c.mu.Unlock()
		if err := n.c.start(i); err != nil {
			return err
		}
	}
	return nil
}

func (n *nemesis) lastFault() string {
	if len(n.faults) == 0 {
		return "no fault"
	}
	f := n.faults[len(n.faults)-1]
	return fmt.Sprintf("%s on node %d", f.Kind, f.Node)
}

// activeController asks the cluster for the leader of the metadata quorum
// (DescribeQuorum on __cluster_metadata-0, forwarded by any broker).
func (n *nemesis) activeController(ctx context.Context) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	p := kmsg.NewDescribeQuorumRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, n.cl)
	if err != nil {
		return -1, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, fmt.Errorf("DescribeQuorum: no answer for __cluster_metadata-0")
	}
	rp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		return -1, err
	}
	if rp.LeaderID < 1 || int(rp.LeaderID) > len(n.c.node) {
		return -1, fmt.Errorf("DescribeQuorum: leader %d", rp.LeaderID)
	}
	return rp.LeaderID, nil
}

// inject applies f for hold, then heals it. The heal uses a fresh context
// so that an interrupted run still restarts and reconnects its node.
func (n *nemesis) inject(ctx context.Context, f *fault, hold time.Duration) error {
	nw := n.c.nw
	switch f.Kind {
	case "kill", "kill-leader", "kill-controller":
		if err := n.c.signal(f.Node, syscall.SIGKILL); err != nil {
			return err
		}
		sleepCtx(ctx, hold)
		return n.c.start(f.Node)
	case "rolling":
		return n.rollingRestart(ctx, f)
	case "pause":
		if err := n.c.signal(f.Node, syscall.SIGSTOP); err != nil {
			return err
		}
		sleepCtx(ctx, hold)
		return n.c.signal(f.Node, syscall.SIGCONT)
	case "partition":
		if err := nw.isolate(f.Node); err != nil {
			return err
		}
		sleepCtx(ctx, hold)
		return nw.heal(f.Node)
	case "split":
		minority, majority := splitSides(n.rng, len(n.c.node), f.Node)
		f.Note = fmt.Sprintf("minority %v | majority %v", minority, majority)
		n.logf("  split %s", f.Note)
		for _, i := range minority {
			if err := nw.cut(i, majority); err != nil {
				return err
			}
		}
		for _, i := range majority {
			if err := nw.cut(i, minority); err != nil {
				return err
			}
		}
		sleepCtx(ctx, hold)
		for j := 1; j <= len(n.c.node); j++ {
			if err := nw.heal(j); err != nil {
				return err
			}
		}
		return nil
	case "oneway":
		dir := []string{"in", "out"}[n.rng.Intn(2)]
		p := 1.0
		if n.rng.Intn(2) == 0 {
			p = 0.3 + 0.6*n.rng.Float64()
		}
		f.Note = fmt.Sprintf("drop %s p=%.2f", dir, p)
		n.logf("  oneway %s", f.Note)
		if err := nw.oneWay(f.Node, dir, p); err != nil {
			return err
		}
		sleepCtx(ctx, hold)
		return nw.heal(f.Node)
	case "delay":
		if n.proxy == nil {
			return fmt.Errorf("delay needs -proxy")
		}
		base := time.Duration(20+n.rng.Intn(480)) * time.Millisecond
		d := delaySpec{base: base, jitter: time.Duration(n.rng.Int63n(int64(base) + 1))}
		f.Note = fmt.Sprintf("every connection to or from the node delayed %s + up to %s", d.base, d.jitter.Round(time.Millisecond))
		n.logf("  delay %s", f.Note)
		n.proxy.set(f.Node, d)
		sleepCtx(ctx, hold)
		n.proxy.set(f.Node, delaySpec{})
		return nil
	case "disk-full":
		if n.disks == nil {
			return fmt.Errorf("disk-full needs -disks")
		}
		filled, err := n.disks.fill(f.Node)
		if err != nil {
			return err
		}
		f.Note = fmt.Sprintf("filled %d MiB", filled>>20)
		n.logf("  disk-full %s", f.Note)
		sleepCtx(ctx, hold)
		return n.disks.free(f.Node)
	case "power-loss":
		if n.disks == nil {
			return fmt.Errorf("power-loss needs -disks")
		}
		if err := n.c.signal(f.Node, syscall.SIGKILL); err != nil {
			return err
		}
		if err := n.disks.powerLoss(f.Node); err != nil {
			return err
		}
		sleepCtx(ctx, hold)
		return n.c.start(f.Node)
	case "loss":
		p := 0.05 + 0.25*n.rng.Float64()
		f.Note = fmt.Sprintf("p=%.2f on every node", p)
		n.logf("  loss %s", f.Note)
		for i := 1; i <= len(n.c.node); i++ {
			if err := nw.loss(i, p); err != nil {
				return err
			}
		}
		sleepCtx(ctx, hold)
		for i := 1; i <= len(n.c.node); i++ {
			if err := nw.heal(i); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown fault %q", f.Kind)
}

// splitSides chooses a majority/minority split of nodes 1..n: a minority of
// (n-1)/2 nodes (1 of 3, 2 of 5) that holds node, the rest the majority.
func splitSides(rng *rand.Rand, n, node int) (minority, majority []int) {
	minority = []int{node}
	for _, j := range rng.Perm(n) {
		if len(minority) == (n-1)/2 {
			break
		}
		if j+1 != node {
			minority = append(minority, j+1)
		}
	}
	for j := 1; j <= n; j++ {
		if !slices.Contains(minority, j) {
			majority = append(majority, j)
		}
	}
	return minority, majority
}

// rollingRestart is a clean rolling restart under load, as an operator
// upgrades a cluster: starting at f.Node, each node in turn gets SIGTERM
// (a controlled shutdown: leadership moves away first), is started again
// once it exited, and the next one goes only when this one is back: it
// answers Metadata listing every broker and every partition of every topic
// has its full ISR again. A node that takes longer than stopLimit to exit
// is killed, and one that does not catch up within syncLimit stops the
// restart (both noted in f.Note: the fault is a failure to restart cleanly
// then, not only a restart).
func (n *nemesis) rollingRestart(ctx context.Context, f *fault) error {
	const stopLimit, syncLimit = 60 * time.Second, 90 * time.Second
	count := len(n.c.node)
	var notes []string
	for k := 0; k < count; k++ {
		i := 1 + (f.Node-1+k)%count
		began := time.Now()
		exited, err := n.c.terminate(i, stopLimit)
		if err != nil {
			return err
		}
		stopped := time.Since(began)
		if !exited {
			notes = append(notes, fmt.Sprintf("node %d did not exit within %s of SIGTERM (killed)", i, stopLimit))
		}
		if err := n.c.start(i); err != nil {
			return err
		}
		// A fresh context: the restart completes even when the run's
		// time is up in the middle of it.
		wctx, cancel := context.WithTimeout(context.Background(), syncLimit)
		err = waitFor(wctx, syncLimit, fmt.Sprintf("node %d back with a full ISR", i), func() bool {
			if !n.c.brokersUp(wctx, i) {
				return false
			}
			// Every broker asked alone, so that one that has not
			// applied the latest ISR changes cannot pass it early.
			for j := 1; j <= count; j++ {
				if !fullISRAt(wctx, n.cl, j) {
					return false
				}
			}
			return true
		})
		cancel()
		n.logf("  rolling: node %d stopped in %s, back in sync %s after SIGTERM", i, stopped.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		if err != nil {
			lag, _ := underReplicated(context.Background(), n.adm)
			notes = append(notes, fmt.Sprintf("node %d: %v; %d partitions without a full ISR: %s", i, err, len(lag), strings.Join(lag[:min(len(lag), 5)], "; ")))
			break
		}
	}
	f.Note = "every node in turn from this one"
	if len(notes) > 0 {
		f.Note += "; " + strings.Join(notes, "; ")
		n.logf("  rolling: %s", strings.Join(notes, "; "))
	}
	return nil
}

// fullISRAt reports whether broker node, asked alone, knows every partition
// of every topic (internal ones included) with a leader and its whole
// replica set in the ISR.
func fullISRAt(ctx context.Context, cl *kgo.Client, node int) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest() // no topics named: all of them
	resp, err := req.RequestWith(ctx, cl.Broker(node))
	if err != nil || len(resp.Topics) == 0 {
		return false
	}
	for _, t := range resp.Topics {
		if t.ErrorCode != 0 {
			return false
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 || !sameMembers(p.ISR, p.Replicas) {
				return false
			}
		}
	}
	return true
}
