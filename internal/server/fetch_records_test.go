package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// assemble is what a client receives for f: out with each records field's
// bytes inserted at its position.
func assemble(f *inflight, data [][]byte) []byte {
	var b []byte
	prev := 0
	for i, r := range f.records {
		b = append(b, f.out[prev:r.at]...)
		b = append(b, data[i]...)
		prev = r.at
	}
	return append(b, f.out[prev:]...)
}

// TestFetchRecordsSplicedEveryVersion: a response encoded with its records
// out of line, once the records are put back, is byte for byte the
// generated encoder's output with the records inline, at every version.
func TestFetchRecordsSplicedEveryVersion(t *testing.T) {
	recs := [][]byte{
		bytes.Repeat([]byte{1}, 5),
		bytes.Repeat([]byte{2}, 300),        // 2-byte compact length
		bytes.Repeat([]byte{3}, 70_000),     // 3-byte compact length
		bytes.Repeat([]byte{0xff}, 1<<21+3), // 4-byte compact length; bytes equal to a null marker
	}
	build := func() (*protocol.FetchResponse, []*protocol.FetchResponsePartitionData) {
		pd := func(p int32) protocol.FetchResponsePartitionData {
			var d protocol.FetchResponsePartitionData
			d.Default()
			d.PartitionIndex, d.HighWatermark, d.LastStableOffset, d.LogStartOffset = p, 100+int64(p), 90, 0
			return d
		}
		resp := &protocol.FetchResponse{SessionID: 42}
		for ti, name := range []string{"a", "bb", "ccc"} {
			tr := protocol.FetchResponseFetchableTopicResponse{Topic: protocol.TopicName(name), TopicID: protocol.UUID{byte(ti + 1)}}
			for p := range int32(3) {
				tr.Partitions = append(tr.Partitions, pd(p))
			}
			resp.Responses = append(resp.Responses, tr)
		}
		// An error partition with a tagged CurrentLeader, aborted
		// transactions next to records, empty record sets between.
		resp.Responses[0].Partitions[1].ErrorCode = errcode.NotLeaderOrFollower
		resp.Responses[0].Partitions[1].CurrentLeader.LeaderID, resp.Responses[0].Partitions[1].CurrentLeader.LeaderEpoch = 1, 3
		resp.Responses[1].Partitions[0].AbortedTransactions = []protocol.FetchResponseAbortedTransaction{{ProducerID: 7, FirstOffset: 3}}
		var with []*protocol.FetchResponsePartitionData
		for _, at := range [][2]int{{0, 0}, {1, 0}, {1, 2}, {2, 1}} {
			with = append(with, &resp.Responses[at[0]].Partitions[at[1]])
		}
		return resp, with
	}
	for v := int16(4); v <= 18; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp, with := build()
			for i, p := range with {
				p.Records = recs[i]
			}
			want, err := protocol.AppendResponse(nil, 9, protocol.KeyFetch, v, resp)
			require.NoError(t, err)

			resp, with = build()
			c := &conn{s: &Server{}}
			f := &inflight{hdr: protocol.RequestHeader{RequestAPIKey: protocol.KeyFetch, RequestAPIVersion: v, CorrelationID: 9}}
			for _, r := range recs {
				f.records = append(f.records, outRecords{size: len(r)})
			}
			require.NoError(t, c.encodeWithRecords(f, v, resp, func(empty bool) {
				for _, p := range with {
					p.Records = nil
					if empty {
						p.Records = []byte{}
					}
				}
			}))
			require.Equal(t, want, assemble(f, recs))
		})
	}
}

// rawFetcher sends Fetch requests on one connection and returns the raw
// response frames.
type rawFetcher struct {
	nc   net.Conn
	corr int32
}

func (r *rawFetcher) fetch(t *testing.T, v int16, req *protocol.FetchRequest) []byte {
	t.Helper()
	r.corr++
	id := "raw"
	frame, err := protocol.AppendRequest(nil, &protocol.RequestHeader{
		RequestAPIKey: protocol.KeyFetch, RequestAPIVersion: v, CorrelationID: r.corr, ClientID: &id,
	}, req)
	require.NoError(t, err)
	require.NoError(t, r.nc.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = r.nc.Write(frame)
	require.NoError(t, err)
	resp, err := protocol.ReadFrame(r.nc, 1<<30, nil)
	require.NoError(t, err)
	return resp
}

// serveOn serves nc with n's server until the test ends.
func serveOn(t *testing.T, n *testNode, nc net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.server.serveConn(context.Background(), nc, "PLAINTEXT")
	}()
	t.Cleanup(func() {
		nc.Close()
		wg.Wait()
	})
}

// plainConn hides the *net.TCPConn under a net.Conn, as a TLS conn would:
// the writer must copy records instead of using sendfile.
type plainConn struct{ net.Conn }

