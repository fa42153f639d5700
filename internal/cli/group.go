package cli

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// tp is a topic partition.
type tp struct {
	Topic     string
	Partition int32
}

// ListOffsets timestamps (Kafka's ListOffsetsRequest.EARLIEST/LATEST_TIMESTAMP).
const (
	latestTimestamp   int64 = -1
	earliestTimestamp int64 = -2
)

// listOffsets asks each partition's leader for the offset at ts.
func listOffsets(ctx context.Context, cl *Client, parts []tp, ts int64) (map[tp]int64, error) {
	topics := map[string]bool{}
	for _, p := range parts {
		topics[p.Topic] = true
	}
	md, err := cl.Metadata(ctx, sortedKeys(topics))
	if err != nil {
		return nil, err
	}
	leader := map[tp]protocol.BrokerID{}
	for _, t := range md.Topics {
		if t.Name == nil {
			continue
		}
		if err := codeErr(t.ErrorCode, nil, fmt.Sprintf("topic %q", *t.Name)); err != nil {
			return nil, err
		}
		for _, p := range t.Partitions {
			leader[tp{string(*t.Name), p.PartitionIndex}] = p.LeaderID
		}
	}
	byLeader := map[protocol.BrokerID]map[string][]int32{}
	for _, p := range parts {
		l, ok := leader[p]
		if !ok {
			return nil, &KafkaError{Code: errcode.UnknownTopicOrPartition, Resource: fmt.Sprintf("partition %s-%d", p.Topic, p.Partition)}
		}
		if l < 0 {
			return nil, &KafkaError{Code: errcode.LeaderNotAvailable, Resource: fmt.Sprintf("partition %s-%d", p.Topic, p.Partition)}
		}
		if byLeader[l] == nil {
			byLeader[l] = map[string][]int32{}
		}
		byLeader[l][p.Topic] = append(byLeader[l][p.Topic], p.Partition)
	}
	out := map[tp]int64{}
	for l, ts2 := range byLeader {
		req := &protocol.ListOffsetsRequest{ReplicaID: -1}
		for _, topic := range sortedKeys(ts2) {
			t := protocol.ListOffsetsRequestListOffsetsTopic{Name: protocol.TopicName(topic)}
			for _, p := range ts2[topic] {
				t.Partitions = append(t.Partitions, protocol.ListOffsetsRequestListOffsetsPartition{PartitionIndex: p, CurrentLeaderEpoch: -1, Timestamp: ts, MaxNumOffsets: 1})
			}
			req.Topics = append(req.Topics, t)
		}
		resp, err := cl.Broker(ctx, l, req)
		if err != nil {
			return nil, err
		}
		for _, t := range resp.(*protocol.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if err := codeErr(p.ErrorCode, nil, fmt.Sprintf("partition %s-%d", t.Name, p.PartitionIndex)); err != nil {
					return nil, err
				}
				off := p.Offset
				if len(p.OldStyleOffsets) > 0 {
					off = p.OldStyleOffsets[0]
				}
				out[tp{string(t.Name), p.PartitionIndex}] = off
			}
		}
	}
	return out, nil
}

type groupListing struct {
	Group        string `json:"group"`
	Type         string `json:"type"`
	ProtocolType string `json:"protocol_type"`
	State        string `json:"state"`
	Coordinator  int32  `json:"coordinator"`
}

func runGroupList(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "group list")
	_, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	md, err := cl.Metadata(cctx, []string{})
	if err != nil {
		return s.exit(err)
	}
	// Groups live on their coordinators: ask every broker.
	rows := []groupListing{}
	var errs []error
	for _, b := range md.Brokers {
		resp, err := cl.Broker(cctx, b.NodeID, &protocol.ListGroupsRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", b.NodeID, err))
			continue
		}
		lg := resp.(*protocol.ListGroupsResponse)
		if err := codeErr(lg.ErrorCode, nil, fmt.Sprintf("broker %d", b.NodeID)); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, g := range lg.Groups {
			rows = append(rows, groupListing{Group: string(g.GroupID), Type: g.GroupType, ProtocolType: g.ProtocolType, State: g.GroupState, Coordinator: int32(b.NodeID)})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Group < rows[j].Group })
	if s.output == "json" {
		_ = writeJSON(e.Stdout, rows)
	} else {
		tb := newTable(e.Stdout, "GROUP", "TYPE", "STATE", "COORDINATOR")
		for _, r := range rows {
			typ := r.Type
			if typ == "" {
				typ = r.ProtocolType
			}
			tb.row(r.Group, typ, r.State, r.Coordinator)
		}
		tb.flush()
	}
	return s.exit(errors.Join(errs...))
}

