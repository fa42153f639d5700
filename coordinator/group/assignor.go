package group

import (
	"bytes"
	"slices"
	"sort"

	"github.com/spool-broker/spool/protocol"
)

// assignment maps topic IDs to sorted partition lists. Empty lists are not
// kept, so two equal assignments compare equal with equal.
type assignment map[protocol.UUID][]int32

func (a assignment) add(id protocol.UUID, ps ...int32) {
	if len(ps) == 0 {
		return
	}
	cur := a[id]
	for _, p := range ps {
		if i, found := slices.BinarySearch(cur, p); !found {
			cur = slices.Insert(cur, i, p)
		}
	}
	a[id] = cur
}

func (a assignment) has(id protocol.UUID, p int32) bool {
	_, found := slices.BinarySearch(a[id], p)
	return found
}

func (a assignment) topicIDs() []protocol.UUID {
	ids := make([]protocol.UUID, 0, len(a))
	for id, ps := range a {
		if len(ps) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	return ids
}

func (a assignment) size() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a assignment) clone() assignment {
	out := assignment{}
	for id, ps := range a {
		if len(ps) > 0 {
			out[id] = slices.Clone(ps)
		}
	}
	return out
}

func (a assignment) equal(b assignment) bool {
	if a.size() != b.size() {
		return false
	}
	for id, ps := range a {
		if len(ps) > 0 && !slices.Equal(ps, b[id]) {
			return false
		}
	}
	return true
}

// assignorMember is what an assignor knows of a member: the topics it
// subscribes to (that exist) and its previous target assignment, for
// stickiness.
type assignorMember struct {
	id         string
	instanceID *string
	topics     map[protocol.UUID]bool
	previous   assignment
}

// assignor is a server-side assignor (KIP-848 ConsumerGroupPartitionAssignor).
// topics maps the subscribed topics' IDs to their partition counts. The
// result has an entry, maybe empty, for every member.
type assignor interface {
	name() string
	assign(members []assignorMember, topics map[protocol.UUID]int32) map[string]assignment
}

func assignorByName(name string) assignor {
	switch name {
	case "uniform":
		return uniformAssignor{}
	case "range":
		return rangeAssignor{}
	}
	return nil
}

// uniformAssignor spreads partitions so member loads differ by at most one
// where subscriptions allow, keeping partitions where they were: a member
// keeps its previous partitions that are still valid, unowned partitions go
// to the least loaded eligible member, then partitions move from the most
// to the least loaded eligible members until no move helps. Kafka's
// UniformAssignor has the same goals (balance first, then stickiness); its
// exact choices for heterogeneous subscriptions may differ.
type uniformAssignor struct{}

func (uniformAssignor) name() string { return "uniform" }

type topicPartitionID struct {
	topic     protocol.UUID
	partition int32
}

func (uniformAssignor) assign(members []assignorMember, topics map[protocol.UUID]int32) map[string]assignment {
	members = slices.Clone(members)
	sort.Slice(members, func(i, j int) bool { return members[i].id < members[j].id })
	out := make(map[string]assignment, len(members))
	owner := map[topicPartitionID]int{}
	load := make([]int, len(members))
	for i := range members {
		out[members[i].id] = assignment{}
	}
	ids := assignment{}
	for id := range topics {
		ids[id] = []int32{0}
	}
	topicIDs := ids.topicIDs()
	// Quota: with homogeneous subscriptions no member should keep more than
	// ceil(total/n); keep at most that many previous partitions.
	total := 0
	for _, id := range topicIDs {
		total += int(topics[id])
	}
	quota := total
	if len(members) > 0 {
		quota = (total + len(members) - 1) / len(members)
	}
	for i, m := range members {
		for _, id := range m.previous.topicIDs() {
			if !m.topics[id] {
				continue
			}
			for _, p := range m.previous[id] {
				tp := topicPartitionID{id, p}
				if p >= topics[id] || load[i] >= quota {
					continue
				}
				if _, taken := owner[tp]; taken {
					continue
				}
				owner[tp] = i
				load[i]++
			}
		}
	}
	eligible := func(id protocol.UUID) []int {
		var es []int
		for i, m := range members {
			if m.topics[id] {
				es = append(es, i)
			}
		}
		return es
	}
	for _, id := range topicIDs {
		es := eligible(id)
		if len(es) == 0 {
			continue
		}
		for p := int32(0); p < topics[id]; p++ {
			tp := topicPartitionID{id, p}
			if _, taken := owner[tp]; taken {
				continue
			}
			best := es[0]
			for _, e := range es[1:] {
				if load[e] < load[best] {
					best = e
				}
			}
			owner[tp] = best
			load[best]++
		}
	}
	// Balance: move a partition from a member to an eligible member with
	// at least two fewer partitions. Each move lowers the sum of squared
	// loads, so this ends.
	for moved := true; moved; {
		moved = false
		for _, id := range topicIDs {
			es := eligible(id)
			for p := int32(0); p < topics[id]; p++ {
				tp := topicPartitionID{id, p}
				from, ok := owner[tp]
				if !ok {
					continue
				}
				to := from
				for _, e := range es {
					if load[e] < load[to] {
						to = e
					}
				}
				if load[to]+1 < load[from] {
					owner[tp] = to
					load[from]--
					load[to]++
					moved = true
				}
			}
		}
	}
	for tp, i := range owner {
		out[members[i].id].add(tp.topic, tp.partition)
	}
	return out
}

// rangeAssignor gives each member contiguous ranges of each topic it
// subscribes to: members subscribed to a topic are ordered by member id and
// the first partitions%members of them get one partition more.
type rangeAssignor struct{}

func (rangeAssignor) name() string { return "range" }

func (rangeAssignor) assign(members []assignorMember, topics map[protocol.UUID]int32) map[string]assignment {
	members = slices.Clone(members)
	sort.Slice(members, func(i, j int) bool { return members[i].id < members[j].id })
	out := make(map[string]assignment, len(members))
	for _, m := range members {
		out[m.id] = assignment{}
	}
	for id, n := range topics {
		var subs []string
		for _, m := range members {
			if m.topics[id] {
				subs = append(subs, m.id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		per, extra := int(n)/len(subs), int(n)%len(subs)
		next := int32(0)
		for i, mid := range subs {
			count := per
			if i < extra {
				count++
			}
			for j := 0; j < count; j++ {
				out[mid].add(id, next)
				next++
			}
		}
	}
	return out
}
