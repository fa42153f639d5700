package replication

import (
	"context"
	"testing"
	"time"

	"github.com/spool-broker/spool/protocol/records"
)

// BenchmarkAppend compares the one leader append path with the bare log
// append it wraps (ISR {self}: the high watermark moves on every append).
func BenchmarkAppend(b *testing.B) {
	recs := []records.Record{{Timestamp: time.Now().UnixMilli(), Key: []byte("k"), Value: make([]byte, 1000)}}
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), recs)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		run  func(p *Partition, buf []byte) error
	}{
		{"storage.Log.Append", func(p *Partition, buf []byte) error {
			_, err := p.Log().Append(buf, 1, nil)
			return err
		}},
		{"AppendAsLeader/acks=1", func(p *Partition, buf []byte) error {
			_, err := p.AppendAsLeader(buf, AppendOptions{RequiredAcks: 1})
			return err
		}},
		{"AppendAsLeader/acks=all", func(p *Partition, buf []byte) error {
			res, err := p.AppendAsLeader(buf, AppendOptions{RequiredAcks: -1})
			if err != nil {
				return err
			}
			return res.Wait(context.Background())
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := newTestNode(b, 1, b.TempDir(), NewManualClock(time.Unix(1000, 0)), nil)
			defer n.close()
			p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1}, ISR: []int32{1}})
			buf := make([]byte, len(batch))
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			b.ResetTimer()
			for range b.N {
				copy(buf, batch)
				if err := bc.run(p, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
