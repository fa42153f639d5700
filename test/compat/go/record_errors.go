package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// franzRecordErrors (produce-record-errors): one batch of 100 records, 10 without a key (indexes
// 3, 13, ... 93), sent raw to a compacted topic. The broker must reject it with INVALID_RECORD
// and, per KIP-467, name each keyless record by its batch index with Kafka's message; nothing is
// appended, and the 90 keyed records then go in.
func franzRecordErrors(ctx context.Context, topic string) error {
	topicConfigs["cleanup.policy"] = kmsg.StringPtr("compact")
	if err := franzCreateTopic(ctx, topic, 1); err != nil {
		return err
	}
	cl, adm, err := franzAdmin()
	if err != nil {
		return err
	}
	defer cl.Close()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return err
	}
	td := md.Topics[topic]
	var all []rec
	for i := range 100 {
		r := rec{Key: []byte(fmt.Sprintf("re-key-%d", i)), Value: []byte(fmt.Sprintf("re-value-%d", i))}
		if i%10 == 3 {
			r.Key = nil
		}
		all = append(all, r)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, td.ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = rawBatch(all, time.Now().UnixMilli())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := cl.Broker(int(td.Partitions[0].Leader)).Request(ctx, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.ProduceResponse)
	if resp.Version < 8 {
		return fmt.Errorf("produce v%d has no record errors; want v8+", resp.Version)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.InvalidRecord.Code {
		return fmt.Errorf("error code %d (%v), want INVALID_RECORD", p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
	}
	perRecord := "Compacted topic cannot accept message without key in topic partition " + topic + "-0"
	var first3 []string
	for _, i := range []int{3, 13, 23} {
		first3 = append(first3, fmt.Sprintf("RecordError(batchIndex=%d, message='%s')", i, perRecord))
	}
	wantMsg := "One or more records have been rejected due to 10 record errors in total, and only showing the first three errors at most: [" +
		strings.Join(first3, ", ") + "]"
	if p.ErrorMessage == nil || *p.ErrorMessage != wantMsg {
		return fmt.Errorf("error message %v, want %q", strPtr(p.ErrorMessage), wantMsg)
	}
	if p.BaseOffset != -1 || p.LogStartOffset != 0 {
		return fmt.Errorf("base offset %d, log start offset %d; want -1 and 0", p.BaseOffset, p.LogStartOffset)
	}
	if len(p.ErrorRecords) != 10 {
		return fmt.Errorf("%d record errors, want 10: %+v", len(p.ErrorRecords), p.ErrorRecords)
	}
	for k, e := range p.ErrorRecords {
		if e.RelativeOffset != int32(10*k+3) || e.ErrorMessage == nil || *e.ErrorMessage != perRecord {
			return fmt.Errorf("record error %d: index %d message %v, want %d %q", k, e.RelativeOffset, strPtr(e.ErrorMessage), 10*k+3, perRecord)
		}
	}
	// The keyed records, resent, go in; the rejected batch left nothing behind.
	var keyed []rec
	for _, r := range all {
		if r.Key != nil {
			keyed = append(keyed, r)
		}
	}
	if err := (franzClient{}).produce(ctx, topic, keyed, prodOpts{Acks: -1}); err != nil {
		return fmt.Errorf("resend the keyed records: %w", err)
	}
	got, err := franzClient{}.consume(ctx, topic, len(keyed), false)
	if err != nil {
		return err
	}
	return compare(got, keyed)
}

func strPtr(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// rawBatch encodes recs as one uncompressed v2 batch without a producer ID, stamped ts.
func rawBatch(recs []rec, ts int64) []byte {
	var body []byte
	for i, r := range recs {
		var rb []byte
		rb = append(rb, 0)                     // attributes
		rb = binary.AppendVarint(rb, 0)        // timestamp delta
		rb = binary.AppendVarint(rb, int64(i)) // offset delta
		keyLen := int64(len(r.Key))
		if r.Key == nil {
			keyLen = -1 // a null key
		}
		rb = binary.AppendVarint(rb, keyLen)
		rb = append(rb, r.Key...)
		rb = binary.AppendVarint(rb, int64(len(r.Value)))
		rb = append(rb, r.Value...)
		rb = binary.AppendVarint(rb, 0) // headers
		body = binary.AppendVarint(body, int64(len(rb)))
		body = append(body, rb...)
	}
	b := make([]byte, 61, 61+len(body))
	be := binary.BigEndian
	be.PutUint32(b[8:], uint32(49+len(body))) // batch length
	be.PutUint32(b[12:], 0xffffffff)          // partition leader epoch
	b[16] = 2                                 // magic
	be.PutUint32(b[23:], uint32(len(recs)-1)) // last offset delta
	be.PutUint64(b[27:], uint64(ts))          // base timestamp
	be.PutUint64(b[35:], uint64(ts))          // max timestamp
	be.PutUint64(b[43:], ^uint64(0))          // producer ID -1
	be.PutUint16(b[51:], 0xffff)              // producer epoch -1
	be.PutUint32(b[53:], 0xffffffff)          // base sequence -1
	be.PutUint32(b[57:], uint32(len(recs)))
	b = append(b, body...)
	be.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
