package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordSize is the value size of every generated record.
const recordSize = 1024

// LoadConfig is one load-generator scenario.
type LoadConfig struct {
	Bootstrap   string
	Topic       string
	Partitions  int
	Acks        int // 1 or -1 (all)
	Idempotent  bool
	Linger      time.Duration
	BatchBytes  int32 // 0: franz-go's default (1000012)
	Compression string
	Duration    time.Duration // measured window, after Warmup
	Warmup      time.Duration
	Rate        float64 // records/s; 0 = as fast as the broker takes them
	EndToEnd    bool    // also consume and measure now − intended
	// Raw uses the raw producer (rawload.go): pre-built batches of
	// BatchRecords records, unthrottled, no end-to-end measurement.
	Raw          bool
	BatchRecords int
}

// LoadResult is what one scenario measured. Throughput counts records whose
// intended time fell in the measured window.
type LoadResult struct {
	Records     uint64  `json:"records"`
	RecordsPerS float64 `json:"records_per_s"`
	MBPerS      float64 `json:"mb_per_s"`
	Errors      uint64  `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Produce     Summary `json:"produce"`
	EndToEnd    Summary `json:"end_to_end"`
	// TotalRecords includes warm-up; the consumer catch-up scenario reads this many.
	TotalRecords uint64 `json:"total_records"`
}

// payload makes values whose first 8 bytes are overwritten with the intended
// send time, then 504 random bytes, then 512 compressible bytes.
type payload struct {
	random []byte // a pool to slice random halves from
	text   []byte
	pool   sync.Pool
}

func newPayload() *payload {
	p := &payload{random: make([]byte, 1<<20)}
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(p.random)
	p.text = []byte(strings.Repeat("spool benchmark record, compressible half. ", 13)[:recordSize/2])
	p.pool.New = func() any { b := make([]byte, recordSize); return &b }
	return p
}

func (p *payload) value(i uint64, intended time.Time) *[]byte {
	bp := p.pool.Get().(*[]byte)
	b := *bp
	off := int(i*4099) % (len(p.random) - recordSize/2)
	copy(b[8:recordSize/2], p.random[off:])
	copy(b[recordSize/2:], p.text)
	binary.BigEndian.PutUint64(b, uint64(intended.UnixNano()))
	return bp
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "none":
		return kgo.NoCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("unknown compression %q", name)
}

func (c LoadConfig) producerOpts() ([]kgo.Opt, error) {
	codec, err := compressionCodec(c.Compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Bootstrap),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(c.Linger),
		kgo.RecordDeliveryTimeout(30 * time.Second),
		kgo.ProduceRequestTimeout(30 * time.Second),
	}
	if c.BatchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(c.BatchBytes))
	}
	switch {
	case c.Idempotent:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case c.Acks == -1:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	return opts, nil
}

// CreateTopic creates topic with n partitions and returns how long it took until
// every partition had a leader in the metadata.
func CreateTopic(ctx context.Context, bootstrap, topic string, n int) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RequestTimeoutOverhead(5*time.Minute))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Creating thousands of partitions can take longer than kadm's default 15 s; a
	// client-side retry would then see TOPIC_ALREADY_EXISTS for our own request, which
	// (names are fresh per run) means it is being created.
	adm.SetTimeoutMillis(int32((5 * time.Minute).Milliseconds()))
	start := time.Now()
	resp, err := adm.CreateTopic(ctx, int32(n), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("create topic %s (%d partitions): %w", topic, n, err)
	}
	if err := waitLeaders(ctx, adm, []string{topic}); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// waitLeaders polls metadata until every partition of topics has a leader.
func waitLeaders(ctx context.Context, adm *kadm.Client, topics []string) error {
	var last error
	for {
		md, err := adm.Metadata(ctx, topics...)
		if err == nil {
			err = md.Topics.Error()
		}
		if err == nil {
			ok := true
			for _, t := range md.Topics {
				if len(t.Partitions) == 0 {
					ok = false
				}
				for _, p := range t.Partitions {
					if p.Leader < 0 || p.Err != nil {
						ok = false
					}
				}
			}
			if ok {
				return nil
			}
			err = errors.New("not every partition has a leader yet")
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leaders of %v: %w (last: %v)", topics, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RunLoad produces (and, with EndToEnd, consumes) according to c. The topic must exist.
func RunLoad(ctx context.Context, c LoadConfig) (LoadResult, error) {
	var res LoadResult
	if c.Raw {
		if c.Rate > 0 || c.EndToEnd {
			return res, errors.New("the raw producer runs unthrottled and measures no end-to-end latency")
		}
		return RunRawLoad(ctx, RawConfig{Bootstrap: c.Bootstrap, Topic: c.Topic, Acks: c.Acks, Idempotent: c.Idempotent,
			Compression: c.Compression, BatchRecords: c.BatchRecords, Duration: c.Duration, Warmup: c.Warmup})
	}
	opts, err := c.producerOpts()
	if err != nil {
		return res, err
	}
	prod, err := kgo.NewClient(opts...)
	if err != nil {
		return res, err
	}
	defer prod.Close()
	// Fail fast and clearly if the broker refuses (for example InitProducerId for idempotence).
	probeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	if err := prod.ProduceSync(probeCtx, &kgo.Record{Value: make([]byte, 8)}).FirstErr(); err != nil {
		cancel()
		return res, fmt.Errorf("first produce (acks=%d idempotent=%v): %w", c.Acks, c.Idempotent, err)
	}
	cancel()

	var produceHist, e2eHist Histogram
	pay := newPayload()
	var wg sync.WaitGroup
	var consumed atomic.Uint64
	var sent atomic.Uint64
	consumerDone := make(chan struct{})
	consCtx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()

	start := time.Now()
	measureFrom := start.Add(c.Warmup)
	end := measureFrom.Add(c.Duration)

	if c.EndToEnd {
		cons, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap), kgo.ConsumeTopics(c.Topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return res, err
		}
		defer cons.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(consumerDone)
			for {
				fs := cons.PollFetches(consCtx)
				if consCtx.Err() != nil {
					return
				}
				now := time.Now()
				fs.EachRecord(func(r *kgo.Record) {
					if len(r.Value) < recordSize {
						return // the probe record
					}
					intended := time.Unix(0, int64(binary.BigEndian.Uint64(r.Value)))
					if !intended.Before(measureFrom) && intended.Before(end) {
						e2eHist.Record(now.Sub(intended))
					}
					consumed.Add(1)
				})
			}
		}()
	} else {
		close(consumerDone)
	}

	var measured, measuredBytes, errCount atomic.Uint64
	var firstErr atomic.Value
	var lastAck atomic.Int64
	produce := func(i uint64, intended time.Time) {
		bp := pay.value(i, intended)
		inWindow := !intended.Before(measureFrom)
		prod.Produce(ctx, &kgo.Record{Value: *bp}, func(r *kgo.Record, err error) {
			now := time.Now()
			pay.pool.Put(bp)
			if err != nil {
				if errCount.Add(1) == 1 {
					firstErr.Store(err.Error())
				}
				return
			}
			if inWindow && intended.Before(end) {
				produceHist.Record(now.Sub(intended))
				measured.Add(1)
				measuredBytes.Add(recordSize)
				lastAck.Store(now.UnixNano())
			}
		})
		sent.Add(1)
	}

	var i uint64
	if c.Rate <= 0 {
		for ctx.Err() == nil {
			now := time.Now()
			if !now.Before(end) {
				break
			}
			produce(i, now)
			i++
		}
	} else {
		// Every tick, send every record whose intended time has passed, stamped with
		// that intended time, however late we are.
		interval := time.Duration(float64(time.Second) / c.Rate)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
	loop:
		for {
			now := time.Now()
			for {
				intended := start.Add(time.Duration(i) * interval)
				if intended.After(now) || !intended.Before(end) {
					break
				}
				produce(i, intended)
				i++
			}
			if !now.Before(end) {
				break
			}
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
			}
		}
	}
	flushCtx, cancelFlush := context.WithTimeout(ctx, 60*time.Second)
	ferr := prod.Flush(flushCtx)
	cancelFlush()
	if ferr != nil {
		return res, fmt.Errorf("flush: %w", ferr)
	}
	if c.EndToEnd {
		// Poll until the consumer has read every acknowledged record, for
		// at most 30 s or until ctx ends.
		drainCtx, cancelDrain := context.WithTimeout(ctx, 30*time.Second)
		poll := time.NewTicker(20 * time.Millisecond)
	drain:
		for consumed.Load() < sent.Load()-errCount.Load() {
			select {
			case <-drainCtx.Done():
				break drain
			case <-poll.C:
			}
		}
		poll.Stop()
		cancelDrain()
	}
	stopConsumer()
	<-consumerDone
	wg.Wait()

	res.TotalRecords = sent.Load() - errCount.Load()
	res.Records = measured.Load()
	res.Errors = errCount.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	window := c.Duration.Seconds()
	if c.Rate <= 0 && lastAck.Load() > 0 {
		// Unthrottled: the window ends when the last in-window record was acknowledged.
		window = time.Unix(0, lastAck.Load()).Sub(measureFrom).Seconds()
	}
	res.RecordsPerS = float64(res.Records) / window
	res.MBPerS = float64(measuredBytes.Load()) / window / 1e6
	res.Produce = produceHist.Summarize()
	res.EndToEnd = e2eHist.Summarize()
	if res.Errors > 0 && res.Records == 0 {
		return res, fmt.Errorf("every produce failed: %s", res.FirstError)
	}
	return res, nil
}

// ConsumeResult is the consumer catch-up throughput.
type ConsumeResult struct {
	Records uint64  `json:"records"`
	MBPerS  float64 `json:"mb_per_s"`
	Seconds float64 `json:"seconds"`
}

// RunConsume reads want records of topic from the start with a fresh consumer,
// as fast as it can, and reports bytes of value per second.
func RunConsume(ctx context.Context, bootstrap, topic string, want uint64, limit time.Duration) (ConsumeResult, error) {
	var res ConsumeResult
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		return res, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var bytes uint64
	start := time.Now()
	for res.Records < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			res.Records++
			bytes += uint64(len(r.Value))
		})
	}
	res.Seconds = time.Since(start).Seconds()
	res.MBPerS = float64(bytes) / res.Seconds / 1e6
	if res.Records < want {
		return res, fmt.Errorf("consumed %d of %d records in %s", res.Records, want, limit)
	}
	return res, nil
}