// member is a group member and the partitions assigned to it.
type member struct {
	ID, ClientID, Host string
	Assigned           []tp
}

type groupState struct {
	State       string
	Members     []member
	Coordinator protocol.BrokerID
}

// describeGroup describes a classic group with DescribeGroups, or a
// KIP-848 consumer group with ConsumerGroupDescribe.
func describeGroup(ctx context.Context, cl *Client, group string) (groupState, error) {
	var gs groupState
	coord, err := cl.Coordinator(ctx, group)
	if err != nil {
		return gs, err
	}
	gs.Coordinator = coord
	resp, err := cl.Broker(ctx, coord, &protocol.DescribeGroupsRequest{Groups: []protocol.GroupID{protocol.GroupID(group)}})
	if err != nil {
		return gs, err
	}
	dg := resp.(*protocol.DescribeGroupsResponse).Groups
	classicOK := len(dg) == 1 && dg[0].ErrorCode == errcode.None && dg[0].GroupState != "Dead"
	if classicOK && (len(dg[0].Members) > 0 || dg[0].ProtocolType != "") {
		gs.State = dg[0].GroupState
		for _, m := range dg[0].Members {
			gs.Members = append(gs.Members, member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: parseConsumerAssignment(m.MemberAssignment)})
		}
		return gs, nil
	}
	cresp, cerr := cl.Broker(ctx, coord, &protocol.ConsumerGroupDescribeRequest{GroupIDs: []protocol.GroupID{protocol.GroupID(group)}})
	if cerr == nil {
		cg := cresp.(*protocol.ConsumerGroupDescribeResponse).Groups
		if len(cg) == 1 && cg[0].ErrorCode == errcode.None {
			gs.State = cg[0].GroupState
			for _, m := range cg[0].Members {
				mm := member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
				for _, t := range m.Assignment.TopicPartitions {
					for _, p := range t.Partitions {
						mm.Assigned = append(mm.Assigned, tp{string(t.TopicName), p})
					}
				}
				gs.Members = append(gs.Members, mm)
			}
			return gs, nil
		}
	}
	if len(dg) == 1 && dg[0].ErrorCode != errcode.None {
		return gs, codeErr(dg[0].ErrorCode, dg[0].ErrorMessage, fmt.Sprintf("group %q", group))
	}
	if len(dg) == 1 {
		gs.State = dg[0].GroupState
	}
	return gs, nil
}

// parseConsumerAssignment decodes Kafka's ConsumerProtocolAssignment
// (int16 version, [topic string, [int32 partition]], user data); anything
// unparsable yields no partitions (the group may not be a consumer group).
func parseConsumerAssignment(b []byte) []tp {
	var out []tp
	if len(b) < 6 {
		return nil
	}
	i := 2
	n := int(int32(binary.BigEndian.Uint32(b[i:])))
	i += 4
	for ; n > 0; n-- {
		if i+2 > len(b) {
			return out
		}
		l := int(binary.BigEndian.Uint16(b[i:]))
		i += 2
		if i+l+4 > len(b) {
			return out
		}
		topic := string(b[i : i+l])
		i += l
		np := int(int32(binary.BigEndian.Uint32(b[i:])))
		i += 4
		for ; np > 0; np-- {
			if i+4 > len(b) {
				return out
			}
			out = append(out, tp{topic, int32(binary.BigEndian.Uint32(b[i:]))})
			i += 4
		}
	}
	return out
}

