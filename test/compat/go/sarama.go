package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

type saramaClient struct{}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_6_0_0
	c.ClientID = "compat-sarama"
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Consumer.Return.Errors = true
	saramaSecurity(c)
	return c
}

var saramaCodecs = map[string]sarama.CompressionCodec{"": sarama.CompressionNone, "none": sarama.CompressionNone,
	"gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}

func saramaMsgs(topic string, recs []rec) []*sarama.ProducerMessage {
	out := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0, Key: sarama.ByteEncoder(r.Key), Value: sarama.ByteEncoder(r.Value)}
		for k, v := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
		}
		out[i] = m
	}
	return out
}

func saramaRec(m *sarama.ConsumerMessage) rec {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[string(x.Key)] = string(x.Value)
	}
	return rec{Key: m.Key, Value: m.Value, Headers: h}
}

func (saramaClient) produce(ctx context.Context, topic string, recs []rec, o prodOpts) error {
	c := saramaConfig()
	c.Producer.Compression = saramaCodecs[o.Codec]
	c.Producer.RequiredAcks = sarama.RequiredAcks(o.Acks)
	if o.Idempotent {
		c.Producer.Idempotent = true
		c.Producer.RequiredAcks = sarama.WaitForAll
		c.Net.MaxOpenRequests = 1
	}
	c.Producer.MaxMessageBytes = 2 << 20
	p, err := sarama.NewSyncProducer(brokers(), c)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.SendMessages(saramaMsgs(topic, recs))
}

func (saramaClient) consume(ctx context.Context, topic string, n int, readCommitted bool) ([]rec, error) {
	c := saramaConfig()
	if readCommitted {
		c.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	cons, err := sarama.NewConsumer(brokers(), c)
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	var out []rec
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, saramaRec(m))
		case e := <-pc.Errors():
			return out, e
		case <-ctx.Done():
			return out, fmt.Errorf("after %d of %d records: %w", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

type saramaHandler struct {
	n    int
	out  []rec
	done chan struct{}
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, cl sarama.ConsumerGroupClaim) error {
	for m := range cl.Messages() {
		if len(h.out) >= h.n {
			return nil
		}
		h.out = append(h.out, saramaRec(m))
		s.MarkMessage(m, "")
		s.Commit()
		if len(h.out) == h.n {
			close(h.done)
			return nil
		}
	}
	return nil
}

func saramaGroupConsume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	c := saramaConfig()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	g, err := sarama.NewConsumerGroup(brokers(), group, c)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	h := &saramaHandler{n: n, done: make(chan struct{})}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		for cctx.Err() == nil {
			if err := g.Consume(cctx, []string{topic}, h); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
	case err := <-g.Errors():
		cancel()
		return h.out, err
	}
	cancel()
	<-errc
	if len(h.out) < n {
		return h.out, fmt.Errorf("got %d of %d records: %v", len(h.out), n, ctx.Err())
	}
	return h.out, nil
}

func saramaAdmin() (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin(brokers(), saramaConfig())
}

func saramaAdminTopics(ctx context.Context, topic string) error {
	a, err := saramaAdmin()
	if err != nil {
		return err
	}
	defer a.Close()
	ret := "604800000"
	if err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: replicationFactor(),
		ConfigEntries: map[string]*string{"retention.ms": &ret}}, false); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	check := func(parts int) error {
		return waitFor(ctx, func() error {
			ts, err := a.ListTopics()
			if err != nil {
				return err
			}
			if ts[topic].NumPartitions != int32(parts) {
				return fmt.Errorf("list: %d partitions, want %d", ts[topic].NumPartitions, parts)
			}
			md, err := a.DescribeTopics([]string{topic})
			if err != nil {
				return err
			}
			if len(md) != 1 || !errors.Is(md[0].Err, sarama.ErrNoError) || len(md[0].Partitions) != parts {
				return fmt.Errorf("describe: %+v", md)
			}
			return nil
		})
	}
	if err := check(3); err != nil {
		return err
	}
	if err := a.CreatePartitions(topic, 6, nil, false); err != nil {
		return fmt.Errorf("create partitions: %w", err)
	}
	if err := check(6); err != nil {
		return err
	}
	if err := a.DeleteTopic(topic); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return waitFor(ctx, func() error {
		ts, err := a.ListTopics()
		if err != nil {
			return err
		}
		if _, ok := ts[topic]; ok {
			return errors.New("topic still listed after delete")
		}
		return nil
	})
}

func saramaAdminConfigs(ctx context.Context, topic string) error {
	a, err := saramaAdmin()
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: replicationFactor()}, false); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	v := "86400000"
	if err := a.IncrementalAlterConfig(sarama.TopicResource, topic,
		map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}}, false); err != nil {
		return fmt.Errorf("alter: %w", err)
	}
	return waitFor(ctx, func() error {
		rs, err := a.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic}}, sarama.DescribeConfigsOptions{})
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.ErrorCode != 0 {
				return &sarama.DescribeConfigError{Err: r.ErrorCode, ErrMsg: r.ErrorMsg}
			}
			for _, e := range r.Configs {
				if e.Name == "retention.ms" && e.Value == v {
					return nil
				}
			}
		}
		return fmt.Errorf("retention.ms not %s in describe", v)
	})
}

func saramaTransactions(ctx context.Context, topic string) error {
	// run.sh creates the topic (transactions is a precreate scenario).
	c := saramaConfig()
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Transaction.ID = topic + "-tx"
	c.Producer.Transaction.Timeout = 30 * time.Second
	c.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(brokers(), c)
	if err != nil {
		return err
	}
	defer p.Close()
	var want []rec
	for i, commit := range []bool{true, false, true} {
		if err := p.BeginTxn(); err != nil {
			return err
		}
		rs := makeRecs(fmt.Sprintf("tx%d", i), 5, 0)
		if err := p.SendMessages(saramaMsgs(topic, rs)); err != nil {
			return err
		}
		if commit {
			err = p.CommitTxn()
			want = append(want, rs...)
		} else {
			err = p.AbortTxn()
		}
		if err != nil {
			return fmt.Errorf("end transaction %d: %w", i, err)
		}
	}
	got, err := saramaClient{}.consume(ctx, topic, 10, true)
	if err != nil {
		return err
	}
	return compare(got, want)
}
