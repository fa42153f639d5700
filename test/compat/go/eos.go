package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzEOSRebalance is eos-rebalance-VARIANT for franz-go: the transactional ETL of
// java/Compat.java's eosRebalance with kgo.GroupTransactSession, one transactional id per
// member. 600 records are fed to a 6-partition topic over about 6 s while members join, leave
// and restart; each member moves what it polls to TOPIC-out, one transaction per poll, and a
// session whose partitions are revoked mid-transaction aborts it (GroupTransactSession's
// rule). variant: "eager" (classic, range), "cooperative" (classic, cooperative-sticky, static
// members) or "consumer" (KIP-848 server-side balancer). An End error fails the scenario;
// at the end the group's offsets must be at the end of the input and a read_committed reader
// must see every input record exactly once.
func franzEOSRebalance(ctx context.Context, topic, variant string) error {
	const n, parts = 600, 6
	in, out, group := topic, topic+"-out", topic+"-g"
	adm, kadmc, err := franzAdmin()
	if err != nil {
		return err
	}
	defer adm.Close()
	for t, p := range map[string]int32{in: parts, out: 3} {
		if r, err := kadmc.CreateTopic(ctx, p, replicationFactor(), nil, t); err != nil || r.Err != nil {
			return fmt.Errorf("create %s: %w", t, errors.Join(err, r.Err))
		}
	}

	feedErr := make(chan error, 1)
	go func() { // 100 records a second, so the work spans the membership changes
		p, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			feedErr <- err
			return
		}
		defer p.Close()
		for i := 0; i < n; i += 10 {
			var rs []*kgo.Record
			for j := i; j < i+10; j++ {
				rs = append(rs, &kgo.Record{Topic: in, Partition: int32(j % parts), Key: []byte(strconv.Itoa(j)), Value: []byte("in-" + strconv.Itoa(j))})
			}
			if err := p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				feedErr <- err
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		feedErr <- nil
	}()

	var moved atomic.Int64 // records of transactions a member saw commit
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	member := func(ctx context.Context, idx int) error {
		opts := []kgo.Opt{kgo.SeedBrokers(brokers()...), kgo.TransactionalID(fmt.Sprintf("%s-tx-%d", topic, idx)),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic(out),
			kgo.TransactionTimeout(10 * time.Second), kgo.ClientID(fmt.Sprintf("%s-member-%d", topic, idx))}
		switch variant {
		case "eager":
			opts = append(opts, kgo.Balancers(kgo.RangeBalancer()), kgo.SessionTimeout(10*time.Second))
		case "cooperative":
			opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.SessionTimeout(10*time.Second),
				kgo.InstanceID(fmt.Sprintf("%s-member-%d", topic, idx)))
		case "consumer":
			opts = append(opts, kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer())
		}
		sess, err := kgo.NewGroupTransactSession(opts...)
		if err != nil {
			return err
		}
		defer sess.Close()
		for ctx.Err() == nil {
			fs := sess.PollRecords(ctx, 20)
			if fs.NumRecords() == 0 {
				continue
			}
			if err := sess.Begin(); err != nil {
				return fmt.Errorf("member %d: begin: %w", idx, err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: []byte(strings.ToUpper(string(r.Value)))}, nil)
			})
			committed, err := sess.End(ctx, kgo.TryCommit)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("member %d: end: %w", idx, err)
			}
			if committed {
				moved.Add(int64(fs.NumRecords()))
			}
		}
		return nil
	}
	stops := map[int]context.CancelFunc{}
	start := func(idx int) {
		mctx, stop := context.WithCancel(ctx)
		stops[idx] = stop
		wg.Add(1)
		go func() { defer wg.Done(); errs <- member(mctx, idx) }()
	}
	stop := func(idx int) {
		stops[idx]()
		delete(stops, idx)
	}
	defer func() {
		for _, s := range stops {
			s()
		}
		wg.Wait()
	}()

	// The schedule: (records moved, action); static members restart, as a
	// classic static member's close does not leave the group.
	statics := variant == "cooperative"
	plan := []struct {
		at     int64
		action string
		idx    int
	}{{0, "start", 0}, {0, "start", 1}, {100, "start", 2}, {250, map[bool]string{true: "restart", false: "stop"}[statics], 0},
		{350, "start", 3}, {450, "restart", 1}}
	step, fed := 0, false
	lag := func() int64 {
		ends, err1 := kadmc.ListEndOffsets(ctx, in)
		offs, err2 := kadmc.FetchOffsets(ctx, group)
		if err1 != nil || err2 != nil {
			return -1
		}
		var behind int64
		ends.Each(func(e kadm.ListedOffset) {
			o, ok := offs.Lookup(in, e.Partition)
			if !ok {
				behind += e.Offset
			} else {
				behind += e.Offset - o.At
			}
		})
		return behind
	}
	for {
		select {
		case err := <-errs:
			if err != nil {
				return err
			}
		case err := <-feedErr:
			if err != nil {
				return fmt.Errorf("feed: %w", err)
			}
			fed = true
		case <-ctx.Done():
			return fmt.Errorf("timed out: %d records moved, plan step %d, lag %d", moved.Load(), step, lag())
		case <-time.After(200 * time.Millisecond):
		}
		if step < len(plan) && moved.Load() >= plan[step].at {
			p := plan[step]
			if p.action != "start" {
				stop(p.idx)
			}
			if p.action != "stop" {
				start(p.idx)
			}
			fmt.Printf("%s member %d at %d moved\n", p.action, p.idx, moved.Load())
			step++
			continue
		}
		if step == len(plan) && fed && lag() == 0 {
			break
		}
	}
	for _, s := range stops {
		s()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}

	got, err := franzReadAll(ctx, out, n)
	if err != nil {
		return err
	}
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	var wrong []string
	for i := 0; i < n; i++ {
		v := "IN-" + strconv.Itoa(i)
		if seen[v] != 1 {
			wrong = append(wrong, fmt.Sprintf("%s x%d", v, seen[v]))
		}
		delete(seen, v)
	}
	if len(wrong) > 0 || len(seen) > 0 {
		return fmt.Errorf("not exactly once: %d wrong (%.10v), unexpected %v", len(wrong), wrong, seen)
	}
	fmt.Printf("moved %d records\n", moved.Load())
	return nil
}

// franzReadAll reads every partition of topic read_committed from the start until n records
// arrived, then one more second for extra records.
func franzReadAll(ctx context.Context, topic string, n int) ([]string, error) {
	cl, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []string
	var extra time.Time
	for extra.IsZero() || time.Now().Before(extra) {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return out, fmt.Errorf("read %s: %d of %d records: %w", topic, len(out), n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
		if len(out) >= n && extra.IsZero() {
			extra = time.Now().Add(time.Second)
		}
	}
	return out, nil
}