// committedOffsets fetches a group's committed offsets for all topics.
func committedOffsets(ctx context.Context, cl *Client, coord protocol.BrokerID, group string) (map[tp]int64, error) {
	req := &protocol.OffsetFetchRequest{GroupID: protocol.GroupID(group),
		Groups: []protocol.OffsetFetchRequestGroup{{GroupID: protocol.GroupID(group), MemberEpoch: -1}}}
	resp, err := cl.Broker(ctx, coord, req)
	if err != nil {
		return nil, err
	}
	of := resp.(*protocol.OffsetFetchResponse)
	out := map[tp]int64{}
	if len(of.Groups) > 0 { // v8+
		g := of.Groups[0]
		if err := codeErr(g.ErrorCode, nil, fmt.Sprintf("group %q offsets", group)); err != nil {
			return nil, err
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == errcode.None && p.CommittedOffset >= 0 {
					out[tp{string(t.Name), p.PartitionIndex}] = p.CommittedOffset
				}
			}
		}
		return out, nil
	}
	if err := codeErr(of.ErrorCode, nil, fmt.Sprintf("group %q offsets", group)); err != nil {
		return nil, err
	}
	for _, t := range of.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == errcode.None && p.CommittedOffset >= 0 {
				out[tp{string(t.Name), p.PartitionIndex}] = p.CommittedOffset
			}
		}
	}
	return out, nil
}

// lagRow is one line of kafka-consumer-groups --describe.
type lagRow struct {
	Group         string `json:"group"`
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset *int64 `json:"current_offset"`
	LogEndOffset  *int64 `json:"log_end_offset"`
	Lag           *int64 `json:"lag"`
	ConsumerID    string `json:"consumer_id"`
	Host          string `json:"host"`
	ClientID      string `json:"client_id"`
}

type groupDescription struct {
	Group      string   `json:"group"`
	State      string   `json:"state"`
	Members    int      `json:"members"`
	TotalLag   int64    `json:"total_lag"`
	Partitions []lagRow `json:"partitions"`
}

func describeGroupLag(ctx context.Context, cl *Client, group string) (groupDescription, error) {
	d := groupDescription{Group: group, Partitions: []lagRow{}}
	gs, err := describeGroup(ctx, cl, group)
	if err != nil {
		return d, err
	}
	d.State, d.Members = gs.State, len(gs.Members)
	committed, err := committedOffsets(ctx, cl, gs.Coordinator, group)
	if err != nil {
		return d, err
	}
	owner := map[tp]member{}
	parts := map[tp]bool{}
	for _, m := range gs.Members {
		for _, p := range m.Assigned {
			owner[p] = m
			parts[p] = true
		}
	}
	for p := range committed {
		parts[p] = true
	}
	var list []tp
	for p := range parts {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Topic != list[j].Topic {
			return list[i].Topic < list[j].Topic
		}
		return list[i].Partition < list[j].Partition
	})
	var ends map[tp]int64
	if len(list) > 0 {
		if ends, err = listOffsets(ctx, cl, list, latestTimestamp); err != nil {
			return d, err
		}
	}
	for _, p := range list {
		r := lagRow{Group: group, Topic: p.Topic, Partition: p.Partition, ConsumerID: "-", Host: "-", ClientID: "-"}
		if m, ok := owner[p]; ok {
			r.ConsumerID, r.Host, r.ClientID = m.ID, m.Host, m.ClientID
		}
		if end, ok := ends[p]; ok {
			r.LogEndOffset = &end
		}
		if c, ok := committed[p]; ok {
			r.CurrentOffset = &c
			if r.LogEndOffset != nil {
				lag := max(*r.LogEndOffset-c, 0)
				r.Lag = &lag
				d.TotalLag += lag
			}
		}
		d.Partitions = append(d.Partitions, r)
	}
	return d, nil
}

