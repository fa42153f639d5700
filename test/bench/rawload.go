package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The raw producer: a load generator that is not the bottleneck. It builds
// one v2 record batch per partition before the run (records of recordSize
// bytes, compressed once when asked), and then only copies those batches
// into Produce requests, pipelined over a few connections per broker, with
// nothing per record. With idempotence it patches each batch's base
// sequence and recomputes the batch CRC (CRC-32C over the batch after the
// CRC field, a few GB/s) — the only per-batch work. Its own CPU per MB is
// reported next to the broker's, so a reader can see the broker, not the
// client, set the pace.

// rawProduceVersion is the Produce version sent: flexible, topics by name,
// served by Kafka 3.x/4.x and Spool alike.
const rawProduceVersion = 9

// v2 batch header offsets (Kafka's DefaultRecordBatch).
const (
	batchLengthOff   = 8
	batchCRCOff      = 17
	batchAttrsOff    = 21
	batchProducerOff = 43
	batchEpochOff    = 51
	batchSeqOff      = 53
	batchHeaderLen   = 61
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// RawConfig is a raw-producer run.
type RawConfig struct {
	Bootstrap    string
	Topic        string
	Acks         int // 1 or -1
	Idempotent   bool
	Compression  string
	BatchRecords int // records per batch
	ConnsPerNode int
	Inflight     int // requests in flight per connection (≤ 5 with idempotence)
	Duration     time.Duration
	Warmup       time.Duration
}

// buildBatch encodes n records of recordSize bytes (the load generator's
// payload: half random, half compressible) into a v2 batch with producer id
// pid/epoch (-1: none) and base sequence 0, compressed with codec.
func buildBatch(pay *payload, n int, codec string, pid int64, epoch int16, now time.Time) ([]byte, error) {
	var recs []byte
	var tmp [binary.MaxVarintLen64]byte
	for i := range n {
		bp := pay.value(uint64(i), now)
		v := *bp
		var body []byte
		body = append(body, 0)                                           // attributes
		body = append(body, tmp[:binary.PutVarint(tmp[:], 0)]...)        // timestamp delta
		body = append(body, tmp[:binary.PutVarint(tmp[:], int64(i))]...) // offset delta
		body = append(body, tmp[:binary.PutVarint(tmp[:], -1)]...)       // null key
		body = append(body, tmp[:binary.PutVarint(tmp[:], int64(len(v)))]...)
		body = append(body, v...)
		body = append(body, tmp[:binary.PutVarint(tmp[:], 0)]...) // no headers
		recs = append(recs, tmp[:binary.PutVarint(tmp[:], int64(len(body)))]...)
		recs = append(recs, body...)
		pay.pool.Put(bp)
	}
	var attrs int16
	switch codec {
	case "", "none":
	case "lz4":
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(recs); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		recs, attrs = buf.Bytes(), 3
	case "zstd":
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			return nil, err
		}
		recs, attrs = enc.EncodeAll(recs, nil), 4
		_ = enc.Close()
	default:
		return nil, fmt.Errorf("raw producer: compression %q (none, lz4, zstd)", codec)
	}
	ts := now.UnixMilli()
	b := make([]byte, batchHeaderLen, batchHeaderLen+len(recs))
	binary.BigEndian.PutUint64(b[0:], 0) // base offset
	binary.BigEndian.PutUint32(b[batchLengthOff:], uint32(batchHeaderLen-12+len(recs)))
	binary.BigEndian.PutUint32(b[12:], 0xffffffff) // partition leader epoch -1
	b[16] = 2                                      // magic
	binary.BigEndian.PutUint16(b[batchAttrsOff:], uint16(attrs))
	binary.BigEndian.PutUint32(b[23:], uint32(n-1)) // last offset delta
	binary.BigEndian.PutUint64(b[27:], uint64(ts))  // base timestamp
	binary.BigEndian.PutUint64(b[35:], uint64(ts))  // max timestamp
	binary.BigEndian.PutUint64(b[batchProducerOff:], uint64(pid))
	binary.BigEndian.PutUint16(b[batchEpochOff:], uint16(epoch))
	binary.BigEndian.PutUint32(b[batchSeqOff:], uint32(0xffffffff)) // no sequence
	if pid >= 0 {
		binary.BigEndian.PutUint32(b[batchSeqOff:], 0)
	}
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[batchCRCOff:], crc32.Checksum(b[batchAttrsOff:], castagnoli))
	return b, nil
}

