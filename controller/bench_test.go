package controller

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkCreateTopics measures one CreateTopics call end to end on a sole
// voter: validation, placement, encoding, fsync'd raft commit and apply.
func BenchmarkCreateTopics(b *testing.B) {
	for _, shape := range []struct{ topics, partitions int32 }{{1, 1}, {1, 1000}, {10, 100}} {
		b.Run(fmt.Sprintf("topics=%d/partitions=%d", shape.topics, shape.partitions), func(b *testing.B) {
			c := openController(b, soleConfig(b, b.TempDir()))
			registerBrokers(b, c, 1, 2, 3)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				topics := make([]CreateTopic, shape.topics)
				for j := range topics {
					topics[j] = CreateTopic{Name: fmt.Sprintf("t-%d-%d", i, j), NumPartitions: shape.partitions, ReplicationFactor: 3}
				}
				for _, r := range c.CreateTopics(ctx, topics, false) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(shape.topics*shape.partitions), "partitions/op")
		})
	}
}

// benchImage builds an image of n topics with 10 partitions each.
func benchImage(n int) *MetadataImage {
	f := newFSM("bench")
	var recs []Record
	for i := range n {
		id := NewTopicID()
		recs = append(recs, &TopicRecord{Name: fmt.Sprintf("topic-%d", i), TopicID: id})
		for p := range int32(10) {
			recs = append(recs, &PartitionRecord{PartitionID: p, TopicID: id, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1})
		}
	}
	f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: EncodeBatch(recs)})
	return f.image.Load()
}

// BenchmarkImageRead is a broker's metadata lookup: load the image, find a
// topic, read a partition leader.
func BenchmarkImageRead(b *testing.B) {
	f := newFSM("bench")
	f.image.Store(benchImage(1000))
	b.ReportAllocs()
	var sink int32
	for i := 0; b.Loop(); i++ {
		t := f.image.Load().Topic("topic-500")
		sink += t.Partitions[i%10].Leader
	}
	_ = sink
}

// BenchmarkApply measures the copy-on-write cost of applying a one-record
// batch to images of growing size.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			f := newFSM("bench")
			f.image.Store(benchImage(n))
			id := f.image.Load().Topic("topic-0").ID
			data := EncodeBatch([]Record{&PartitionChangeRecord{TopicID: id, Leader: 2, ISR: []int32{2, 3}}})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if r, _ := f.Apply(&raft.Log{Index: uint64(i + 2), Type: raft.LogCommand, Data: data}).(applyResult); r.err != nil {
					b.Fatal(r.err)
				}
			}
		})
	}
}