// fetchTransports connects to n three ways: TCP (sendfile), TCP behind a
// wrapper (copy), and net.Pipe (copy, not a socket at all).
func fetchTransports(t *testing.T, n *testNode) map[string]*rawFetcher {
	out := map[string]*rawFetcher{}
	nc, err := net.Dial("tcp", n.addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	out["tcp sendfile"] = &rawFetcher{nc: nc}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	sc, err := ln.Accept()
	require.NoError(t, err)
	serveOn(t, n, plainConn{sc})
	out["tcp copy"] = &rawFetcher{nc: cc}

	pc, ps := net.Pipe()
	t.Cleanup(func() { pc.Close() })
	serveOn(t, n, ps)
	out["pipe"] = &rawFetcher{nc: pc}
	return out
}

// TestFetchSendfileAndCopyAgree fetches the same data over sendfile and both
// copy paths, at several versions and size limits: the frames are
// identical, decode and re-encode to themselves with the generated codec,
// and each partition's records are the log's bytes from the fetch offset.
func TestFetchSendfileAndCopyAgree(t *testing.T) {
	n := startTestNode(t)
	const topic = "transfer"
	seg := "1048576"
	createTopic(t, n.addr, topic, 3, map[string]*string{"segment.bytes": &seg})
	prod := newClient(t, n.addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Partition 0: big batches over several segments (sendfile); 1: small
	// ones (copied even on TCP); 2: empty.
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 60 {
		v := make([]byte, 50_000)
		for i := range v {
			v[i] = byte(rnd.Uint32())
		}
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: v}).FirstErr())
	}
	var rs []*kgo.Record
	for i := range 300 {
		rs = append(rs, &kgo.Record{Partition: 1, Value: fmt.Appendf(nil, "small %d", i)})
		if len(rs) == 30 {
			require.NoError(t, prod.ProduceSync(ctx, rs...).FirstErr())
			rs = nil
		}
	}

	want := map[int32][]byte{} // each partition's log from offset 0
	var topicID protocol.UUID
	for p := range int32(3) {
		part := n.broker.partition(topic, p)
		require.NotNil(t, part)
		topicID = protocol.UUID(part.TopicID())
		res, err := part.Log().Read(0, 1<<30, part.Log().HighWatermark(), true)
		require.NoError(t, err)
		want[p], err = res.ReadInto(nil)
		require.NoError(t, err)
	}
	require.Greater(t, len(n.broker.partition(topic, 0).Log().Segments()), 1)

	transports := fetchTransports(t, n)
	for _, v := range []int16{4, 11, 12, 13, 16, 18} {
		for _, lim := range []struct{ max, partMax int32 }{{64 << 20, 8 << 20}, {120_000, 30_000}, {1 << 20, 100}} {
			req := &protocol.FetchRequest{}
			req.Default()
			req.MaxBytes, req.SessionEpoch = lim.max, -1
			ft := protocol.FetchRequestFetchTopic{Topic: topic, TopicID: topicID}
			for p := range int32(3) {
				var fp protocol.FetchRequestFetchPartition
				fp.Default()
				fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p, lim.partMax, -1
				ft.Partitions = append(ft.Partitions, fp)
			}
			req.Topics = []protocol.FetchRequestFetchTopic{ft}
			frames := map[string][]byte{}
			for name, tr := range transports {
				frames[name] = tr.fetch(t, v, req)
			}
			ref := frames["tcp sendfile"]
			for name, fr := range frames {
				// Correlation ids match: every transport sent the same count.
				require.True(t, bytes.Equal(ref, fr), "v%d %+v: %s differs from sendfile", v, lim, name)
			}
			_, resp, err := protocol.DecodeResponse(ref, protocol.KeyFetch, v)
			require.NoError(t, err)
			again, err := protocol.AppendResponse(nil, int32(binary.BigEndian.Uint32(ref)), protocol.KeyFetch, v, resp)
			require.NoError(t, err)
			require.True(t, bytes.Equal(ref, again[4:]), "v%d: the frame is the generated encoding", v)
			fr := resp.(*protocol.FetchResponse)
			require.Len(t, fr.Responses, 1)
			got := 0
			for _, pd := range fr.Responses[0].Partitions {
				require.Zero(t, pd.ErrorCode)
				w := want[pd.PartitionIndex]
				require.LessOrEqual(t, len(pd.Records), len(w))
				require.True(t, bytes.Equal(w[:len(pd.Records)], pd.Records), "v%d partition %d: records are the log's", v, pd.PartitionIndex)
				if len(w) > 0 && got == 0 {
					require.NotEmpty(t, pd.Records, "the first partition with data returns a batch even past the limits")
				}
				got += len(pd.Records)
			}
			require.LessOrEqual(t, got, max(int(lim.max), 60_000), "max_bytes, but for the first batch")
		}
	}
}

