package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type franzClient struct{}

var franzCodecs = map[string]kgo.CompressionCodec{
	"": kgo.NoCompression(), "none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

func (franzClient) produce(ctx context.Context, topic string, recs []rec, o prodOpts) error {
	opts := []kgo.Opt{kgo.SeedBrokers(brokers()...), kgo.ProducerBatchCompression(franzCodecs[o.Codec]),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)}
	switch {
	case o.Idempotent:
	case o.Acks == 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case o.Acks == 1:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := newKgo(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.ProduceSync(ctx, franzRecords(topic, recs)...).FirstErr()
}

func franzRecords(topic string, recs []rec) []*kgo.Record {
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Topic: topic, Partition: 0, Key: r.Key, Value: r.Value}
		for k, v := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		out[i] = kr
	}
	return out
}

func franzRec(r *kgo.Record) rec {
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	return rec{Key: r.Key, Value: r.Value, Headers: h}
}

func (franzClient) consume(ctx context.Context, topic string, n int, readCommitted bool) ([]rec, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(brokers()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := newKgo(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return franzPoll(ctx, cl, n)
}

func franzPoll(ctx context.Context, cl *kgo.Client, n int) ([]rec, error) {
	var out []rec
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("after %d of %d records: %w", len(out), n, err)
		}
		for _, e := range fs.Errors() {
			return out, fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, franzRec(r)) })
	}
	return out, nil
}

func franzAdmin() (*kgo.Client, *kadm.Client, error) {
	cl, err := newKgo(kgo.SeedBrokers(brokers()...))
	if err != nil {
		return nil, nil, err
	}
	return cl, kadm.NewClient(cl), nil
}

func franzCreateTopic(ctx context.Context, topic string, parts int) error {
	cl, adm, err := franzAdmin()
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := adm.CreateTopic(ctx, int32(parts), replicationFactor(), topicConfigs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return err
	}
	// Wait until metadata shows every partition with a leader, so the first produce
	// doesn't race the new topic's propagation: on a cluster, from every broker, since a
	// client may ask any of them (kafka-go's writer does, and does not retry a topic the
	// broker it asked does not know yet).
	return waitFor(ctx, func() error {
		bs, err := adm.ListBrokers(ctx)
		if err != nil {
			return err
		}
		for _, b := range bs {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl.Broker(int(b.NodeID)))
			if err != nil {
				return fmt.Errorf("metadata from broker %d: %w", b.NodeID, err)
			}
			if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != parts {
				return fmt.Errorf("topic %s not ready on broker %d", topic, b.NodeID)
			}
			for _, p := range resp.Topics[0].Partitions {
				if p.ErrorCode != 0 || p.Leader < 0 {
					return fmt.Errorf("broker %d: partition %d has no leader (error %d)", b.NodeID, p.Partition, p.ErrorCode)
				}
			}
		}
		return nil
	})
}

func franzAdminTopics(ctx context.Context, topic string) error {
	cl, adm, err := franzAdmin()
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := adm.CreateTopic(ctx, 3, replicationFactor(), map[string]*string{"retention.ms": kadm.StringPtr("604800000")}, topic)
	if err != nil || r.Err != nil {
		return fmt.Errorf("create: %v %v", err, r.Err)
	}
	if err := waitFor(ctx, func() error {
		td, err := adm.ListTopics(ctx)
		if err != nil {
			return err
		}
		if !td.Has(topic) || len(td[topic].Partitions) != 3 {
			return fmt.Errorf("list: topic %s missing or wrong partition count: %v", topic, td[topic])
		}
		return nil
	}); err != nil {
		return err
	}
	cr, err := adm.CreatePartitions(ctx, 3, topic) // add 3 → 6
	if err != nil || cr[topic].Err != nil {
		return fmt.Errorf("create partitions: %v %v", err, cr[topic].Err)
	}
	if err := waitFor(ctx, func() error {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		if len(td[topic].Partitions) != 6 {
			return fmt.Errorf("after alter: %d partitions, want 6", len(td[topic].Partitions))
		}
		return nil
	}); err != nil {
		return err
	}
	dr, err := adm.DeleteTopics(ctx, topic)
	if err != nil || dr[topic].Err != nil {
		return fmt.Errorf("delete: %v %v", err, dr[topic].Err)
	}
	return waitFor(ctx, func() error {
		td, err := adm.ListTopics(ctx)
		if err != nil {
			return err
		}
		if td.Has(topic) {
			return errors.New("topic still listed after delete")
		}
		return nil
	})
}