func dash(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

func runGroupDescribe(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "group describe")
	groups, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(groups) == 0 {
		return s.exit(usageErr(errors.New("name at least one group: spool group describe GROUP (see `spool group list`)")))
	}
	var out []groupDescription
	var errs []error
	for _, g := range groups {
		d, err := describeGroupLag(cctx, cl, g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	if s.output == "json" {
		if out == nil {
			out = []groupDescription{}
		}
		_ = writeJSON(e.Stdout, out)
		return s.exit(errors.Join(errs...))
	}
	for i, d := range out {
		if i > 0 {
			fmt.Fprintln(e.Stdout)
		}
		if d.Members == 0 {
			fmt.Fprintf(e.Stdout, "Consumer group '%s' has no active members.\n\n", d.Group)
		}
		tb := newTable(e.Stdout, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
		for _, r := range d.Partitions {
			tb.row(r.Group, r.Topic, r.Partition, dash(r.CurrentOffset), dash(r.LogEndOffset), dash(r.Lag), r.ConsumerID, r.Host, r.ClientID)
		}
		tb.flush()
	}
	return s.exit(errors.Join(errs...))
}

// parseTopicPartitions reads --topic values: "t" (all partitions) or "t:0,2".
func parseTopicPartitions(ctx context.Context, cl *Client, specs []string) ([]tp, error) {
	var out []tp
	for _, spec := range specs {
		topic, list, hasList := strings.Cut(spec, ":")
		if hasList {
			for _, s := range strings.Split(list, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 0 {
					return nil, usageErr(fmt.Errorf("--topic %q: partitions are a comma-separated list of numbers (TOPIC:0,1)", spec))
				}
				out = append(out, tp{topic, int32(n)})
			}
			continue
		}
		md, err := cl.Metadata(ctx, []string{topic})
		if err != nil {
			return nil, err
		}
		for _, t := range md.Topics {
			if err := codeErr(t.ErrorCode, nil, fmt.Sprintf("topic %q", topic)); err != nil {
				return nil, err
			}
			for _, p := range t.Partitions {
				out = append(out, tp{topic, p.PartitionIndex})
			}
		}
	}
	return out, nil
}

func runGroupReset(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "group reset-offsets")
	var topics multi
	s.fs.Var(&topics, "topic", "TOPIC or TOPIC:P,P... (repeatable)")
	allTopics := s.fs.Bool("all-topics", false, "every topic the group has offsets for")
	toEarliest := s.fs.Bool("to-earliest", false, "reset to the log start offset")
	toLatest := s.fs.Bool("to-latest", false, "reset to the log end offset")
	toOffset := s.fs.Int64("to-offset", -1, "reset to this offset (clamped to the log's range)")
	shiftBy := s.fs.Int64("shift-by", 0, "move the committed offset by N (negative to rewind)")
	execute := s.fs.Bool("execute", false, "commit the new offsets (without it, only print them)")
	s.fs.Bool("dry-run", false, "print the new offsets only (the default)")
	groups, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(groups) != 1 {
		return s.exit(usageErr(errors.New("name one group: spool group reset-offsets GROUP --topic T --to-earliest")))
	}
	group := groups[0]
	n := 0
	for _, b := range []bool{*toEarliest, *toLatest, *toOffset >= 0, *shiftBy != 0} {
		if b {
			n++
		}
	}
	if n != 1 {
		return s.exit(usageErr(errors.New("pick exactly one of --to-earliest, --to-latest, --to-offset N, --shift-by N")))
	}
	if (len(topics) == 0) == !*allTopics {
		return s.exit(usageErr(errors.New("pick the partitions: --topic T[:P,...] (repeatable) or --all-topics")))
	}
	gs, err := describeGroup(cctx, cl, group)
	var ke *KafkaError
	if err != nil && !(errors.As(err, &ke) && ke.Code == errcode.GroupIDNotFound) {
		return s.exit(err)
	}
	if err == nil && gs.State != "" && gs.State != "Empty" && gs.State != "Dead" {
		return s.exit(fmt.Errorf("assignments can only be reset if the group %q is inactive, but the current state is %s\n  %s", group, gs.State, hintFor(errcode.NonEmptyGroup)))
	}
	coord, err := cl.Coordinator(cctx, group)
	if err != nil {
		return s.exit(err)
	}
	committed, err := committedOffsets(cctx, cl, coord, group)
	if err != nil {
		return s.exit(err)
	}
	var parts []tp
	if *allTopics {
		for p := range committed {
			parts = append(parts, p)
		}
	} else if parts, err = parseTopicPartitions(cctx, cl, topics); err != nil {
		return s.exit(err)
	}
	if len(parts) == 0 {
		return s.exit(fmt.Errorf("group %q has no offsets to reset; name partitions with --topic", group))
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].Topic != parts[j].Topic {
			return parts[i].Topic < parts[j].Topic
		}
		return parts[i].Partition < parts[j].Partition
	})
	starts, err := listOffsets(cctx, cl, parts, earliestTimestamp)
	if err != nil {
		return s.exit(err)
	}
	ends, err := listOffsets(cctx, cl, parts, latestTimestamp)
	if err != nil {
		return s.exit(err)
	}
	target := map[tp]int64{}
	for _, p := range parts {
		var off int64
		switch {
		case *toEarliest:
			off = starts[p]
		case *toLatest:
			off = ends[p]
		case *toOffset >= 0:
			off = *toOffset
		default:
			cur, ok := committed[p]
			if !ok {
				cur = ends[p] // Kafka shifts from the position a new consumer would take
			}
			off = cur + *shiftBy
		}
		target[p] = min(max(off, starts[p]), ends[p])
	}
	if *execute {
		req := &protocol.OffsetCommitRequest{GroupID: protocol.GroupID(group), GenerationIDOrMemberEpoch: -1, RetentionTimeMs: -1}
		byTopic := map[string][]protocol.OffsetCommitRequestPartition{}
		for _, p := range parts {
			byTopic[p.Topic] = append(byTopic[p.Topic], protocol.OffsetCommitRequestPartition{PartitionIndex: p.Partition, CommittedOffset: target[p], CommittedLeaderEpoch: -1, CommitTimestamp: -1})
		}
		for _, t := range sortedKeys(byTopic) {
			req.Topics = append(req.Topics, protocol.OffsetCommitRequestTopic{Name: protocol.TopicName(t), Partitions: byTopic[t]})
		}
		resp, err := cl.Broker(cctx, coord, req)
		if err != nil {
			return s.exit(err)
		}
		var errs []error
		for _, t := range resp.(*protocol.OffsetCommitResponse).Topics {
			for _, p := range t.Partitions {
				errs = append(errs, codeErr(p.ErrorCode, nil, fmt.Sprintf("group %q partition %s-%d", group, t.Name, p.PartitionIndex)))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return s.exit(err)
		}
	}
	type row struct {
		Group     string `json:"group"`
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		NewOffset int64  `json:"new_offset"`
	}
	var rows []row
	for _, p := range parts {
		rows = append(rows, row{group, p.Topic, p.Partition, target[p]})
	}
	if s.output == "json" {
		return s.exit(writeJSON(e.Stdout, rows))
	}
	if !*execute {
		fmt.Fprintln(e.Stderr, "dry run: no offsets were changed; pass --execute to commit them")
	}
	tb := newTable(e.Stdout, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
	for _, r := range rows {
		tb.row(r.Group, r.Topic, r.Partition, r.NewOffset)
	}
	tb.flush()
	return exitOK
}

func runGroupDelete(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "group delete")
	groups, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(groups) == 0 {
		return s.exit(usageErr(errors.New("name at least one group: spool group delete GROUP [GROUP...]")))
	}
	var errs []error
	for _, g := range groups {
		coord, err := cl.Coordinator(cctx, g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := cl.Broker(cctx, coord, &protocol.DeleteGroupsRequest{GroupsNames: []protocol.GroupID{protocol.GroupID(g)}})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range resp.(*protocol.DeleteGroupsResponse).Results {
			if err := codeErr(r.ErrorCode, nil, fmt.Sprintf("group %q", r.GroupID)); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(e.Stdout, "group %s: deleted\n", r.GroupID)
		}
	}
	return s.exit(errors.Join(errs...))
}
