package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Config resource types and sources (Kafka's ConfigResource.Type and
// DescribeConfigsResponse.ConfigSource).
const (
	resourceTopic       int8 = 2
	resourceBroker      int8 = 4
	sourceDynamicTopic  int8 = 1
	opSet               int8 = 0
	opDelete            int8 = 1
	defaultTopicTimeout      = 30000
)

func topicIDString(id protocol.UUID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func runTopicCreate(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "topic create")
	partitions := s.fs.Int("partitions", -1, "number of partitions (default: the broker's num.partitions)")
	s.fs.IntVar(partitions, "p", -1, "short for --partitions")
	rf := s.fs.Int("replication-factor", -1, "replicas per partition (default: the broker's default.replication.factor)")
	s.fs.IntVar(rf, "r", -1, "short for --replication-factor")
	var cfgs multi
	s.fs.Var(&cfgs, "config", "topic config name=value (repeatable)")
	s.fs.Var(&cfgs, "c", "short for --config")
	ifNotExists := s.fs.Bool("if-not-exists", false, "succeed when the topic already exists")
	names, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(names) == 0 {
		return s.exit(usageErr(errors.New("name at least one topic: spool topic create NAME [-p N] [-r N]")))
	}
	configs, err := parseConfigs(cfgs)
	if err != nil {
		return s.exit(err)
	}
	req := &protocol.CreateTopicsRequest{TimeoutMs: defaultTopicTimeout}
	for _, n := range names {
		t := protocol.CreateTopicsRequestCreatableTopic{Name: protocol.TopicName(n), NumPartitions: int32(*partitions), ReplicationFactor: int16(*rf)}
		for _, k := range sortedKeys(configs) {
			v := configs[k]
			t.Configs = append(t.Configs, protocol.CreateTopicsRequestCreatableTopicConfig{Name: k, Value: &v})
		}
		req.Topics = append(req.Topics, t)
	}
	resp, err := cl.Any(cctx, req)
	if err != nil {
		return s.exit(err)
	}
	type result struct {
		Topic             string `json:"topic"`
		TopicID           string `json:"topic_id,omitempty"`
		Partitions        int32  `json:"partitions"`
		ReplicationFactor int16  `json:"replication_factor"`
		Status            string `json:"status"`
		Error             string `json:"error,omitempty"`
	}
	var results []result
	var errs []error
	for _, t := range resp.(*protocol.CreateTopicsResponse).Topics {
		r := result{Topic: string(t.Name), Partitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor, Status: "created"}
		if t.TopicID != (protocol.UUID{}) {
			r.TopicID = topicIDString(t.TopicID)
		}
		if t.ErrorCode == errcode.TopicAlreadyExists && *ifNotExists {
			r.Status = "exists"
		} else if err := codeErr(t.ErrorCode, t.ErrorMessage, fmt.Sprintf("topic %q", t.Name)); err != nil {
			r.Status, r.Error = "failed", errcode.Name(t.ErrorCode)
			errs = append(errs, err)
		}
		results = append(results, r)
	}
	if s.output == "json" {
		_ = writeJSON(e.Stdout, results)
	} else {
		tb := newTable(e.Stdout, "TOPIC", "STATUS", "PARTITIONS", "REPLICATION-FACTOR")
		for _, r := range results {
			st := r.Status
			if r.Error != "" {
				st = r.Error
			}
			tb.row(r.Topic, st, r.Partitions, r.ReplicationFactor)
		}
		tb.flush()
	}
	return s.exit(errors.Join(errs...))
}

func runTopicList(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "topic list")
	excludeInternal := s.fs.Bool("exclude-internal", false, "leave out internal topics (__consumer_offsets, ...)")
	_, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	md, err := cl.Metadata(cctx, nil)
	if err != nil {
		return s.exit(err)
	}
	type row struct {
		Topic      string `json:"topic"`
		TopicID    string `json:"topic_id"`
		Partitions int    `json:"partitions"`
		Replicas   int    `json:"replication_factor"`
		Internal   bool   `json:"internal"`
	}
	var rows []row
	for _, t := range md.Topics {
		if t.Name == nil || (*excludeInternal && t.IsInternal) {
			continue
		}
		rf := 0
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].ReplicaNodes)
		}
		rows = append(rows, row{Topic: string(*t.Name), TopicID: topicIDString(t.TopicID), Partitions: len(t.Partitions), Replicas: rf, Internal: t.IsInternal})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Topic < rows[j].Topic })
	if s.output == "json" {
		if rows == nil {
			rows = []row{}
		}
		return s.exit(writeJSON(e.Stdout, rows))
	}
	tb := newTable(e.Stdout, "TOPIC", "PARTITIONS", "REPLICATION-FACTOR")
	for _, r := range rows {
		tb.row(r.Topic, r.Partitions, r.Replicas)
	}
	tb.flush()
	return exitOK
}

// partitionInfo is one partition as `topic describe` prints it.
type partitionInfo struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas"`
	Error           string  `json:"error,omitempty"`
}

