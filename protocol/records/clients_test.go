package records

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// captureCluster is an in-process kfake cluster that keeps a copy of the raw
// Records bytes of every produce request before handling it. Produce v13+
// names topics by ID only, so tests use one topic per cluster.
type captureCluster struct {
	*kfake.Cluster
	mu      sync.Mutex
	batches [][]byte // Records of every produce partition, in arrival order
}

func newCaptureCluster(t *testing.T, topics ...string) *captureCluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cc := &captureCluster{Cluster: c}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		cc.mu.Lock()
		defer cc.mu.Unlock()
		for _, tp := range pr.Topics {
			for _, p := range tp.Partitions {
				cc.batches = append(cc.batches, bytes.Clone(p.Records))
			}
		}
		return nil, nil, false // observe only: kfake handles the request
	})
	return cc
}

// records decodes and forgets every captured batch, checking each with
// Validate first, and returns the records and the batch infos.
func (cc *captureCluster) records(t *testing.T) ([]Record, []BatchInfo) {
	t.Helper()
	cc.mu.Lock()
	sets := cc.batches
	cc.batches = nil
	cc.mu.Unlock()
	require.NotEmpty(t, sets, "no produce request captured")
	var recs []Record
	var infos []BatchInfo
	for _, set := range sets {
		for b, err := range Batches(set) {
			require.NoError(t, err)
			require.Equal(t, int8(2), Magic(b))
			require.NoError(t, VerifyCRC(b))
			info, err := Validate(b, testMax)
			require.NoError(t, err)
			infos = append(infos, info)
			got := collect(t, b)
			require.Len(t, got, info.RecordCount)
			recs = append(recs, got...)
		}
	}
	return recs, infos
}

var clientCodecs = []struct {
	codec Compression
	kgo   kgo.CompressionCodec
	kcat  string
}{
	{CompressionNone, kgo.NoCompression(), "none"},
	{CompressionGzip, kgo.GzipCompression(), "gzip"},
	{CompressionSnappy, kgo.SnappyCompression(), "snappy"},
	{CompressionLZ4, kgo.Lz4Compression(), "lz4"},
	{CompressionZstd, kgo.ZstdCompression(), "zstd"},
}

func TestFranzGoProducedBatches(t *testing.T) {
	for _, c := range clientCodecs {
		t.Run(c.kcat, func(t *testing.T) {
			cc := newCaptureCluster(t, "franz-"+c.kcat, "franz-txn-"+c.kcat)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			want := make([]*kgo.Record, 200)
			for i := range want {
				r := &kgo.Record{
					Topic:     "franz-" + c.kcat,
					Value:     []byte(strings.Repeat(fmt.Sprintf("value %d ", i), 20)),
					Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)),
				}
				if i%3 != 0 {
					r.Key = []byte(fmt.Sprintf("key-%d", i))
				}
				if i%7 == 0 {
					r.Value = nil
				}
				if i%2 == 0 {
					r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("hv")}, {Key: "empty"}}
				}
				want[i] = r
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(cc.ListenAddrs()...),
				kgo.ProducerBatchCompression(c.kgo), kgo.ProducerLinger(50*time.Millisecond))
			require.NoError(t, err)
			defer cl.Close()
			require.NoError(t, cl.ProduceSync(ctx, want...).FirstErr())

			got, infos := cc.records(t)
			require.Len(t, got, len(want))
			for _, info := range infos {
				require.Equal(t, c.codec, info.Compression)
				require.GreaterOrEqual(t, info.Header.ProducerID, int64(0), "franz-go is idempotent by default")
			}
			for i, w := range want {
				g := got[i]
				require.Equal(t, w.Key == nil, g.Key == nil, "record %d", i)
				require.Equal(t, string(w.Key), string(g.Key))
				require.Equal(t, w.Value == nil, g.Value == nil, "record %d", i)
				require.Equal(t, string(w.Value), string(g.Value))
				require.Equal(t, w.Timestamp.UnixMilli(), g.Timestamp)
				require.Len(t, g.Headers, len(w.Headers))
				for j, h := range w.Headers {
					require.Equal(t, h.Key, string(g.Headers[j].Key))
					require.Equal(t, string(h.Value), string(g.Headers[j].Value))
				}
			}

			// A transactional producer sets the transactional bit.
			txn, err := kgo.NewClient(kgo.SeedBrokers(cc.ListenAddrs()...),
				kgo.ProducerBatchCompression(c.kgo), kgo.TransactionalID("txn-"+c.kcat),
				kgo.DefaultProduceTopic("franz-txn-"+c.kcat))
			require.NoError(t, err)
			defer txn.Close()
			require.NoError(t, txn.BeginTransaction())
			require.NoError(t, txn.ProduceSync(ctx, &kgo.Record{Key: []byte("tk"), Value: bytes.Repeat([]byte("t"), 500)}).FirstErr())
			require.NoError(t, txn.EndTransaction(ctx, kgo.TryCommit))
			got, infos = cc.records(t)
			require.Len(t, got, 1)
			require.Equal(t, "tk", string(got[0].Key))
			require.True(t, infos[0].Header.IsTransactional())
			require.False(t, infos[0].Header.IsControl())
		})
	}
}

