package server

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
}

// consumeAll reads n records from topic with a group-less consumer.
func consumeAll(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d records", len(out), n)
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// TestProduceConsumeEveryCodec sends 100k records with keys and headers to 16
// partitions, a fifth with each codec, and reads them all back, checking
// content and that every partition's offsets run 0, 1, 2, ... without gaps.
func TestProduceConsumeEveryCodec(t *testing.T) {
	n := startTestNode(t)
	const topic, partitions, total = "codecs", 16, 100_000
	createTopic(t, n.addr, topic, partitions, nil)
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	per := total / len(codecs)
	for ci, codec := range codecs {
		cl := newClient(t, n.addr, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for i := 0; i < per; i++ {
			id := ci*per + i
			r := &kgo.Record{
				Key:     []byte("k" + strconv.Itoa(id)),
				Value:   []byte(fmt.Sprintf("value-%d-%d", id, ci)),
				Headers: []kgo.RecordHeader{{Key: "id", Value: []byte(strconv.Itoa(id))}, {Key: "codec", Value: []byte(strconv.Itoa(ci))}},
			}
			wg.Add(1)
			cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.NoError(t, firstErr, "codec %v", codec)
	}

	recs := consumeAll(t, n.addr, topic, total)
	require.Len(t, recs, total)
	seen := make(map[int]bool, total)
	next := map[int32]int64{}
	for _, r := range recs {
		require.Equal(t, next[r.Partition], r.Offset, "partition %d offsets must be contiguous", r.Partition)
		next[r.Partition]++
		require.Len(t, r.Headers, 2)
		id, err := strconv.Atoi(string(r.Headers[0].Value))
		require.NoError(t, err)
		require.False(t, seen[id], "record %d delivered twice", id)
		seen[id] = true
		require.Equal(t, "k"+strconv.Itoa(id), string(r.Key))
		require.Contains(t, string(r.Value), fmt.Sprintf("value-%d-", id))
	}
	require.Len(t, seen, total)
	require.Len(t, next, partitions, "records must spread over every partition")
}

// TestLongPollWakesOnProduce checks that a Fetch waiting for data (MaxWait
// 10 s) answers as soon as a record is appended, not when its wait ends.
func TestLongPollWakesOnProduce(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "poll", 1, nil)
	cl := newClient(t, n.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for attempt := 0; attempt < 3; attempt++ {
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "poll")
		require.NoError(t, err)
		end := ends["poll"][0].Offset

		req := fetchRequest(t, cl, "poll", end, 10_000)
		req.MinBytes = 1

		type result struct {
			at   time.Time
			resp *kmsg.FetchResponse
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := req.RequestWith(ctx, cl)
			done <- result{time.Now(), resp, err}
		}()
		require.Eventually(t, func() bool { // the fetch is parked, watching the partition
			consumers, _ := n.broker.partition("poll", 0).FetchWatchers()
			return consumers == 1
		}, 10*time.Second, 5*time.Millisecond)
		select {
		case r := <-done:
			t.Fatalf("fetch returned before any produce: %+v %v", r.resp, r.err)
		default:
		}
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "poll", Value: []byte("wake")}).FirstErr())
		produced := time.Now()
		r := <-done
		require.NoError(t, r.err)
		require.Len(t, r.resp.Topics, 1)
		require.NotEmpty(t, r.resp.Topics[0].Partitions[0].RecordBatches, "the woken fetch carries the new record")
		woke := r.at.Sub(produced)
		t.Logf("fetch answered %v after the produce was acknowledged", woke)
		// A behaviour check: the fetch was woken by the append, far before
		// its 10 s wait would have ended.
		require.Less(t, woke, 2*time.Second)
	}
}