// setSequence sets a batch's base sequence and its CRC.
func setSequence(b []byte, seq int32) {
	binary.BigEndian.PutUint32(b[batchSeqOff:], uint32(seq))
	binary.BigEndian.PutUint32(b[batchCRCOff:], crc32.Checksum(b[batchAttrsOff:], castagnoli))
}

// rawPartition is one partition a connection writes, with its own batch
// (its sequence patched in place) and next sequence.
type rawPartition struct {
	id    int32
	batch []byte
	seq   int32
}

// rawConn is one connection's pipeline.
type rawConn struct {
	addr  string
	parts []*rawPartition
}

// RunRawLoad produces as fast as the brokers take it for c.Duration after
// c.Warmup, and reports like RunLoad (latency per request, from send to
// response).
func RunRawLoad(ctx context.Context, c RawConfig) (LoadResult, error) {
	var res LoadResult
	if c.BatchRecords <= 0 {
		c.BatchRecords = 16
	}
	if c.ConnsPerNode <= 0 {
		c.ConnsPerNode = 2
	}
	if c.Inflight <= 0 {
		c.Inflight = 5
	}
	if c.Idempotent {
		c.Acks = -1
		c.Inflight = min(c.Inflight, 5) // Kafka keeps five batches per partition for duplicate detection
	}
	if c.Acks == 0 {
		return res, errors.New("raw producer: acks=0 has no responses to measure; use 1 or all")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap))
	if err != nil {
		return res, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, c.Topic)
	if err != nil {
		return res, err
	}
	td, ok := md.Topics[c.Topic]
	if !ok || td.Err != nil {
		return res, fmt.Errorf("raw producer: topic %s: %v", c.Topic, td.Err)
	}
	pid, epoch := int64(-1), int16(-1)
	if c.Idempotent {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionTimeoutMillis = -1
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return res, fmt.Errorf("InitProducerId: %w", err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return res, fmt.Errorf("InitProducerId: %w", err)
		}
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
	}
	template, err := buildBatch(newPayload(), c.BatchRecords, c.Compression, pid, epoch, time.Now())
	if err != nil {
		return res, err
	}
	// Partitions by leader, split round-robin over each leader's
	// connections.
	byLeader := map[int32][]int32{}
	for _, p := range td.Partitions.Sorted() {
		if p.Leader < 0 {
			return res, fmt.Errorf("raw producer: %s-%d has no leader", c.Topic, p.Partition)
		}
		byLeader[p.Leader] = append(byLeader[p.Leader], p.Partition)
	}
	var conns []*rawConn
	leaders := make([]int32, 0, len(byLeader))
	for l := range byLeader {
		leaders = append(leaders, l)
	}
	sort.Slice(leaders, func(i, j int) bool { return leaders[i] < leaders[j] })
	for _, l := range leaders {
		addr := ""
		for _, b := range md.Brokers {
			if b.NodeID == l {
				addr = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
			}
		}
		if addr == "" {
			return res, fmt.Errorf("raw producer: leader %d is not in the metadata", l)
		}
		n := min(c.ConnsPerNode, len(byLeader[l]))
		group := make([]*rawConn, n)
		for i := range group {
			group[i] = &rawConn{addr: addr}
		}
		for i, p := range byLeader[l] {
			rc := group[i%n]
			rc.parts = append(rc.parts, &rawPartition{id: p, batch: bytes.Clone(template)})
		}
		conns = append(conns, group...)
	}

	var hist Histogram
	var measured, errCount, total atomic.Uint64
	var firstErr atomic.Value
	var lastAck atomic.Int64
	start := time.Now()
	measureFrom := start.Add(c.Warmup)
	end := measureFrom.Add(c.Duration)
	runCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	fail := func(err error) {
		if errCount.Add(1) == 1 {
			firstErr.Store(err.Error())
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, rc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rc.run(runCtx, c, func(sent time.Time, records int, perr error) {
				now := time.Now()
				if perr != nil {
					fail(perr)
					return
				}
				total.Add(uint64(records))
				if !sent.Before(measureFrom) && sent.Before(end) {
					hist.Record(now.Sub(sent))
					measured.Add(uint64(records))
					lastAck.Store(now.UnixNano())
				}
			}); err != nil && runCtx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", rc.addr, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	res.Records = measured.Load()
	res.TotalRecords = total.Load()
	res.Errors = errCount.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	window := c.Duration.Seconds()
	if lastAck.Load() > 0 {
		window = time.Unix(0, lastAck.Load()).Sub(measureFrom).Seconds()
	}
	res.RecordsPerS = float64(res.Records) / window
	res.MBPerS = float64(res.Records) * recordSize / window / 1e6
	res.Produce = hist.Summarize()
	if res.Errors > 0 && res.Records == 0 {
		return res, fmt.Errorf("every produce failed: %s", res.FirstError)
	}
	return res, nil
}

// prime writes one batch to each partition, one request at a time,
// retrying the partitions whose leader is not ready yet (a broker may
// answer NOT_LEADER_OR_FOLLOWER for a moment after a topic is created,
// before the pipeline starts: an idempotent pipeline cannot retry a batch
// once later ones are in flight).
func (rc *rawConn) prime(ctx context.Context, nc net.Conn, c RawConfig) error {
	fmtr := kmsg.NewRequestFormatter(kmsg.FormatterClientID("spool-bench-raw"))
	todo := rc.parts
	var lastErr error
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt == 100 {
			return fmt.Errorf("%d partitions still refuse the first batch: %w", len(todo), lastErr)
		}
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = rawProduceVersion, int16(c.Acks), 30000
		t := kmsg.NewProduceRequestTopic()
		t.Topic = c.Topic
		byID := map[int32]*rawPartition{}
		for _, p := range todo {
			if c.Idempotent {
				setSequence(p.batch, p.seq)
			}
			t.Partitions = append(t.Partitions, kmsg.ProduceRequestTopicPartition{Partition: p.id, Records: bytes.Clone(p.batch)})
			byID[p.id] = p
		}
		req.Topics = []kmsg.ProduceRequestTopic{t}
		if _, err := nc.Write(fmtr.AppendRequest(nil, req, int32(-1-attempt))); err != nil {
			return err
		}
		resp, err := readProduceResponse(bufio.NewReader(nc), int32(-1-attempt))
		if err != nil {
			return err
		}
		todo = todo[:0:0]
		for _, rt := range resp.Topics {
			for _, pr := range rt.Partitions {
				p := byID[pr.Partition]
				switch err := kerr.ErrorForCode(pr.ErrorCode); {
				case err == nil:
					if c.Idempotent {
						p.seq = int32((int64(p.seq) + int64(c.BatchRecords)) % (1 << 31))
					}
				case kerr.IsRetriable(err):
					todo, lastErr = append(todo, p), err
				default:
					return fmt.Errorf("partition %d: %w", pr.Partition, err)
				}
			}
		}
	}
	return nil
}

