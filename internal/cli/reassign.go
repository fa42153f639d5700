package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// `spool reassign` moves partition replicas between brokers as
// kafka-reassign-partitions.sh --execute, --verify, --cancel and --list do,
// in one command: it sets the replication throttle if asked (the rates on
// every broker, the moving replicas on the topics), starts the
// reassignments, shows the copy's progress until every one completes, and
// then removes the throttle (what --verify does once done).

// move is one partition's target replicas.
type move struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

func (m move) String() string { return fmt.Sprintf("%s-%d", m.Topic, m.Partition) }

// parseMoves reads TOPIC:PARTITION=B1,B2,... arguments.
func parseMoves(args []string, withReplicas bool) ([]move, error) {
	var out []move
	for _, a := range args {
		tp, reps, hasReps := strings.Cut(a, "=")
		i := strings.LastIndexByte(tp, ':')
		if i <= 0 || hasReps != withReplicas {
			if withReplicas {
				return nil, usageErr(fmt.Errorf("%q: write TOPIC:PARTITION=BROKER,BROKER,... (e.g. orders:0=2,3,4)", a))
			}
			return nil, usageErr(fmt.Errorf("%q: write TOPIC:PARTITION (e.g. orders:0)", a))
		}
		p, err := strconv.ParseInt(tp[i+1:], 10, 32)
		if err != nil || p < 0 {
			return nil, usageErr(fmt.Errorf("%q: the partition must be a number >= 0", a))
		}
		m := move{Topic: tp[:i], Partition: int32(p)}
		if withReplicas {
			for _, b := range strings.Split(reps, ",") {
				id, err := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
				if err != nil {
					return nil, usageErr(fmt.Errorf("%q: broker ids are numbers separated by commas", a))
				}
				m.Replicas = append(m.Replicas, int32(id))
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func runReassign(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "reassign")
	throttle := s.fs.Int64("throttle", 0, "bound the copy to this many bytes/s on every broker (leader and follower side); removed when done")
	noWait := s.fs.Bool("no-wait", false, "start the reassignments and return (run `spool reassign --list` to follow them)")
	cancel := s.fs.Bool("cancel", false, "cancel the reassignments of the TOPIC:PARTITION arguments")
	list := s.fs.Bool("list", false, "list the reassignments in progress")
	waitFor := s.fs.Duration("wait-timeout", 24*time.Hour, "give up waiting for completion after this long")
	pos, cl, _, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	call := func(req protocol.Request) (protocol.Response, error) {
		c, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		return cl.Any(c, req)
	}
	switch {
	case *list:
		return s.exit(listReassignments(e, s.output, call))
	case *cancel:
		moves, err := parseMoves(pos, false)
		if err == nil && len(moves) == 0 {
			err = usageErr(errors.New("name the partitions to cancel: spool reassign --cancel TOPIC:PARTITION [TOPIC:PARTITION ...]"))
		}
		if err != nil {
			return s.exit(err)
		}
		if err := alterReassignments(e, call, moves, "cancelled"); err != nil {
			return s.exit(err)
		}
		return s.exit(setThrottle(call, cl, ctx, s.timeout, moves, nil, 0))
	}
	moves, err := parseMoves(pos, true)
	if err == nil && len(moves) == 0 {
		err = usageErr(errors.New("name the moves: spool reassign TOPIC:PARTITION=BROKER,BROKER,... [--throttle BYTES]"))
	}
	if err != nil {
		return s.exit(err)
	}
	current, err := currentReplicas(ctx, cl, s.timeout, moves)
	if err != nil {
		return s.exit(err)
	}
	if *throttle > 0 {
		if err := setThrottle(call, cl, ctx, s.timeout, moves, current, *throttle); err != nil {
			return s.exit(err)
		}
		fmt.Fprintf(e.Stderr, "replication throttled to %d B/s on every broker for the moving replicas\n", *throttle)
	}
	if err := alterReassignments(e, call, moves, "started"); err != nil {
		return s.exit(err)
	}
	if *noWait {
		return exitOK
	}
	wctx, wcancel := context.WithTimeout(ctx, *waitFor)
	defer wcancel()
	if err := waitReassignments(wctx, e, cl, s.timeout, call, moves, current); err != nil {
		return s.exit(err)
	}
	if *throttle > 0 {
		if err := setThrottle(call, cl, ctx, s.timeout, moves, nil, 0); err != nil {
			return s.exit(fmt.Errorf("reassignment complete, but the throttle could not be removed: %w; remove it with `spool topic alter TOPIC --delete-config leader.replication.throttled.replicas --delete-config follower.replication.throttled.replicas`", err))
		}
		fmt.Fprintln(e.Stderr, "throttle removed")
	}
	if s.output == "json" {
		_ = writeJSON(e.Stdout, moves)
	}
	return exitOK
}

// currentReplicas reads each moving partition's replicas from the metadata.
func currentReplicas(ctx context.Context, cl *Client, timeout time.Duration, moves []move) (map[string][]int32, error) {
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var topics []string
	for _, m := range moves {
		if !slices.Contains(topics, m.Topic) {
			topics = append(topics, m.Topic)
		}
	}
	md, err := cl.Metadata(c, topics)
	if err != nil {
		return nil, err
	}
	out := map[string][]int32{}
	for _, t := range md.Topics {
		if t.Name == nil {
			continue
		}
		if t.ErrorCode != errcode.None {
			return nil, codeErr(t.ErrorCode, nil, fmt.Sprintf("topic %q", *t.Name))
		}
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s-%d", *t.Name, p.PartitionIndex)] = ids(p.ReplicaNodes)
		}
	}
	for _, m := range moves {
		if _, ok := out[m.String()]; !ok {
			return nil, codeErr(errcode.UnknownTopicOrPartition, nil, "partition "+m.String())
		}
	}
	return out, nil
}

// alterReassignments sends AlterPartitionReassignments for moves (nil
// Replicas cancels) and reports each partition.
func alterReassignments(e *Env, call func(protocol.Request) (protocol.Response, error), moves []move, verb string) error {
	req := &protocol.AlterPartitionReassignmentsRequest{TimeoutMs: 30000, AllowReplicationFactorChange: true}
	for _, m := range moves {
		var reps []protocol.BrokerID
		if m.Replicas != nil {
			reps = make([]protocol.BrokerID, len(m.Replicas))
			for i, r := range m.Replicas {
				reps[i] = protocol.BrokerID(r)
			}
		}
		req.Topics = append(req.Topics, protocol.AlterPartitionReassignmentsRequestReassignableTopic{
			Name:       protocol.TopicName(m.Topic),
			Partitions: []protocol.AlterPartitionReassignmentsRequestReassignablePartition{{PartitionIndex: m.Partition, Replicas: reps}},
		})
	}
	resp, err := call(req)
	if err != nil {
		return err
	}
	r := resp.(*protocol.AlterPartitionReassignmentsResponse)
	if err := codeErr(r.ErrorCode, r.ErrorMessage, "reassignment"); err != nil {
		return err
	}
	var errs []error
	for _, t := range r.Responses {
		for _, p := range t.Partitions {
			name := fmt.Sprintf("%s-%d", t.Name, p.PartitionIndex)
			if p.ErrorCode != errcode.None {
				errs = append(errs, codeErr(p.ErrorCode, p.ErrorMessage, "partition "+name))
				continue
			}
			fmt.Fprintf(e.Stdout, "partition %s: reassignment %s\n", name, verb)
		}
	}
	return errors.Join(errs...)
}

// listReassignments prints the reassignments in progress.
func listReassignments(e *Env, output string, call func(protocol.Request) (protocol.Response, error)) error {
	resp, err := call(&protocol.ListPartitionReassignmentsRequest{TimeoutMs: 30000})
	if err != nil {
		return err
	}
	r := resp.(*protocol.ListPartitionReassignmentsResponse)
	if err := codeErr(r.ErrorCode, r.ErrorMessage, "reassignments"); err != nil {
		return err
	}
	type row struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Replicas  []int32 `json:"replicas"`
		Adding    []int32 `json:"adding"`
		Removing  []int32 `json:"removing"`
	}
	rows := []row{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			rows = append(rows, row{string(t.Name), p.PartitionIndex, ids(p.Replicas), ids(p.AddingReplicas), ids(p.RemovingReplicas)})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].Topic < rows[j].Topic || rows[i].Topic == rows[j].Topic && rows[i].Partition < rows[j].Partition
	})
	if output == "json" {
		return writeJSON(e.Stdout, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.Stdout, "no reassignment in progress")
		return nil
	}
	tb := newTable(e.Stdout, "TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING")
	for _, x := range rows {
		tb.row(x.Topic, x.Partition, joinIDs(x.Replicas), joinIDs(x.Adding), joinIDs(x.Removing))
	}
	tb.flush()
	return nil
}

