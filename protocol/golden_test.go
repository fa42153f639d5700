package protocol

import (
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

var update = flag.Bool("update", false, "re-capture the golden request frames in testdata/ from a live franz-go client")

const goldenTopic = "spool-golden"

// goldenFrames are request frames (without size prefix) captured from franz-go.
var goldenFrames = []struct {
	file         string
	key, version int16
}{
	{"api_versions_v3.bin", KeyApiVersions, 3},
	{"metadata_v12.bin", KeyMetadata, 12},
	{"produce_v9_gzip.bin", KeyProduce, 9},
	{"fetch_v12.bin", KeyFetch, 12},
}

// TestGoldenFrames parses frames captured from a real client and checks
// that re-encoding them reproduces every byte.
func TestGoldenFrames(t *testing.T) {
	if *update {
		captureGolden(t)
	}
	for _, g := range goldenFrames {
		t.Run(g.file, func(t *testing.T) {
			frame, err := os.ReadFile(filepath.Join("testdata", g.file))
			require.NoError(t, err, "run go test ./protocol -run TestGoldenFrames -update")
			hdr, req, err := ParseRequest(frame)
			require.NoError(t, err)
			require.Equal(t, g.key, hdr.RequestAPIKey)
			require.Equal(t, g.version, hdr.RequestAPIVersion)
			require.NotNil(t, hdr.ClientID)
			require.Equal(t, "spool-golden-client", *hdr.ClientID)
			out, err := AppendRequest(nil, &hdr, req)
			require.NoError(t, err)
			require.Equal(t, frame, out[4:], "re-encoded frame differs")

			switch r := req.(type) {
			case *ApiVersionsRequest:
				require.Equal(t, "kgo", r.ClientSoftwareName)
			case *MetadataRequest:
				require.Len(t, r.Topics, 1)
				require.Equal(t, TopicName(goldenTopic), *r.Topics[0].Name)
			case *ProduceRequest:
				require.Len(t, r.TopicData, 1)
				require.Equal(t, TopicName(goldenTopic), r.TopicData[0].Name)
				recs := r.TopicData[0].PartitionData[0].Records
				require.Greater(t, len(recs), 61)
				require.Equal(t, byte(2), recs[16], "magic")
				require.Equal(t, byte(1), recs[22]&7, "gzip in the batch attributes")
			case *FetchRequest:
				require.Len(t, r.Topics, 1)
				require.Equal(t, TopicName(goldenTopic), r.Topics[0].Topic)
				require.Equal(t, int64(0), r.Topics[0].Partitions[0].FetchOffset)
			default:
				t.Fatalf("unexpected %T", req)
			}
		})
	}
}

// captureGolden runs a minimal broker on loopback that answers just enough
// for franz-go to produce one gzip batch and fetch it, and stores the first
// frame of each golden key.
func captureGolden(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port, _ := strconv.Atoi(ln.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):])

	var mu sync.Mutex
	captured := map[int16][]byte{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				for {
					frame, err := ReadFrame(c, DefaultMaxRequestSize, nil)
					if err != nil {
						return
					}
					hdr, req, err := ParseRequest(frame)
					if err != nil {
						t.Errorf("parse: %v", err)
						return
					}
					mu.Lock()
					if _, ok := captured[hdr.RequestAPIKey]; !ok {
						captured[hdr.RequestAPIKey] = append([]byte(nil), frame...)
					}
					mu.Unlock()
					resp := goldenResponse(req, int32(port))
					if fr, ok := req.(*FetchRequest); ok {
						// No data: answer when MaxWaitMs ends, as a broker
						// answers a long poll, so the client does not spin.
						<-time.After(time.Duration(fr.MaxWaitMs) * time.Millisecond)
					}
					out, err := AppendResponse(nil, hdr.CorrelationID, hdr.RequestAPIKey, hdr.RequestAPIVersion, resp)
					require.NoError(t, err)
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()

	versions := kversion.V3_0_0()
	versions.SetMaxKeyVersion(KeyApiVersions, 3)
	versions.SetMaxKeyVersion(KeyMetadata, 12)
	versions.SetMaxKeyVersion(KeyProduce, 9)
	versions.SetMaxKeyVersion(KeyFetch, 12)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(ln.Addr().String()),
		kgo.ClientID("spool-golden-client"),
		kgo.MaxVersions(versions),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.GzipCompression()),
		kgo.ConsumeTopics(goldenTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().At(0)),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: goldenTopic, Key: []byte("k"), Value: []byte(strings.Repeat("hello spool, ", 40))}
	require.NoError(t, cl.ProduceSync(ctx, rec).FirstErr())
	for ctx.Err() == nil {
		mu.Lock()
		_, ok := captured[KeyFetch]
		mu.Unlock()
		if ok {
			break
		}
		cl.PollFetches(ctx)
	}
	cl.Close()
	ln.Close()
	mu.Lock()
	defer mu.Unlock()
	for _, g := range goldenFrames {
		frame, ok := captured[g.key]
		require.True(t, ok, "no %d frame captured", g.key)
		require.NoError(t, os.WriteFile(filepath.Join("testdata", g.file), frame, 0o644))
	}
}

func goldenResponse(req Request, port int32) Response {
	resp := NewResponse(req.APIKey())
	switch r := req.(type) {
	case *ApiVersionsRequest:
		out := resp.(*ApiVersionsResponse)
		for _, k := range []int16{KeyApiVersions, KeyMetadata, KeyProduce, KeyFetch, KeyListOffsets} {
			a := LookupAPI(k)
			out.APIKeys = append(out.APIKeys, ApiVersionsResponseAPIVersion{APIKey: k, MinVersion: a.MinVersion, MaxVersion: a.MaxStableVersion()})
		}
	case *MetadataRequest:
		out := resp.(*MetadataResponse)
		out.Brokers = []MetadataResponseBroker{{NodeID: 0, Host: "127.0.0.1", Port: port}}
		out.ClusterID = ptr("spool-golden")
		name := TopicName(goldenTopic)
		out.Topics = []MetadataResponseTopic{{
			Name: &name, TopicID: UUID{1, 2, 3},
			Partitions: []MetadataResponsePartition{{LeaderID: 0, ReplicaNodes: []BrokerID{0}, IsrNodes: []BrokerID{0}}},
		}}
	case *ProduceRequest:
		out := resp.(*ProduceResponse)
		for _, td := range r.TopicData {
			pr := ProduceResponseTopicProduceResponse{Name: td.Name}
			for _, p := range td.PartitionData {
				var pp ProduceResponsePartitionProduceResponse
				pp.Default()
				pp.Index = p.Index
				pr.PartitionResponses = append(pr.PartitionResponses, pp)
			}
			out.Responses = append(out.Responses, pr)
		}
	case *FetchRequest:
		out := resp.(*FetchResponse)
		for _, tp := range r.Topics {
			ft := FetchResponseFetchableTopicResponse{Topic: tp.Topic}
			for _, p := range tp.Partitions {
				var fp FetchResponsePartitionData
				fp.Default()
				fp.PartitionIndex = p.Partition
				fp.Records = []byte{}
				ft.Partitions = append(ft.Partitions, fp)
			}
			out.Responses = append(out.Responses, ft)
		}
	}
	return resp
}

var _ = errors.New
