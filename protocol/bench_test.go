package protocol

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func produceFrame(tb testing.TB, recordsSize int) []byte {
	req := NewRequest(KeyProduce).(*ProduceRequest)
	req.Acks = -1
	req.TimeoutMs = 30000
	records := make([]byte, recordsSize)
	for i := range records {
		records[i] = byte(i)
	}
	req.TopicData = []ProduceRequestTopicProduceData{{
		Name:          "bench",
		PartitionData: []ProduceRequestPartitionProduceData{{Index: 0, Records: records}},
	}}
	hdr := RequestHeader{RequestAPIKey: KeyProduce, RequestAPIVersion: 9, CorrelationID: 1, ClientID: ptr("bench")}
	frame, err := AppendRequest(nil, &hdr, req)
	require.NoError(tb, err)
	return frame[4:]
}

func TestProduceRecordsAliasFrame(t *testing.T) {
	frame := produceFrame(t, 4096)
	_, req, err := ParseRequest(frame)
	require.NoError(t, err)
	recs := req.(*ProduceRequest).TopicData[0].PartitionData[0].Records
	require.Len(t, recs, 4096)
	start := uintptr(unsafe.Pointer(&frame[0]))
	p := uintptr(unsafe.Pointer(&recs[0]))
	require.True(t, p >= start && p < start+uintptr(len(frame)), "records must alias the frame, not be copied")
}

func BenchmarkParseProduce(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("records=%dKiB", size>>10), func(b *testing.B) {
			frame := produceFrame(b, size)
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, _, err := ParseRequest(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendFetchResponse(b *testing.B) {
	for _, tc := range []struct{ partitions, blob int }{{8, 64 << 10}, {32, 16 << 10}} {
		b.Run(fmt.Sprintf("partitions=%d/blob=%dKiB", tc.partitions, tc.blob>>10), func(b *testing.B) {
			resp := NewResponse(KeyFetch).(*FetchResponse)
			topic := FetchResponseFetchableTopicResponse{Topic: "bench", TopicID: UUID{1}}
			total := 0
			for p := range tc.partitions {
				var pd FetchResponsePartitionData
				pd.Default()
				pd.PartitionIndex = int32(p)
				pd.HighWatermark = 1000
				pd.LastStableOffset = 1000
				pd.Records = make([]byte, tc.blob)
				total += tc.blob
				topic.Partitions = append(topic.Partitions, pd)
			}
			resp.Responses = []FetchResponseFetchableTopicResponse{topic}
			buf, err := AppendResponse(nil, 1, KeyFetch, 12, resp)
			require.NoError(b, err)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				buf, _ = AppendResponse(buf[:0], 1, KeyFetch, 12, resp)
			}
		})
	}
}