func franzAdminConfigs(ctx context.Context, topic string) error {
	cl, adm, err := franzAdmin()
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := franzCreateTopic(ctx, topic, 1); err != nil {
		return err
	}
	ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("86400000")},
		{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")},
	}, topic)
	if err != nil {
		return fmt.Errorf("alter: %w", err)
	}
	for _, r := range ar {
		if r.Err != nil {
			return fmt.Errorf("alter %s: %w", r.Name, r.Err)
		}
	}
	return waitFor(ctx, func() error {
		rc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return err
		}
		c, err := rc.On(topic, nil)
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, e := range c.Configs {
			got[e.Key] = e.MaybeValue()
		}
		if got["retention.ms"] != "86400000" || got["cleanup.policy"] != "compact" {
			return fmt.Errorf("describe: retention.ms=%q cleanup.policy=%q", got["retention.ms"], got["cleanup.policy"])
		}
		return nil
	})
}

// franzMinISRRF1: a topic with replication factor 1 and min.insync.replicas=2
// takes acks=all writes (Kafka caps the required ISR at the replica count),
// idempotent or not, and they read back.
func franzMinISRRF1(ctx context.Context, topic string) error {
	cl, adm, err := franzAdmin()
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := waitFor(ctx, func() error {
		rc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return err
		}
		c, err := rc.On(topic, nil)
		if err != nil {
			return err
		}
		for _, e := range c.Configs {
			if e.Key == "min.insync.replicas" && e.MaybeValue() == "2" {
				return nil
			}
		}
		return fmt.Errorf("describe: min.insync.replicas is not 2: %+v", c.Configs)
	}); err != nil {
		return err
	}
	var want []rec
	for _, idempotent := range []bool{false, true} {
		rs := makeRecs(fmt.Sprintf("minisr-idem-%v", idempotent), 5, 0)
		opts := []kgo.Opt{kgo.SeedBrokers(brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.RecordRetries(3)}
		if !idempotent {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
		p, err := newKgo(opts...)
		if err != nil {
			return err
		}
		err = p.ProduceSync(ctx, franzRecords(topic, rs)...).FirstErr()
		p.Close()
		if err != nil {
			return fmt.Errorf("produce acks=all idempotent=%v: %w", idempotent, err)
		}
		want = append(want, rs...)
	}
	got, err := franzClient{}.consume(ctx, topic, len(want), false)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return compare(got, want)
}

// franzAdminExtra covers the admin scenarios only franz-go's kadm runs among the Go clients.
func franzAdminExtra(ctx context.Context, sc, topic string) error {
	cl, adm, err := franzAdmin()
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := franzCreateTopic(ctx, topic, 1); err != nil {
		return err
	}
	// Two batches with timestamps an hour apart, so list-by-time has something to find.
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	rs := franzRecords(topic, makeRecs("old", 5, 0))
	for _, r := range rs {
		r.Timestamp = t0
	}
	rs2 := franzRecords(topic, makeRecs("new", 5, 0))
	p, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return err
	}
	if err := p.ProduceSync(ctx, rs2...).FirstErr(); err != nil {
		return err
	}
	switch sc {
	case "list-offsets-time":
		lo, err := adm.ListOffsetsAfterMilli(ctx, t0.Add(time.Minute).UnixMilli(), topic)
		if err != nil {
			return err
		}
		o, _ := lo.Lookup(topic, 0)
		if o.Err != nil || o.Offset != 5 {
			return fmt.Errorf("offset after t0+1m = %d (%v), want 5", o.Offset, o.Err)
		}
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		if e, _ := end.Lookup(topic, 0); e.Offset != 10 {
			return fmt.Errorf("end offset %d, want 10", e.Offset)
		}
		start, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return err
		}
		if s, _ := start.Lookup(topic, 0); s.Offset != 0 {
			return fmt.Errorf("start offset %d, want 0", s.Offset)
		}
	case "delete-records":
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 4})
		dr, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			return err
		}
		if e := dr.Error(); e != nil {
			return e
		}
		start, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return err
		}
		if s, _ := start.Lookup(topic, 0); s.Offset != 4 {
			return fmt.Errorf("start offset after delete %d, want 4", s.Offset)
		}
		got, err := franzClient{}.consume(ctx, topic, 6, false)
		if err != nil {
			return err
		}
		if string(got[0].Key) != "old-key-4" {
			return fmt.Errorf("first record after delete is %q, want old-key-4", got[0].Key)
		}
	case "group-admin":
		g := topic + "-g"
		c, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.ConsumerGroup(g), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			return err
		}
		if _, err := franzPoll(ctx, c, 10); err != nil {
			c.Close()
			return err
		}
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 7, LeaderEpoch: -1})
		var commitErr error
		c.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: 7}}}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
		})
		if commitErr != nil {
			return fmt.Errorf("member commit: %w", commitErr)
		}
		if err := adm.CommitAllOffsets(ctx, g, os); err == nil {
			return errors.New("committing as admin to a group with an active member should fail")
		}
		lags, err := adm.Lag(ctx, g)
		if err != nil {
			return err
		}
		l := lags[g]
		if l.Error() != nil || l.State != "Stable" || l.Lag.Total() != 3 {
			return fmt.Errorf("describe lag: state %q total lag %d err %v, want Stable 3", l.State, l.Lag.Total(), l.Error())
		}
		c.Close() // leaves the group
		if err := waitFor(ctx, func() error {
			os := kadm.Offsets{}
			os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 2, LeaderEpoch: -1})
			return adm.CommitAllOffsets(ctx, g, os)
		}); err != nil {
			return fmt.Errorf("reset to 2 after the member left: %w", err)
		}
		fo, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			return err
		}
		if o, _ := fo.Lookup(topic, 0); o.At != 2 {
			return fmt.Errorf("committed offset %d after reset, want 2", o.At)
		}
		lg, err := adm.ListGroups(ctx)
		if err != nil {
			return err
		}
		if _, ok := lg[g]; !ok {
			return fmt.Errorf("group %s not listed", g)
		}
		dg, err := adm.DeleteGroup(ctx, g)
		if err != nil || dg.Err != nil {
			return fmt.Errorf("delete group: %v %v", err, dg.Err)
		}
	}
	return nil
}