// readProduceResponse reads one Produce response of correlation id corr.
func readProduceResponse(br *bufio.Reader, corr int32) (*kmsg.ProduceResponse, error) {
	var size [4]byte
	if _, err := io.ReadFull(br, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, err
	}
	return decodeProduceResponse(buf, corr)
}

// decodeProduceResponse decodes a Produce response frame (after its size).
func decodeProduceResponse(buf []byte, corr int32) (*kmsg.ProduceResponse, error) {
	if len(buf) < 5 || int32(binary.BigEndian.Uint32(buf)) != corr {
		return nil, fmt.Errorf("response out of order: want correlation id %d", corr)
	}
	body := buf[4:]
	// The flexible response header's tagged fields: a count, then (tag,
	// size, bytes) each.
	tags, k := binary.Uvarint(body)
	body = body[k:]
	for range tags {
		_, k1 := binary.Uvarint(body)
		sz, k2 := binary.Uvarint(body[k1:])
		if k1 <= 0 || k2 <= 0 || k1+k2+int(sz) > len(body) {
			return nil, errors.New("bad tagged field in the response header")
		}
		body = body[k1+k2+int(sz):]
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = rawProduceVersion
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode produce response: %w", err)
	}
	return resp, nil
}

// run writes Produce requests on one connection, at most c.Inflight
// unanswered, until ctx ends; done is called per partition answered.
func (rc *rawConn) run(ctx context.Context, c RawConfig, done func(sent time.Time, records int, err error)) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", rc.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	if err := rc.prime(ctx, nc, c); err != nil {
		return err
	}

	type pending struct {
		corr int32
		sent time.Time
	}
	// slots bounds the unanswered requests; queue carries each one's
	// correlation id and send time to the reader.
	slots := make(chan struct{}, c.Inflight)
	queue := make(chan pending, c.Inflight)
	readErr := make(chan error, 1)
	go func() { // the reader: responses come back in request order
		br := bufio.NewReaderSize(nc, 64<<10)
		var buf []byte
		var size [4]byte
		for p := range queue {
			if _, err := io.ReadFull(br, size[:]); err != nil {
				readErr <- err
				return
			}
			n := int(binary.BigEndian.Uint32(size[:]))
			if cap(buf) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			if _, err := io.ReadFull(br, buf); err != nil {
				readErr <- err
				return
			}
			resp, err := decodeProduceResponse(buf, p.corr)
			if err != nil {
				readErr <- err
				return
			}
			for _, t := range resp.Topics {
				for _, pr := range t.Partitions {
					done(p.sent, c.BatchRecords, kerr.ErrorForCode(pr.ErrorCode))
					if c.Idempotent && pr.ErrorCode != 0 {
						readErr <- fmt.Errorf("partition %d: %w: an idempotent pipeline cannot continue past a failed batch", pr.Partition, kerr.ErrorForCode(pr.ErrorCode))
						return
					}
				}
			}
			<-slots
		}
		readErr <- nil
	}()

	fmtr := kmsg.NewRequestFormatter(kmsg.FormatterClientID("spool-bench-raw"))
	req := kmsg.NewPtrProduceRequest()
	req.Version = rawProduceVersion
	req.Acks = int16(c.Acks)
	req.TimeoutMillis = 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = c.Topic
	t.Partitions = make([]kmsg.ProduceRequestTopicPartition, len(rc.parts))
	req.Topics = []kmsg.ProduceRequestTopic{t}
	var out []byte
	var corr int32
	for ctx.Err() == nil {
		for i, p := range rc.parts {
			if c.Idempotent {
				setSequence(p.batch, p.seq)
				// Past MaxInt32 the sequence wraps to 0, as Kafka's do.
				p.seq = int32((int64(p.seq) + int64(c.BatchRecords)) % (1 << 31))
			}
			req.Topics[0].Partitions[i] = kmsg.ProduceRequestTopicPartition{Partition: p.id, Records: p.batch}
		}
		corr++
		out = fmtr.AppendRequest(out[:0], req, corr)
		select { // a free slot: at most c.Inflight unanswered
		case slots <- struct{}{}:
		case err := <-readErr:
			close(queue)
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		queue <- pending{corr: corr, sent: time.Now()}
		if _, err := nc.Write(out); err != nil {
			close(queue)
			<-readErr
			return err
		}
		select {
		case err := <-readErr:
			close(queue)
			return err
		default:
		}
	}
	close(queue)
	err = <-readErr
	if ctx.Err() != nil {
		return nil // cut off at the deadline
	}
	return err
}
