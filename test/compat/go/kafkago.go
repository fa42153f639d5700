package main

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

type kafkaGoClient struct{}

var kafkaGoCodecs = map[string]compress.Compression{"gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd}

func kafkaGoMsgs(recs []rec) []kafka.Message {
	out := make([]kafka.Message, len(recs))
	for i, r := range recs {
		m := kafka.Message{Partition: 0, Key: r.Key, Value: r.Value}
		for k, v := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: k, Value: []byte(v)})
		}
		out[i] = m
	}
	return out
}

func kafkaGoRec(m kafka.Message) rec {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return rec{Key: m.Key, Value: m.Value, Headers: h}
}

// partitionZero sends every message to partition 0, like the other clients' manual partitioners.
type partitionZero struct{}

func (partitionZero) Balance(kafka.Message, ...int) int { return 0 }

func (kafkaGoClient) produce(ctx context.Context, topic string, recs []rec, o prodOpts) error {
	if o.Idempotent {
		return fmt.Errorf("kafka-go has no idempotent producer")
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers()...), Topic: topic, Balancer: partitionZero{},
		RequiredAcks: kafka.RequiredAcks(o.Acks), BatchSize: len(recs), BatchBytes: 2 << 20}
	if c, ok := kafkaGoCodecs[o.Codec]; ok {
		w.Compression = c
	}
	defer w.Close()
	return w.WriteMessages(ctx, kafkaGoMsgs(recs)...)
}

func (kafkaGoClient) consume(ctx context.Context, topic string, n int, readCommitted bool) ([]rec, error) {
	cfg := kafka.ReaderConfig{Brokers: brokers(), Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 4 << 20}
	if readCommitted {
		cfg.IsolationLevel = kafka.ReadCommitted
	}
	r := kafka.NewReader(cfg)
	defer r.Close()
	var out []rec
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("after %d of %d records: %w", len(out), n, err)
		}
		out = append(out, kafkaGoRec(m))
	}
	return out, nil
}

func kafkaGoGroupConsume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers(), Topic: topic, GroupID: group, MinBytes: 1,
		MaxBytes: 4 << 20, StartOffset: kafka.FirstOffset})
	defer r.Close()
	var out []rec
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("after %d of %d records: %w", len(out), n, err)
		}
		out = append(out, kafkaGoRec(m))
		if err := r.CommitMessages(ctx, m); err != nil {
			return out, err
		}
	}
	return out, nil
}