// setThrottle sets (rate > 0) or removes (rate 0) the replication throttle
// as kafka-reassign-partitions.sh does: leader/follower.replication.
// throttled.rate on every broker; on each topic, the current replicas as
// leader-side throttled replicas and the added ones as follower-side.
func setThrottle(call func(protocol.Request) (protocol.Response, error), cl *Client, ctx context.Context, timeout time.Duration,
	moves []move, current map[string][]int32, rate int64) error {
	c, cancel := context.WithTimeout(ctx, timeout)
	md, err := cl.Metadata(c, []string{})
	cancel()
	if err != nil {
		return err
	}
	op, value := int8(0), strconv.FormatInt(rate, 10) // SET
	if rate <= 0 {
		op = 1 // DELETE
	}
	req := &protocol.IncrementalAlterConfigsRequest{}
	for _, b := range md.Brokers {
		req.Resources = append(req.Resources, protocol.IncrementalAlterConfigsRequestAlterConfigsResource{
			ResourceType: 4, ResourceName: strconv.Itoa(int(b.NodeID)),
			Configs: []protocol.IncrementalAlterConfigsRequestAlterableConfig{
				{Name: "leader.replication.throttled.rate", ConfigOperation: op, Value: &value},
				{Name: "follower.replication.throttled.rate", ConfigOperation: op, Value: &value},
			},
		})
	}
	leader, follower := map[string][]string{}, map[string][]string{}
	var topics []string
	for _, m := range moves {
		if !slices.Contains(topics, m.Topic) {
			topics = append(topics, m.Topic)
		}
		cur := current[m.String()]
		for _, r := range cur {
			leader[m.Topic] = append(leader[m.Topic], fmt.Sprintf("%d:%d", m.Partition, r))
		}
		for _, r := range m.Replicas {
			if !slices.Contains(cur, r) {
				follower[m.Topic] = append(follower[m.Topic], fmt.Sprintf("%d:%d", m.Partition, r))
			}
		}
	}
	for _, t := range topics {
		lv, fv := strings.Join(leader[t], ","), strings.Join(follower[t], ",")
		req.Resources = append(req.Resources, protocol.IncrementalAlterConfigsRequestAlterConfigsResource{
			ResourceType: 2, ResourceName: t,
			Configs: []protocol.IncrementalAlterConfigsRequestAlterableConfig{
				{Name: "leader.replication.throttled.replicas", ConfigOperation: op, Value: &lv},
				{Name: "follower.replication.throttled.replicas", ConfigOperation: op, Value: &fv},
			},
		})
	}
	// Broker configs are applied by the broker that owns them.
	var errs []error
	for _, res := range req.Resources {
		one := &protocol.IncrementalAlterConfigsRequest{Resources: []protocol.IncrementalAlterConfigsRequestAlterConfigsResource{res}}
		var resp protocol.Response
		var err error
		if res.ResourceType == 4 {
			id, _ := strconv.Atoi(res.ResourceName)
			c, cancel := context.WithTimeout(ctx, timeout)
			resp, err = cl.Broker(c, protocol.BrokerID(id), one)
			cancel()
		} else {
			resp, err = call(one)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range resp.(*protocol.IncrementalAlterConfigsResponse).Responses {
			errs = append(errs, codeErr(r.ErrorCode, r.ErrorMessage, fmt.Sprintf("config of %s", r.ResourceName)))
		}
	}
	return errors.Join(errs...)
}

// waitReassignments polls until none of moves is in progress, printing the
// copy's progress: the bytes the added replicas hold against the leader's
// log size (DescribeLogDirs on each broker).
func waitReassignments(ctx context.Context, e *Env, cl *Client, timeout time.Duration, call func(protocol.Request) (protocol.Response, error),
	moves []move, current map[string][]int32) error {
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := ""
	var lastTotal int64
	for {
		pending, err := pendingMoves(call, moves)
		if err != nil {
			return err
		}
		done, total := copyProgress(ctx, cl, timeout, moves, current)
		if len(pending) == 0 && lastTotal > total {
			// The removed replicas are gone: report what was copied.
			done, total = lastTotal, lastTotal
		}
		lastTotal = max(lastTotal, total)
		line := progressLine(len(moves)-len(pending), len(moves), done, total, time.Since(start))
		if line != last {
			fmt.Fprintln(e.Stderr, line)
			last = line
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still moving %s after %v: %w; the reassignments go on: follow them with `spool reassign --list`", strings.Join(pending, ", "),
				time.Since(start).Round(time.Second), ctx.Err())
		case <-tick.C:
		}
	}
}