// TestRestartKeepsEverything restarts the node and checks data, offsets and
// timestamp lookups survive.
func TestRestartKeepsEverything(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "durable", 3, nil)
	cl := newClient(t, n.addr, kgo.DefaultProduceTopic("durable"))
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := 0; i < 300; i++ {
		recs = append(recs, &kgo.Record{Partition: int32(i % 3), Value: []byte(strconv.Itoa(i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	cl2 := newClient(t, n.addr, kgo.DefaultProduceTopic("durable"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, cl2.ProduceSync(ctx, recs...).FirstErr())
	cl.Close()
	cl2.Close()

	n.restart()

	adm := kadm.NewClient(newClient(t, n.addr))
	td, err := adm.ListTopics(ctx, "durable")
	require.NoError(t, err)
	require.Len(t, td["durable"].Partitions, 3)
	ends, err := adm.ListEndOffsets(ctx, "durable")
	require.NoError(t, err)
	ends.Each(func(o kadm.ListedOffset) { require.EqualValues(t, 100, o.Offset) })
	// Record i went to partition i%3 at offset i/3 with timestamp base+i s.
	// Looking up base+151 s must find record 153 on partition 0 (offset 51),
	// record 151 on partition 1 (offset 50), record 152 on partition 2 (offset 50).
	byTime, err := adm.ListOffsetsAfterMilli(ctx, base.Add(151*time.Second).UnixMilli(), "durable")
	require.NoError(t, err)
	want := map[int32]int64{0: 51, 1: 50, 2: 50}
	byTime.Each(func(o kadm.ListedOffset) {
		require.NoError(t, o.Err)
		require.Equal(t, want[o.Partition], o.Offset, "partition %d", o.Partition)
	})
	got := consumeAll(t, n.addr, "durable", 300)
	require.Len(t, got, 300)
	for _, r := range got {
		i, _ := strconv.Atoi(string(r.Value))
		require.Equal(t, int32(i%3), r.Partition)
		require.Equal(t, int64(i/3), r.Offset)
		require.Equal(t, base.Add(time.Duration(i)*time.Second).UnixMilli(), r.Timestamp.UnixMilli())
	}
}

// TestRetentionDeletesOldSegments uses tiny segments and retention.ms so the
// retention pass removes the oldest segments and moves the log start offset.
func TestRetentionDeletesOldSegments(t *testing.T) {
	n := startTestNode(t, "KAFKA_LOG_RETENTION_CHECK_INTERVAL_MS=200")
	seg, ret := "1048576", "1000" // segment.bytes has a 1 MiB floor in Kafka 4
	createTopic(t, n.addr, "short", 1, map[string]*string{"segment.bytes": &seg, "retention.ms": &ret})
	cl := newClient(t, n.addr, kgo.DefaultProduceTopic("short"), kgo.ProducerLinger(0))
	ctx := context.Background()
	for i := 0; i < 50; i++ { // 50 × 100 KB: four full segments
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 100_000)}).FirstErr())
	}
	adm := kadm.NewClient(cl)
	require.Eventually(t, func() bool {
		starts, err := adm.ListStartOffsets(ctx, "short")
		if err != nil {
			return false
		}
		o, _ := starts.Lookup("short", 0)
		return o.Offset > 0
	}, 20*time.Second, 100*time.Millisecond, "retention never advanced the log start offset")
	p := n.broker.partition("short", 0)
	require.NotNil(t, p)
	require.Greater(t, p.Log().LogStartOffset(), int64(0))
	require.EqualValues(t, 50, p.Log().LogEndOffset(), "retention deletes whole segments, never appended data beyond them")
}

// fetchRequest is a sessionless Fetch of one partition (0) from offset,
// naming the topic by name and ID so any version works.
func fetchRequest(t *testing.T, cl *kgo.Client, topic string, offset int64, maxWaitMs int32) *kmsg.FetchRequest {
	t.Helper()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	require.NoError(t, err)
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = maxWaitMs
	req.MaxBytes = 8 << 20
	req.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	ft.TopicID = td[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset = offset
	fp.PartitionMaxBytes = 8 << 20
	fp.CurrentLeaderEpoch = -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	return req
}

// TestProduceAcksZero sends acks=0 produce requests (no response) and then
// acks=1 ones on the same connection: nothing is lost and the connection
// stays usable, as with Kafka.
func TestProduceAcksZero(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "acks0", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fire := newClient(t, n.addr, kgo.DefaultProduceTopic("acks0"), kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
	for i := 0; i < 20; i++ {
		require.NoError(t, fire.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr())
	}
	require.NoError(t, fire.Flush(ctx))
	// Flush returns once the requests are sent, not handled: wait until
	// the broker has appended them before another connection writes, or
	// its record may come first.
	consumeAll(t, n.addr, "acks0", 20)
	acked := newClient(t, n.addr, kgo.DefaultProduceTopic("acks0"), kgo.DisableIdempotentWrite())
	require.NoError(t, acked.ProduceSync(ctx, &kgo.Record{Value: []byte("20")}).FirstErr())
	got := consumeAll(t, n.addr, "acks0", 21)
	for i, r := range got {
		require.Equal(t, strconv.Itoa(i), string(r.Value))
	}
}