// underReplicated is Kafka's definition: fewer in-sync replicas than replicas.
func (p partitionInfo) underReplicated() bool { return len(p.ISR) < len(p.Replicas) }

// unavailable: no leader, or the leader is offline.
func (p partitionInfo) unavailable() bool {
	return p.Leader < 0 || slices.Contains(p.OfflineReplicas, p.Leader)
}

type topicInfo struct {
	Topic             string            `json:"topic"`
	TopicID           string            `json:"topic_id"`
	Internal          bool              `json:"internal"`
	PartitionCount    int               `json:"partition_count"`
	ReplicationFactor int               `json:"replication_factor"`
	Configs           map[string]string `json:"configs"`
	Partitions        []partitionInfo   `json:"partitions"`
}

func ids(b []protocol.BrokerID) []int32 {
	out := make([]int32, len(b))
	for i, v := range b {
		out[i] = int32(v)
	}
	return out
}

func joinIDs(v []int32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// describeTopics collects metadata and non-default configs of topics (all when names is empty).
func describeTopics(ctx context.Context, cl *Client, names []string) ([]topicInfo, error) {
	var want []string
	if len(names) > 0 {
		want = names
	}
	md, err := cl.Metadata(ctx, want)
	if err != nil {
		return nil, err
	}
	var out []topicInfo
	var errs []error
	for _, t := range md.Topics {
		if t.Name == nil {
			continue
		}
		if err := codeErr(t.ErrorCode, nil, fmt.Sprintf("topic %q", *t.Name)); err != nil {
			errs = append(errs, err)
			continue
		}
		ti := topicInfo{Topic: string(*t.Name), TopicID: topicIDString(t.TopicID), Internal: t.IsInternal, PartitionCount: len(t.Partitions), Configs: map[string]string{}}
		for _, p := range t.Partitions {
			pi := partitionInfo{Partition: p.PartitionIndex, Leader: int32(p.LeaderID), LeaderEpoch: p.LeaderEpoch,
				Replicas: ids(p.ReplicaNodes), ISR: ids(p.IsrNodes), OfflineReplicas: ids(p.OfflineReplicas)}
			if p.ErrorCode != errcode.None {
				pi.Error = errcode.Name(p.ErrorCode)
			}
			if len(pi.Replicas) > ti.ReplicationFactor {
				ti.ReplicationFactor = len(pi.Replicas)
			}
			ti.Partitions = append(ti.Partitions, pi)
		}
		sort.Slice(ti.Partitions, func(i, j int) bool { return ti.Partitions[i].Partition < ti.Partitions[j].Partition })
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	if len(out) > 0 {
		req := &protocol.DescribeConfigsRequest{}
		for _, t := range out {
			req.Resources = append(req.Resources, protocol.DescribeConfigsRequestDescribeConfigsResource{ResourceType: resourceTopic, ResourceName: t.Topic})
		}
		resp, err := cl.Any(ctx, req)
		if err != nil {
			return nil, err
		}
		byName := map[string]*topicInfo{}
		for i := range out {
			byName[out[i].Topic] = &out[i]
		}
		for _, r := range resp.(*protocol.DescribeConfigsResponse).Results {
			ti := byName[r.ResourceName]
			if ti == nil {
				continue
			}
			if err := codeErr(r.ErrorCode, r.ErrorMessage, fmt.Sprintf("topic %q configs", r.ResourceName)); err != nil {
				errs = append(errs, err)
				continue
			}
			for _, c := range r.Configs {
				if c.ConfigSource == sourceDynamicTopic && c.Value != nil {
					ti.Configs[c.Name] = *c.Value
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

func runTopicDescribe(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "topic describe")
	urp := s.fs.Bool("under-replicated-partitions", false, "only partitions with fewer in-sync replicas than replicas")
	unavailable := s.fs.Bool("unavailable-partitions", false, "only partitions without an available leader")
	names, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	topics, derr := describeTopics(cctx, cl, names)
	if derr != nil && topics == nil {
		return s.exit(derr)
	}
	filter := *urp || *unavailable
	if filter {
		for i := range topics {
			var keep []partitionInfo
			for _, p := range topics[i].Partitions {
				if (*urp && p.underReplicated()) || (*unavailable && p.unavailable()) {
					keep = append(keep, p)
				}
			}
			topics[i].Partitions = keep
		}
	}
	if s.output == "json" {
		if topics == nil {
			topics = []topicInfo{}
		}
		_ = writeJSON(e.Stdout, topics)
		return s.exit(derr)
	}
	// Kafka's kafka-topics.sh --describe layout, so scripts that grep it
	// (e.g. `--under-replicated-partitions | wc -l`) work the same.
	for _, t := range topics {
		if !filter {
			var cfg []string
			for _, k := range sortedKeys(t.Configs) {
				cfg = append(cfg, k+"="+t.Configs[k])
			}
			fmt.Fprintf(e.Stdout, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
				t.Topic, t.TopicID, t.PartitionCount, t.ReplicationFactor, strings.Join(cfg, ","))
		}
		for _, p := range t.Partitions {
			leader := strconv.Itoa(int(p.Leader))
			if p.Leader < 0 {
				leader = "none"
			}
			line := fmt.Sprintf("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s", t.Topic, p.Partition, leader, joinIDs(p.Replicas), joinIDs(p.ISR))
			if len(p.OfflineReplicas) > 0 {
				line += "\tOffline: " + joinIDs(p.OfflineReplicas)
			}
			fmt.Fprintln(e.Stdout, line)
		}
	}
	return s.exit(derr)
}

func runTopicAlter(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "topic alter")
	partitions := s.fs.Int("partitions", 0, "new partition count (can only grow)")
	s.fs.IntVar(partitions, "p", 0, "short for --partitions")
	var set, del multi
	s.fs.Var(&set, "config", "set topic config name=value (repeatable)")
	s.fs.Var(&set, "c", "short for --config")
	s.fs.Var(&del, "delete-config", "remove a topic config override, back to the broker default (repeatable)")
	names, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(names) != 1 {
		return s.exit(usageErr(errors.New("name one topic: spool topic alter NAME [-p N] [-c k=v] [--delete-config k]")))
	}
	if *partitions == 0 && len(set) == 0 && len(del) == 0 {
		return s.exit(usageErr(errors.New("nothing to change: pass --partitions N, --config k=v or --delete-config k")))
	}
	configs, err := parseConfigs(set)
	if err != nil {
		return s.exit(err)
	}
	topic := names[0]
	if *partitions != 0 {
		req := &protocol.CreatePartitionsRequest{TimeoutMs: defaultTopicTimeout,
			Topics: []protocol.CreatePartitionsRequestCreatePartitionsTopic{{Name: protocol.TopicName(topic), Count: int32(*partitions)}}}
		resp, err := cl.Any(cctx, req)
		if err != nil {
			return s.exit(err)
		}
		for _, r := range resp.(*protocol.CreatePartitionsResponse).Results {
			if err := codeErr(r.ErrorCode, r.ErrorMessage, fmt.Sprintf("topic %q", r.Name)); err != nil {
				return s.exit(err)
			}
		}
		fmt.Fprintf(e.Stdout, "topic %s: partitions increased to %d\n", topic, *partitions)
	}
	if len(configs) > 0 || len(del) > 0 {
		res := protocol.IncrementalAlterConfigsRequestAlterConfigsResource{ResourceType: resourceTopic, ResourceName: topic}
		for _, k := range sortedKeys(configs) {
			v := configs[k]
			res.Configs = append(res.Configs, protocol.IncrementalAlterConfigsRequestAlterableConfig{Name: k, ConfigOperation: opSet, Value: &v})
		}
		for _, k := range del {
			res.Configs = append(res.Configs, protocol.IncrementalAlterConfigsRequestAlterableConfig{Name: k, ConfigOperation: opDelete})
		}
		resp, err := cl.Any(cctx, &protocol.IncrementalAlterConfigsRequest{Resources: []protocol.IncrementalAlterConfigsRequestAlterConfigsResource{res}})
		if err != nil {
			return s.exit(err)
		}
		for _, r := range resp.(*protocol.IncrementalAlterConfigsResponse).Responses {
			if err := codeErr(r.ErrorCode, r.ErrorMessage, fmt.Sprintf("topic %q", r.ResourceName)); err != nil {
				return s.exit(err)
			}
		}
		fmt.Fprintf(e.Stdout, "topic %s: configs updated (%d set, %d deleted)\n", topic, len(configs), len(del))
	}
	return exitOK
}

func runTopicDelete(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "topic delete")
	ifExists := s.fs.Bool("if-exists", false, "succeed when a topic does not exist")
	names, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(names) == 0 {
		return s.exit(usageErr(errors.New("name at least one topic: spool topic delete NAME [NAME...]")))
	}
	req := &protocol.DeleteTopicsRequest{TimeoutMs: defaultTopicTimeout}
	for _, n := range names {
		name := protocol.TopicName(n)
		req.TopicNames = append(req.TopicNames, name)
		req.Topics = append(req.Topics, protocol.DeleteTopicsRequestDeleteTopicState{Name: &name})
	}
	resp, err := cl.Any(cctx, req)
	if err != nil {
		return s.exit(err)
	}
	var errs []error
	for _, r := range resp.(*protocol.DeleteTopicsResponse).Responses {
		name := ""
		if r.Name != nil {
			name = string(*r.Name)
		}
		switch {
		case r.ErrorCode == errcode.None:
			fmt.Fprintf(e.Stdout, "topic %s: deleted\n", name)
		case r.ErrorCode == errcode.UnknownTopicOrPartition && *ifExists:
			fmt.Fprintf(e.Stdout, "topic %s: does not exist\n", name)
		default:
			errs = append(errs, codeErr(r.ErrorCode, r.ErrorMessage, fmt.Sprintf("topic %q", name)))
		}
	}
	return s.exit(errors.Join(errs...))
}
