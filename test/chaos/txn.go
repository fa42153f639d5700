package main

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txnOutcome is what the transactional producer knows of one transaction.
type txnOutcome int

const (
	txnCommitted txnOutcome = iota // EndTransaction(commit) succeeded
	txnAborted                     // EndTransaction(abort) succeeded
	txnUnknown                     // an error somewhere: all or nothing may be visible
)

// txnHistory records each transaction's records and outcome; mu guards it.
type txnHistory struct {
	mu      sync.Mutex
	records map[string]int        // transaction name -> records produced in it
	outcome map[string]txnOutcome // transaction name -> outcome
	errs    []string
}

func newTxnHistory() *txnHistory {
	return &txnHistory{records: map[string]int{}, outcome: map[string]txnOutcome{}}
}

// summary counts the transactions by outcome so far.
func (th *txnHistory) summary() string {
	th.mu.Lock()
	defer th.mu.Unlock()
	var c, a, u int
	for _, o := range th.outcome {
		switch o {
		case txnCommitted:
			c++
		case txnAborted:
			a++
		default:
			u++
		}
	}
	return fmt.Sprintf("transactions %d committed, %d aborted, %d unknown", c, a, u)
}

// produceTxns runs one transactional producer until ctx is done. Each
// transaction writes 2-6 records "x<id>.<n>-<i>" over the partitions and
// then commits, or (one in four, chosen by a workload source seeded from
// seed) aborts. After an error the transaction is aborted if possible and
// counted unknown; if the client cannot go on, a new client with the same
// transactional.id fences the old one.
func produceTxns(ctx context.Context, seeds []string, topic string, id int, seed int64, th *txnHistory) {
	rng := rand.New(rand.NewSource(seed + int64(id)))
	newClient := func() (*kgo.Client, error) {
		return kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
			kgo.TransactionalID(fmt.Sprintf("chaos-txn-%d", id)), kgo.TransactionTimeout(10*time.Second),
			kgo.RecordDeliveryTimeout(20*time.Second), kgo.DialTimeout(2*time.Second),
			kgo.RequestTimeoutOverhead(5*time.Second))
	}
	note := func(format string, args ...any) {
		th.mu.Lock()
		defer th.mu.Unlock()
		if len(th.errs) < 50 {
			th.errs = append(th.errs, time.Now().UTC().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
		}
	}
	cl, err := newClient()
	if err != nil {
		note("client: %v", err)
		return
	}
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for n := 0; ctx.Err() == nil; n++ {
		name := fmt.Sprintf("x%d.%d", id, n)
		k := 2 + rng.Intn(5)
		commit := rng.Intn(4) != 0
		th.mu.Lock()
		th.records[name] = k
		th.outcome[name] = txnUnknown
		th.mu.Unlock()
		tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cl.BeginTransaction()
		if err == nil {
			recs := make([]*kgo.Record, k)
			for i := range recs {
				recs[i] = &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", name, i)}
			}
			err = cl.ProduceSync(tctx, recs...).FirstErr()
		}
		var end kgo.TransactionEndTry = kgo.TryCommit
		if err != nil || !commit {
			end = kgo.TryAbort
			if err != nil {
				_ = cl.AbortBufferedRecords(tctx)
			}
		}
		endErr := cl.EndTransaction(tctx, end)
		cancel()
		switch {
		case err == nil && endErr == nil:
			th.mu.Lock()
			if end == kgo.TryCommit {
				th.outcome[name] = txnCommitted
			} else {
				th.outcome[name] = txnAborted
			}
			th.mu.Unlock()
			continue
		case err != nil && endErr == nil:
			// Aborted after a produce error: nothing may be visible.
			th.mu.Lock()
			th.outcome[name] = txnAborted
			th.mu.Unlock()
			note("%s: produce: %v (aborted)", name, err)
			continue
		}
		note("%s: produce err=%v end(%v) err=%v; new client", name, err, end == kgo.TryCommit, endErr)
		cl.Close()
		cl = nil
		for cl == nil {
			if ctx.Err() != nil {
				return
			}
			if cl, err = newClient(); err != nil {
				cl = nil
				sleepCtx(ctx, time.Second)
			}
		}
	}
}

// checkTxns reads the topic read_committed (every partition, start to end)
// and reports aborted reads, committed transactions lost or partially
// visible, and unknown ones partially visible.
func checkTxns(th *txnHistory, final map[int32][]*kgo.Record) (stats string, violations []string) {
	seen := map[string]map[string]int{} // txn -> value -> times read
	for _, rs := range final {
		for _, r := range rs {
			v := string(r.Value)
			i := strings.LastIndexByte(v, '-')
			if i < 0 {
				violations = append(violations, fmt.Sprintf("unknown value %q", v))
				continue
			}
			if _, err := strconv.Atoi(v[i+1:]); err != nil {
				violations = append(violations, fmt.Sprintf("unknown value %q", v))
				continue
			}
			name := v[:i]
			if seen[name] == nil {
				seen[name] = map[string]int{}
			}
			seen[name][v]++
		}
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	var committed, aborted, unknown, unknownVisible int
	for name, out := range th.outcome {
		vis := seen[name]
		k := th.records[name]
		for v, c := range vis {
			if c > 1 {
				violations = append(violations, fmt.Sprintf("%s read %d times", v, c))
			}
		}
		switch out {
		case txnCommitted:
			committed++
			if len(vis) != k {
				violations = append(violations, fmt.Sprintf("committed %s: %d of %d records visible", name, len(vis), k))
			}
		case txnAborted:
			aborted++
			if len(vis) != 0 {
				violations = append(violations, fmt.Sprintf("aborted read: %s: %d of %d records visible", name, len(vis), k))
			}
		case txnUnknown:
			unknown++
			if len(vis) != 0 {
				unknownVisible++
			}
			if len(vis) != 0 && len(vis) != k {
				violations = append(violations, fmt.Sprintf("%s (outcome unknown): %d of %d records visible", name, len(vis), k))
			}
		}
	}
	for name := range seen {
		if _, ok := th.outcome[name]; !ok {
			violations = append(violations, fmt.Sprintf("records of %s, never produced", name))
		}
	}
	sort.Strings(violations)
	return fmt.Sprintf("%d committed, %d aborted, %d unknown (%d of them visible)", committed, aborted, unknown, unknownVisible), violations
}

// readCommitted writes a marker "end-<p>" to every partition with a plain
// producer, then reads the topic read_committed from the start until every
// marker is read: a marker is visible only when every transaction before it
// has been resolved (the last stable offset passed it).
func readCommitted(ctx context.Context, seeds []string, topic string, partitions int) (map[int32][]*kgo.Record, error) {
	pcl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	defer pcl.Close()
	for p := range partitions {
		if err := pcl.ProduceSync(ctx, &kgo.Record{Partition: int32(p), Value: fmt.Appendf(nil, "end-%d", p)}).FirstErr(); err != nil {
			return nil, fmt.Errorf("marker to partition %d: %w", p, err)
		}
	}
	offs := map[int32]kgo.Offset{}
	for p := range partitions {
		offs[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := map[int32][]*kgo.Record{}
	marked := map[int32]bool{}
	for len(marked) < partitions {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("read_committed read incomplete (markers read in %d of %d partitions): %w", len(marked), partitions, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if strings.HasPrefix(string(r.Value), "end-") {
				marked[r.Partition] = true
				return
			}
			out[r.Partition] = append(out[r.Partition], r)
		})
	}
	return out, nil
}