// TestLibrdkafkaProducedBatches produces with kcat (librdkafka). It fails,
// rather than skips, without kcat: CI installs it (Debian package kcat).
func TestLibrdkafkaProducedBatches(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	require.NoError(t, err, "kcat is required: apt-get install -y kcat")
	const n = 100
	var input strings.Builder
	for i := range n {
		switch {
		case i%5 == 0:
			fmt.Fprintf(&input, "key-%d:\n", i) // -Z: empty value is sent as null
		default:
			fmt.Fprintf(&input, "key-%d:%s\n", i, strings.Repeat(fmt.Sprintf("payload-%d ", i), 10))
		}
	}
	for _, c := range clientCodecs {
		t.Run(c.kcat, func(t *testing.T) {
			topic := "kcat-" + c.kcat
			cc := newCaptureCluster(t, topic)
			advertiseLegacyProduce(cc.Cluster)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, kcat, "-b", cc.ListenAddrs()[0], "-P", "-t", topic, "-p", "0",
				"-z", c.kcat, "-K:", "-Z", "-H", "origin=kcat", "-H", "codec="+c.kcat,
				"-X", "enable.idempotence=true", "-X", "linger.ms=100")
			cmd.Stdin = strings.NewReader(input.String())
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "kcat: %s", out)

			got, infos := cc.records(t)
			require.Len(t, got, n)
			for _, info := range infos {
				require.Equal(t, c.codec, info.Compression, "batch of %d records", info.RecordCount)
				require.GreaterOrEqual(t, info.Header.ProducerID, int64(0))
			}
			for i, g := range got {
				require.Equal(t, fmt.Sprintf("key-%d", i), string(g.Key))
				if i%5 == 0 {
					require.Nil(t, g.Value, "record %d", i)
				} else {
					require.Equal(t, strings.Repeat(fmt.Sprintf("payload-%d ", i), 10), string(g.Value))
				}
				require.Len(t, g.Headers, 2)
				require.Equal(t, "origin", string(g.Headers[0].Key))
				require.Equal(t, "kcat", string(g.Headers[0].Value))
				require.Equal(t, c.kcat, string(g.Headers[1].Value))
				require.Greater(t, g.Timestamp, int64(1_600_000_000_000))
			}
		})
	}
}

// advertiseLegacyProduce answers ApiVersions with Kafka 2.8's table, which
// starts Produce at v0. librdkafka before 2.10 infers gzip, snappy and lz4
// support from the old Produce versions; against kfake's Kafka 4 table
// (Produce v3+) it logs "Broker does not support compression type gzip" and
// silently sends uncompressed batches. Every version librdkafka then picks
// is one kfake serves.
func advertiseLegacyProduce(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.ApiVersions), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.Version = min(req.GetVersion(), 3)
		kversion.V2_8_0().EachMaxKeyVersion(func(k, v int16) {
			key := kmsg.NewApiVersionsResponseApiKey()
			key.ApiKey, key.MaxVersion = k, v
			resp.ApiKeys = append(resp.ApiKeys, key)
		})
		return resp, nil, true
	})
}