// pendingMoves names the moves still in progress.
func pendingMoves(call func(protocol.Request) (protocol.Response, error), moves []move) ([]string, error) {
	resp, err := call(&protocol.ListPartitionReassignmentsRequest{TimeoutMs: 30000})
	if err != nil {
		return nil, err
	}
	r := resp.(*protocol.ListPartitionReassignmentsResponse)
	if err := codeErr(r.ErrorCode, r.ErrorMessage, "reassignments"); err != nil {
		return nil, err
	}
	var out []string
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			name := fmt.Sprintf("%s-%d", t.Name, p.PartitionIndex)
			if slices.ContainsFunc(moves, func(m move) bool { return m.String() == name }) {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

// copyProgress sums, over the added replicas, the bytes they hold and the
// bytes they must reach (the largest copy among the current replicas).
// Errors leave a partition out: progress is informative.
func copyProgress(ctx context.Context, cl *Client, timeout time.Duration, moves []move, current map[string][]int32) (done, total int64) {
	sizes := map[int32]map[string]int64{} // broker → partition → size
	size := func(b int32, name string) int64 {
		if _, ok := sizes[b]; !ok {
			sizes[b] = map[string]int64{}
			c, cancel := context.WithTimeout(ctx, timeout)
			resp, err := cl.Broker(c, protocol.BrokerID(b), &protocol.DescribeLogDirsRequest{})
			cancel()
			if err == nil {
				for _, d := range resp.(*protocol.DescribeLogDirsResponse).Results {
					for _, t := range d.Topics {
						for _, p := range t.Partitions {
							sizes[b][fmt.Sprintf("%s-%d", t.Name, p.PartitionIndex)] += p.PartitionSize
						}
					}
				}
			}
		}
		return sizes[b][name]
	}
	for _, m := range moves {
		name := m.String()
		var src int64
		for _, r := range current[name] {
			src = max(src, size(r, name))
		}
		for _, r := range m.Replicas {
			if !slices.Contains(current[name], r) {
				total += src
				done += min(size(r, name), src)
			}
		}
	}
	return done, total
}

// progressLine is one line of progress: a bar over the bytes copied.
func progressLine(complete, moves int, done, total int64, took time.Duration) string {
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	if complete == moves {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%%  %s / %s copied, %d/%d partitions done, %v",
		strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, byteSize(done), byteSize(total), complete, moves, took.Round(time.Second))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