func franzGroupConsume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	c, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []rec
	for len(out) < n {
		fs := c.PollRecords(ctx, n-len(out))
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return out, errs[0].Err
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, franzRec(r)) })
		if err := c.CommitUncommittedOffsets(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}

func franzTransactions(ctx context.Context, topic string) error {
	// run.sh creates the topic (transactions is a precreate scenario).
	p, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.TransactionalID(topic+"-tx"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer p.Close()
	var want []rec
	for i, commit := range []bool{true, false, true} {
		if err := p.BeginTransaction(); err != nil {
			return err
		}
		rs := makeRecs(fmt.Sprintf("tx%d", i), 5, 0)
		if err := p.ProduceSync(ctx, franzRecords(topic, rs)...).FirstErr(); err != nil {
			return err
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			return fmt.Errorf("end transaction %d: %w", i, err)
		}
		if commit {
			want = append(want, rs...)
		}
	}
	got, err := franzClient{}.consume(ctx, topic, 10, true)
	if err != nil {
		return err
	}
	return compare(got, want)
}

// franzAbortTxn writes 5 records to partition 0 of topic in a transaction and aborts it, so
// the partition holds only aborted data and its abort marker (offsets 0-5).
func franzAbortTxn(ctx context.Context, topic string) error {
	p, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.TransactionalID(topic+"-abort"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.BeginTransaction(); err != nil {
		return err
	}
	if err := p.ProduceSync(ctx, franzRecords(topic, makeRecs("aborted", 5, 0))...).FirstErr(); err != nil {
		return err
	}
	return p.EndTransaction(ctx, kgo.TryAbort)
}

// franzClusterReady waits until every bootstrap address, asked directly, lists want brokers.
func franzClusterReady(ctx context.Context, want int) error {
	for _, addr := range brokers() {
		cl, err := newKgo(kgo.SeedBrokers(addr))
		if err != nil {
			return err
		}
		err = waitFor(ctx, func() error {
			req := kmsg.NewPtrMetadataRequest()
			resp, err := cl.SeedBrokers()[0].Request(ctx, req)
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			if n := len(resp.(*kmsg.MetadataResponse).Brokers); n != want {
				return fmt.Errorf("%s lists %d brokers, want %d", addr, n, want)
			}
			return nil
		})
		cl.Close()
		if err != nil {
			return err
		}
		fmt.Printf("%s lists %d brokers\n", addr, want)
	}
	return nil
}

func waitFor(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(300 * time.Millisecond):
		}
	}
}
