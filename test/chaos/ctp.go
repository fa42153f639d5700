package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ctpHistory is what the consume-transform-produce workload did: members of
// one consumer group read the topic under test read_committed and, for each
// transaction, write every record they polled to the output topic and commit
// the polled offsets in that same transaction (a GroupTransactSession:
// AddOffsetsToTxn + TxnOffsetCommit + EndTxn). mu guards every field.
//
// The checker needs no per-transaction bookkeeping: after the run the group's
// committed offsets (read with require_stable) say which input records were
// consumed by committed transactions, and the output topic read
// read_committed must hold each of them exactly once, and nothing else.
type ctpHistory struct {
	mu                          sync.Mutex
	committed, aborted, unknown int // transactions by End's outcome
	records                     int // records written in committed transactions
	errs                        []string
}

func (c *ctpHistory) errf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 50 {
		c.errs = append(c.errs, time.Now().UTC().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	}
}

func (c *ctpHistory) stats() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d transactions committed (%d records), %d aborted, %d unknown", c.committed, c.records, c.aborted, c.unknown)
}

// ctpKey is the output record's key: where its input record was read.
func ctpKey(partition int32, offset int64) string { return fmt.Sprintf("%d@%d", partition, offset) }

func parseCTPKey(k string) (int32, int64, bool) {
	p, o, ok := strings.Cut(k, "@")
	if !ok {
		return 0, 0, false
	}
	pn, err1 := strconv.ParseInt(p, 10, 32)
	on, err2 := strconv.ParseInt(o, 10, 64)
	return int32(pn), on, err1 == nil && err2 == nil
}

// transform runs one member of group until ctx is done: it polls in, writes
// each record to out (key "<partition>@<offset>", the input value, output
// partition = input partition mod outPartitions) and ends the transaction
// with a commit of the polled offsets. A session that cannot go on (End
// returned an error: the transactional ID is fenced or in a failed state)
// is closed and a new one with the same transactional ID takes over.
func transform(ctx context.Context, seeds []string, in, out, group string, outPartitions, member int, c *ctpHistory) {
	newSession := func() (*kgo.GroupTransactSession, error) {
		return kgo.NewGroupTransactSession(kgo.SeedBrokers(seeds...),
			kgo.TransactionalID(fmt.Sprintf("chaos-ctp-%d", member)), kgo.TransactionTimeout(10*time.Second),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6*time.Second),
			kgo.HeartbeatInterval(time.Second), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.DefaultProduceTopic(out), kgo.DialTimeout(2*time.Second), kgo.RequestTimeoutOverhead(5*time.Second),
			kgo.RecordDeliveryTimeout(20*time.Second), kgo.FetchMaxWait(500*time.Millisecond), kgo.FetchMaxBytes(256<<10))
	}
	var s *kgo.GroupTransactSession
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	for ctx.Err() == nil {
		if s == nil {
			var err error
			if s, err = newSession(); err != nil {
				s = nil
				c.errf("member %d: session: %v", member, err)
				sleepCtx(ctx, time.Second)
				continue
			}
		}
		fs := s.PollRecords(ctx, 500)
		if ctx.Err() != nil {
			return
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, &kgo.Record{Key: []byte(ctpKey(r.Partition, r.Offset)), Value: r.Value, Partition: r.Partition % int32(outPartitions)})
		})
		if len(recs) == 0 {
			continue
		}
		if err := s.Begin(); err != nil {
			c.errf("member %d: begin: %v; new session", member, err)
			s.Close()
			s = nil
			continue
		}
		tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var perr error
		var mu sync.Mutex
		for _, r := range recs {
			s.Produce(tctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					perr = errors.Join(perr, err)
					mu.Unlock()
				}
			})
		}
		// End flushes first; a produce error makes it an abort.
		if err := s.Client().Flush(tctx); err != nil {
			perr = errors.Join(perr, err)
		}
		end := kgo.TryCommit
		mu.Lock()
		if perr != nil {
			end = kgo.TryAbort
		}
		mu.Unlock()
		committed, err := s.End(tctx, end)
		cancel()
		c.mu.Lock()
		switch {
		case err != nil:
			c.unknown++
		case committed:
			c.committed++
			c.records += len(recs)
		default:
			c.aborted++
		}
		c.mu.Unlock()
		if err != nil {
			c.errf("member %d: end (produce err %v): %v; new session", member, perr, err)
			s.Close()
			s = nil
		}
	}
}

// ctpCommitted reads group's committed offsets for topic with require_stable
// (an OffsetFetch waits out, as UNSTABLE_OFFSET_COMMIT, any transaction whose
// offsets are still pending).
func ctpCommitted(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resp, err := adm.FetchOffsetsForTopics(kadm.RequireStable(ctx), group, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// checkCTP checks the output topic (read read_committed, output) against the
// input topic (read in full, input) and the group's committed offsets:
// every input record below its partition's committed offset is in the output
// exactly once, with its value, and no output record comes from an input
// offset at or beyond the committed one (output visible without its offsets
// committed: the transaction was not atomic).
func checkCTP(input map[int32][]*kgo.Record, output map[int32][]*kgo.Record, committed map[int32]int64) (stats string, violations []string) {
	type at struct {
		p   int32
		off int64
	}
	inVal := map[at]string{}
	for p, rs := range input {
		for _, r := range rs {
			inVal[at{p, r.Offset}] = string(r.Value)
		}
	}
	count := map[at]int{}
	outN := 0
	for _, rs := range output {
		for _, r := range rs {
			outN++
			p, off, ok := parseCTPKey(string(r.Key))
			if !ok {
				violations = append(violations, fmt.Sprintf("output record with key %q value %q: not from the transform", r.Key, r.Value))
				continue
			}
			k := at{p, off}
			count[k]++
			if v, ok := inVal[k]; ok && v != string(r.Value) {
				violations = append(violations, fmt.Sprintf("output of input p%d@%d holds %q, the input holds %q", p, off, r.Value, v))
			}
			if off >= committed[p] {
				violations = append(violations, fmt.Sprintf("output of input p%d@%d visible, but the group's committed offset of p%d is %d", p, off, p, committed[p]))
			}
		}
	}
	var consumed, missing, dup int
	for p, rs := range input {
		for _, r := range rs {
			if r.Offset >= committed[p] {
				continue
			}
			consumed++
			switch n := count[at{p, r.Offset}]; {
			case n == 0:
				missing++
				if missing <= 20 {
					violations = append(violations, fmt.Sprintf("input p%d@%d (%s) consumed by a committed transaction (committed offset %d) but not in the output", p, r.Offset, r.Value, committed[p]))
				}
			case n > 1:
				dup++
				violations = append(violations, fmt.Sprintf("input p%d@%d (%s) in the output %d times", p, r.Offset, r.Value, n))
			}
		}
	}
	if missing > 20 {
		violations = append(violations, fmt.Sprintf("... %d input records missing from the output in all", missing))
	}
	sort.Strings(violations)
	return fmt.Sprintf("%d input records below the committed offsets, %d output records, %d missing, %d duplicated", consumed, outN, missing, dup), violations
}