// TestFetchConsumeOverPipe consumes with a real client over net.Pipe, so
// every record goes through the copy path.
func TestFetchConsumeOverPipe(t *testing.T) {
	n := startTestNode(t)
	const topic = "piped"
	createTopic(t, n.addr, topic, 4, nil)
	prod := newClient(t, n.addr, kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sent := map[string]bool{}
	var rs []*kgo.Record
	for i := range 2000 {
		v := fmt.Sprintf("%d:%s", i, bytes.Repeat([]byte{'x'}, i%5*10_000))
		sent[v] = true
		rs = append(rs, &kgo.Record{Value: []byte(v)})
	}
	require.NoError(t, prod.ProduceSync(ctx, rs...).FirstErr())

	var mu sync.Mutex
	var wg sync.WaitGroup
	var pipes []net.Conn
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, s := net.Pipe()
		mu.Lock()
		pipes = append(pipes, c)
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.server.serveConn(context.Background(), s, "PLAINTEXT")
		}()
		return c, nil
	}
	t.Cleanup(func() {
		mu.Lock()
		for _, c := range pipes {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	got := consumeAll(t, n.addr, topic, len(sent), kgo.Dialer(dial), kgo.FetchMaxPartitionBytes(200_000))
	for _, r := range got {
		require.True(t, sent[string(r.Value)], "unexpected record %.20q", r.Value)
		delete(sent, string(r.Value))
	}
	require.Empty(t, sent)
}

// queuedLog is a log of 20 KB batches whose segments hold three each.
func queuedLog(t *testing.T, segmentBytes int64) (*storage.Log, []int64) {
	cfg := storage.DefaultConfig()
	cfg.SegmentBytes = segmentBytes
	cfg.FileDeleteDelayMs = 0
	l, err := storage.OpenLog(filepath.Join(t.TempDir(), "queued-0"), cfg, storage.OpenOptions{CleanShutdown: true}, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	var bases []int64
	for i := range 40 {
		b, err := records.AppendBatch(nil, records.NewBatchOptions(), []records.Record{{
			Timestamp: time.Now().UnixMilli(), Value: bytes.Repeat([]byte{byte(i)}, 20_000),
		}})
		require.NoError(t, err)
		info, err := l.Append(b, 0, nil)
		require.NoError(t, err)
		bases = append(bases, info.FirstOffset)
	}
	l.SetHighWatermark(l.LogEndOffset())
	return l, bases
}

// writeQueued writes f with a fresh responseWriter to one end of a
// connection and returns what the other end read, and the write error.
func writeQueued(t *testing.T, transport string, f *inflight) ([]byte, error) {
	var srv, cli net.Conn
	switch transport {
	case "tcp sendfile":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		cli, err = net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		srv, err = ln.Accept()
		require.NoError(t, err)
		require.NotNil(t, sendfileConn(srv))
	case "pipe":
		cli, srv = net.Pipe()
	}
	defer cli.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(cli)
		got <- b
	}()
	pool := &bufPool{}
	err := newResponseWriter(srv, pool).write([]*inflight{f})
	srv.Close()
	return <-got, err
}

// TestQueuedRecordsSurviveSegmentDeletion pins a read's regions as a queued
// fetch response does, deletes every segment of the read and closes the
// log, reuses the freed descriptor numbers for other files, and only then
// writes the response: it carries the records that were read.
func TestQueuedRecordsSurviveSegmentDeletion(t *testing.T) {
	for _, transport := range []string{"tcp sendfile", "pipe"} {
		t.Run(transport, func(t *testing.T) {
			l, _ := queuedLog(t, 64<<10)
			res, err := l.Read(0, 1<<30, -1, true)
			require.NoError(t, err)
			require.Greater(t, len(res.Regions), 5)
			data, err := res.ReadInto(nil)
			require.NoError(t, err)
			require.True(t, res.Pin())
			f := &inflight{out: []byte("head|tail"), records: []outRecords{{regions: res.Regions, size: res.Size, at: 5}}}
			defer (&conn{s: &Server{}}).finish(f)

			_, err = l.DeleteRecordsBefore(l.HighWatermark())
			require.NoError(t, err)
			require.NoError(t, l.Close()) // runs the pending deletes: files closed and unlinked
			for range 64 {
				o, err := os.Create(filepath.Join(t.TempDir(), "other"))
				require.NoError(t, err)
				_, err = o.Write(bytes.Repeat([]byte{0xee}, 1<<20))
				require.NoError(t, err)
				t.Cleanup(func() { o.Close() })
			}

			got, err := writeQueued(t, transport, f)
			require.NoError(t, err)
			require.True(t, bytes.Equal(append(append([]byte("head|"), data...), "tail"...), got), "records as read")
		})
	}
}

// TestQueuedRecordsTruncated: a log truncated in place under a queued
// response cannot supply the promised bytes; the write fails (the
// connection closes) instead of sending a short frame.
func TestQueuedRecordsTruncated(t *testing.T) {
	for _, transport := range []string{"tcp sendfile", "pipe"} {
		t.Run(transport, func(t *testing.T) {
			l, bases := queuedLog(t, 1<<30)
			res, err := l.Read(bases[20], 1<<30, -1, true)
			require.NoError(t, err)
			require.True(t, res.Pin())
			f := &inflight{out: []byte("head|tail"), records: []outRecords{{regions: res.Regions, size: res.Size, at: 5}}}
			defer (&conn{s: &Server{}}).finish(f)
			require.NoError(t, l.TruncateTo(bases[25]))
			got, err := writeQueued(t, transport, f)
			require.ErrorIs(t, err, errRecordsTruncated)
			require.Less(t, len(got), len("head|tail")+res.Size)
		})
	}
}
