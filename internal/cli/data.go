package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// murmur2 is Kafka's Utils.murmur2 (seed 0x9747b28c), which the default
// partitioner applies to a record's key: partition = (h & 0x7fffffff) % n.
func murmur2(data []byte) int32 {
	const m, r = uint32(0x5bd1e995), 24
	h := uint32(0x9747b28c) ^ uint32(len(data))
	n := len(data) / 4 * 4
	for i := 0; i < n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(data) % 4 {
	case 3:
		h ^= uint32(data[n+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[n+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[n])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// partitionLeaders returns each partition's leader of topic.
func partitionLeaders(ctx context.Context, cl *Client, topic string) (map[int32]protocol.BrokerID, error) {
	md, err := cl.Metadata(ctx, []string{topic})
	if err != nil {
		return nil, err
	}
	out := map[int32]protocol.BrokerID{}
	for _, t := range md.Topics {
		if err := codeErr(t.ErrorCode, nil, fmt.Sprintf("topic %q", topic)); err != nil {
			return nil, err
		}
		for _, p := range t.Partitions {
			out[p.PartitionIndex] = p.LeaderID
		}
	}
	if len(out) == 0 {
		return nil, &KafkaError{Code: errcode.UnknownTopicOrPartition, Resource: fmt.Sprintf("topic %q", topic)}
	}
	return out, nil
}

type produced struct {
	Topic      string `json:"topic"`
	Partition  int32  `json:"partition"`
	BaseOffset int64  `json:"base_offset"`
	Count      int    `json:"count"`
}

func runProduce(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "produce")
	partition := s.fs.Int("partition", -1, "partition to write to (default: by key with Kafka's partitioner, else round-robin per batch)")
	s.fs.IntVar(partition, "p", -1, "short for --partition")
	key := s.fs.String("key", "", "key for every record")
	s.fs.StringVar(key, "k", "", "short for --key")
	keySep := s.fs.String("key-separator", "", "split each line at the first SEP into key and value (kafka-console-producer's parse.key)")
	acks := s.fs.Int("acks", -1, "acks: -1 (all in-sync replicas) or 1 (the leader)")
	maxBatch := s.fs.Int("batch", 500, "records per request at most")
	pos, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(pos) != 1 {
		return s.exit(usageErr(errors.New("name one topic: echo hello | spool produce TOPIC")))
	}
	if *acks != -1 && *acks != 1 {
		// acks=0 gets no response, so the CLI could not report what was written.
		return s.exit(usageErr(fmt.Errorf("--acks %d: use -1 (all in-sync replicas) or 1 (the leader)", *acks)))
	}
	topic := pos[0]
	leaders, err := partitionLeaders(cctx, cl, topic)
	if err != nil {
		return s.exit(err)
	}
	if *partition >= 0 {
		if _, ok := leaders[int32(*partition)]; !ok {
			return s.exit(&KafkaError{Code: errcode.UnknownTopicOrPartition, Resource: fmt.Sprintf("partition %s-%d", topic, *partition),
				Message: fmt.Sprintf("the topic has %d partitions", len(leaders))})
		}
	}
	var results []produced
	rr := int32(0)
	send := func(lines []string) error {
		byPart := map[int32][]records.Record{}
		now := time.Now().UnixMilli()
		next := rr % int32(len(leaders))
		rr++
		for _, line := range lines {
			rec := records.Record{Timestamp: now, Value: []byte(line)}
			if *key != "" {
				rec.Key = []byte(*key)
			}
			if *keySep != "" {
				if k, v, ok := strings.Cut(line, *keySep); ok {
					rec.Key, rec.Value = []byte(k), []byte(v)
				}
			}
			p := next
			if *partition >= 0 {
				p = int32(*partition)
			} else if rec.Key != nil {
				p = (murmur2(rec.Key) & 0x7fffffff) % int32(len(leaders))
			}
			byPart[p] = append(byPart[p], rec)
		}
		parts := make([]int32, 0, len(byPart))
		for p := range byPart {
			parts = append(parts, p)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		for _, p := range parts {
			batch, err := records.AppendBatch(nil, records.NewBatchOptions(), byPart[p])
			if err != nil {
				return err
			}
			req := &protocol.ProduceRequest{Acks: int16(*acks), TimeoutMs: 30000, TopicData: []protocol.ProduceRequestTopicProduceData{{
				Name: protocol.TopicName(topic), PartitionData: []protocol.ProduceRequestPartitionProduceData{{Index: p, Records: batch}}}}}
			resp, err := cl.Broker(cctx, leaders[p], req)
			if err != nil {
				return err
			}
			for _, t := range resp.(*protocol.ProduceResponse).Responses {
				for _, pr := range t.PartitionResponses {
					if err := codeErr(pr.ErrorCode, pr.ErrorMessage, fmt.Sprintf("partition %s-%d", topic, pr.Index)); err != nil {
						return err
					}
					r := produced{Topic: topic, Partition: pr.Index, BaseOffset: pr.BaseOffset, Count: len(byPart[p])}
					results = append(results, r)
					if s.output != "json" {
						fmt.Fprintf(e.Stdout, "produced %d records to %s-%d at offset %d\n", r.Count, topic, r.Partition, r.BaseOffset)
					}
				}
			}
		}
		return nil
	}
	in := bufio.NewReaderSize(e.Stdin, 1<<20)
	var lines []string
	for {
		line, rerr := in.ReadString('\n')
		if line != "" {
			lines = append(lines, strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
		}
		// Send when the batch is full, at the end of input, or when no more
		// input is waiting (an interactive producer sees each line acknowledged).
		if len(lines) > 0 && (len(lines) >= *maxBatch || rerr != nil || in.Buffered() == 0) {
			if err := send(lines); err != nil {
				return s.exit(err)
			}
			lines = lines[:0]
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return s.exit(fmt.Errorf("read stdin: %w", rerr))
		}
	}
	if s.output == "json" {
		if results == nil {
			results = []produced{}
		}
		return s.exit(writeJSON(e.Stdout, results))
	}
	return exitOK
}

type consumed struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp int64  `json:"timestamp"`
	Key       string `json:"key,omitempty"`
	Value     string `json:"value"`
}

func runConsume(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "consume")
	partition := s.fs.Int("partition", -1, "only this partition (default: all)")
	s.fs.IntVar(partition, "p", -1, "short for --partition")
	offset := s.fs.String("offset", "start", "where to begin: start, end, or an offset")
	num := s.fs.Int("num", 0, "stop after this many records (0: no limit)")
	s.fs.IntVar(num, "n", 0, "short for --num")
	follow := s.fs.Bool("follow", false, "keep waiting for new records (until --timeout or Ctrl-C) instead of stopping at the end")
	s.fs.BoolVar(follow, "f", false, "short for --follow")
	printKey := s.fs.Bool("print-key", false, "print KEY<tab>VALUE")
	pos, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(pos) != 1 {
		return s.exit(usageErr(errors.New("name one topic: spool consume TOPIC [-n N]")))
	}
	topic := pos[0]
	leaders, err := partitionLeaders(cctx, cl, topic)
	if err != nil {
		return s.exit(err)
	}
	var parts []tp
	for p := range leaders {
		if *partition < 0 || int32(*partition) == p {
			parts = append(parts, tp{topic, p})
		}
	}
	if len(parts) == 0 {
		return s.exit(&KafkaError{Code: errcode.UnknownTopicOrPartition, Resource: fmt.Sprintf("partition %s-%d", topic, *partition)})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Partition < parts[j].Partition })
	ends, err := listOffsets(cctx, cl, parts, latestTimestamp)
	if err != nil {
		return s.exit(err)
	}
	next := map[tp]int64{}
	switch *offset {
	case "start", "beginning", "earliest":
		if next, err = listOffsets(cctx, cl, parts, earliestTimestamp); err != nil {
			return s.exit(err)
		}
	case "end", "latest":
		for k, v := range ends {
			next[k] = v
		}
	default:
		n, err := strconv.ParseInt(*offset, 10, 64)
		if err != nil || n < 0 {
			return s.exit(usageErr(fmt.Errorf("--offset %q: use start, end or a non-negative offset", *offset)))
		}
		for _, p := range parts {
			next[p] = n
		}
	}
	count := 0
	emit := func(p tp, r *records.Record) {
		c := consumed{Topic: p.Topic, Partition: p.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Value: string(r.Value)}
		if r.Key != nil {
			c.Key = string(r.Key)
		}
		if s.output == "json" {
			_ = writeJSON(e.Stdout, c)
		} else if *printKey {
			fmt.Fprintf(e.Stdout, "%s\t%s\n", c.Key, c.Value)
		} else {
			fmt.Fprintln(e.Stdout, c.Value)
		}
		count++
	}
	for {
		if *num > 0 && count >= *num {
			return exitOK
		}
		active := map[protocol.BrokerID][]tp{}
		for _, p := range parts {
			if *follow || next[p] < ends[p] {
				active[leaders[p.Partition]] = append(active[leaders[p.Partition]], p)
			}
		}
		if len(active) == 0 {
			return exitOK
		}
		for leader, ps := range active {
			req := &protocol.FetchRequest{ReplicaID: -1, MaxWaitMs: 500, MinBytes: 1, MaxBytes: 4 << 20, SessionEpoch: -1,
				ReplicaState: protocol.FetchRequestReplicaState{ReplicaID: -1, ReplicaEpoch: -1}}
			ft := protocol.FetchRequestFetchTopic{Topic: protocol.TopicName(topic)}
			for _, p := range ps {
				ft.Partitions = append(ft.Partitions, protocol.FetchRequestFetchPartition{Partition: p.Partition, CurrentLeaderEpoch: -1,
					FetchOffset: next[p], LastFetchedEpoch: -1, LogStartOffset: -1, PartitionMaxBytes: 1 << 20, HighWatermark: -1})
			}
			req.Topics = []protocol.FetchRequestFetchTopic{ft}
			resp, err := cl.Broker(cctx, leader, req)
			if err != nil {
				if *follow && errors.Is(err, context.DeadlineExceeded) {
					return exitOK // --follow ends at --timeout
				}
				return s.exit(err)
			}
			fr := resp.(*protocol.FetchResponse)
			if err := codeErr(fr.ErrorCode, nil, "fetch"); err != nil {
				return s.exit(err)
			}
			for _, t := range fr.Responses {
				for _, pd := range t.Partitions {
					p := tp{topic, pd.PartitionIndex}
					if err := codeErr(pd.ErrorCode, nil, fmt.Sprintf("partition %s-%d", topic, pd.PartitionIndex)); err != nil {
						return s.exit(err)
					}
					for batch, err := range records.Batches(pd.Records) {
						if err != nil {
							break // a partial batch at the end of the response
						}
						h, herr := records.ParseHeader(batch)
						if herr == nil && h.IsControl() {
							next[p] = h.LastOffset() + 1
							continue
						}
						ferr := records.ForEachRecord(batch, 64<<20, func(r *records.Record) error {
							if r.Offset < next[p] || (*num > 0 && count >= *num) {
								return nil
							}
							if !*follow && r.Offset >= ends[p] {
								return nil
							}
							emit(p, r)
							next[p] = r.Offset + 1
							return nil
						})
						if ferr != nil {
							return s.exit(fmt.Errorf("partition %s-%d: %w", topic, pd.PartitionIndex, ferr))
						}
						if herr == nil && h.LastOffset()+1 > next[p] && (*num == 0 || count < *num) {
							next[p] = h.LastOffset() + 1
						}
					}
				}
			}
		}
		if cctx.Err() != nil {
			if *follow {
				return exitOK
			}
			return s.exit(cctx.Err())
		}
	}
}
