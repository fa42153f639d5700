// Command compatgo runs one compatibility scenario with one Go Kafka client.
//
//	compatgo -client franz|sarama|kafkago -scenario ID -bootstrap HOST:PORT -topic T
//
// It exits 0 when the scenario passed and prints why it failed otherwise.
// The special scenario "create-topic" creates -topic with -partitions and -configs (franz-go's
// kadm), used by the runner to prepare topics for clients that have no admin API; "abort-txn"
// writes 5 records to partition 0 of -topic in a transaction it aborts, for clients that
// cannot write transactions themselves (kcat); "cluster-ready" waits until every -bootstrap
// address answers Metadata listing -brokers brokers.
//
// Topics are created with the replication factor in COMPAT_RF (run.sh sets 1 for a single
// node, 3 for a cluster column; default 1).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// rec is one record as a scenario produces and expects it back.
type rec struct {
	Key, Value []byte
	Headers    map[string]string
}

type client interface {
	// produce writes recs to partition 0 of topic; opts: codec, acks, idempotent.
	produce(ctx context.Context, topic string, recs []rec, o prodOpts) error
	// consume reads n records from partition 0 of topic from the beginning.
	consume(ctx context.Context, topic string, n int, readCommitted bool) ([]rec, error)
}

type prodOpts struct {
	Codec      string // none gzip snappy lz4 zstd
	Acks       int    // -1, 0, 1
	Idempotent bool
}

var bootstrap string

// topicConfigs are create-topic's -configs.
var topicConfigs = map[string]*string{}

func main() {
	cl := flag.String("client", "franz", "franz, sarama or kafkago")
	sc := flag.String("scenario", "", "scenario id")
	flag.StringVar(&bootstrap, "bootstrap", "127.0.0.1:9092", "bootstrap address")
	topic := flag.String("topic", "", "topic to use")
	parts := flag.Int("partitions", 1, "partitions for create-topic")
	flag.IntVar(&wantBrokers, "brokers", 1, "live brokers cluster-ready waits for")
	flag.Func("configs", "topic configs for create-topic: k=v,k=v", func(s string) error {
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("config %q is not k=v", kv)
			}
			topicConfigs[k] = &v
		}
		return nil
	})
	flag.Parse()
	timeout := 55 * time.Second
	switch {
	case strings.HasPrefix(*sc, "eos-rebalance-"):
		timeout = 170 * time.Second // cases gives these 180 s
	case *sc == "share-consumer":
		timeout = 140 * time.Second // cases gives it 150 s
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := run(ctx, *cl, *sc, *topic, *parts); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL %s/%s: %v\n", *sc, *cl, err)
		os.Exit(1)
	}
	fmt.Printf("PASS %s/%s\n", *sc, *cl)
}

func newClient(name string) (client, error) {
	switch name {
	case "franz":
		return franzClient{}, nil
	case "sarama":
		return saramaClient{}, nil
	case "kafkago":
		return kafkaGoClient{}, nil
	}
	return nil, fmt.Errorf("unknown client %q", name)
}

func run(ctx context.Context, name, sc, topic string, parts int) error {
	switch sc {
	case "create-topic":
		return franzCreateTopic(ctx, topic, parts)
	case "cluster-ready":
		return franzClusterReady(ctx, wantBrokers)
	case "abort-txn":
		return franzAbortTxn(ctx, topic)
	case "produce-record-errors":
		if name != "franz" {
			return fmt.Errorf("scenario %q not implemented for %s", sc, name)
		}
		return franzRecordErrors(ctx, topic)
	case "admin-topics":
		return adminTopics(ctx, name, topic)
	case "admin-configs":
		return adminConfigs(ctx, name, topic)
	case "group-commit-resume":
		return groupResume(ctx, name, topic)
	case "transactions":
		return transactions(ctx, name, topic)
	case "list-offsets-time", "delete-records", "group-admin":
		return franzAdminExtra(ctx, sc, topic)
	case "min-isr-rf1":
		return minISRRF1(ctx, name, topic)
	case "share-consumer":
		if name != "franz" {
			return fmt.Errorf("scenario %q not implemented for %s", sc, name)
		}
		return franzShareConsumer(ctx, topic)
	case "eos-rebalance-eager", "eos-rebalance-cooperative", "eos-rebalance-consumer":
		if name != "franz" {
			return fmt.Errorf("scenario %q not implemented for %s", sc, name)
		}
		return franzEOSRebalance(ctx, topic, strings.TrimPrefix(sc, "eos-rebalance-"))
	}
	c, err := newClient(name)
	if err != nil {
		return err
	}
	var want []rec
	step := func(o prodOpts, rs []rec) error {
		if err := c.produce(ctx, topic, rs, o); err != nil {
			return fmt.Errorf("produce %+v: %w", o, err)
		}
		want = append(want, rs...)
		return nil
	}
	switch sc {
	case "produce-consume":
		err = step(prodOpts{Acks: -1}, makeRecs("pc", 10, 0))
	case "produce-codecs":
		for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
			if err = step(prodOpts{Codec: codec, Acks: -1}, makeRecs(codec, 5, 0)); err != nil {
				break
			}
		}
	case "large-record":
		err = step(prodOpts{Acks: -1}, makeRecs("big", 1, 900*1024))
	case "acks":
		// acks=1 goes first: Kafka drops acks=0 records sent while a new topic's
		// leadership is still propagating (it closes the connection on
		// NOT_LEADER_OR_FOLLOWER, and an acks=0 producer never learns of it).
		for _, acks := range []int{1, 0, -1} {
			if err = step(prodOpts{Acks: acks}, makeRecs(fmt.Sprintf("acks%d", acks), 5, 0)); err != nil {
				break
			}
		}
	case "idempotent":
		err = step(prodOpts{Acks: -1, Idempotent: true}, makeRecs("idem", 10, 0))
	default:
		return fmt.Errorf("scenario %q not implemented for %s", sc, name)
	}
	if err != nil {
		return err
	}
	got, err := c.consume(ctx, topic, len(want), false)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return compare(got, want)
}

// makeRecs builds n records named prefix-i, with values padded to size bytes if size > 0.
func makeRecs(prefix string, n, size int) []rec {
	rs := make([]rec, n)
	for i := range rs {
		v := []byte(fmt.Sprintf("%s-value-%d", prefix, i))
		if size > 0 {
			v = append(v, bytes.Repeat([]byte{'x'}, size-len(v))...)
		}
		rs[i] = rec{Key: []byte(fmt.Sprintf("%s-key-%d", prefix, i)), Value: v,
			Headers: map[string]string{"h1": prefix, "idx": fmt.Sprint(i)}}
	}
	return rs
}

func compare(got, want []rec) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) {
			return fmt.Errorf("record %d: got key %q value %.40q (len %d), want key %q value %.40q (len %d)",
				i, g.Key, g.Value, len(g.Value), w.Key, w.Value, len(w.Value))
		}
		for k, v := range w.Headers {
			if g.Headers[k] != v {
				return fmt.Errorf("record %d: header %s = %q, want %q (all: %v)", i, k, g.Headers[k], v, g.Headers)
			}
		}
	}
	return nil
}

func brokers() []string { return strings.Split(bootstrap, ",") }

// wantBrokers is cluster-ready's -brokers.
var wantBrokers int

// replicationFactor is COMPAT_RF, the replication factor scenarios give the topics they create.
func replicationFactor() int16 {
	rf, err := strconv.Atoi(os.Getenv("COMPAT_RF"))
	if err != nil || rf < 1 {
		return 1
	}
	return int16(rf)
}
