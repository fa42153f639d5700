package group

import (
	"context"
	"sort"
	"strings"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// GroupListing is one group in a ListGroups answer.
type GroupListing struct {
	GroupID      string
	ProtocolType string
	State        string
	Type         string // "classic" or "consumer"
}

// ListGroups lists the groups of every loaded partition, filtered by state
// and type names (case-insensitive; empty filters match all). The code is
// COORDINATOR_LOAD_IN_PROGRESS while a partition is still loading.
func (c *Coordinator) ListGroups(states, types []string) (int16, []GroupListing) {
	c.mu.Lock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	var code int16
	var out []GroupListing
	for _, s := range shards {
		s.mu.Lock()
		if sc := s.availableLocked(); sc != 0 {
			if sc == errcode.CoordinatorLoadInProgress {
				code = sc
			}
			s.mu.Unlock()
			continue
		}
		for _, g := range s.groups {
			st, typ, pt := g.state.String(), "classic", g.protocolType
			if g.consumer != nil {
				st, typ, pt = g.consumer.state(), "consumer", consumerProtocolType
			}
			if g.share != nil {
				st, typ, pt = g.share.state(), "share", shareProtocolType
			}
			if g.streams != nil {
				st, typ, pt = g.streams.state(), "streams", streamsProtocolType
			}
			if g.state == stateDead || !matchesAny(states, st) || !matchesAny(types, typ) {
				continue
			}
			out = append(out, GroupListing{GroupID: g.id, ProtocolType: pt, State: st, Type: typ})
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupID < out[j].GroupID })
	return code, out
}

func matchesAny(filter []string, s string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, s) {
			return true
		}
	}
	return false
}

// GroupDescription is a DescribeGroups answer for one group.
type GroupDescription struct {
	ErrorCode    int16
	Found        bool
	ErrorMessage string // why a group was not found
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// MemberDescription is one member in a GroupDescription.
type MemberDescription struct {
	MemberID        string
	GroupInstanceID *string
	ClientID        string
	ClientHost      string
	Metadata        []byte
	Assignment      []byte
}

// DescribeGroup describes one group as Kafka does: members' metadata and
// assignments only when the group is Stable.
func (c *Coordinator) DescribeGroup(ctx context.Context, groupID string) (d GroupDescription) {
	s, code := c.lockedShard(groupID)
	if code != 0 {
		return GroupDescription{ErrorCode: code, State: "Dead"}
	}
	defer s.unlockAndAwait(ctx, groupID, func(wc int16) { d = GroupDescription{ErrorCode: wc, State: "Dead"} })
	g := s.groups[groupID]
	if g == nil || g.state == stateDead {
		return GroupDescription{State: "Dead", ErrorMessage: "Group " + groupID + " not found."}
	}
	if g.consumer != nil || g.streams != nil || g.share != nil {
		return GroupDescription{State: "Dead", ErrorMessage: "Group " + groupID + " is not a classic group."}
	}
	d = GroupDescription{Found: true, State: g.state.String(), ProtocolType: g.protocolType}
	stable := g.state == stateStable
	if stable {
		d.Protocol = g.protocolName
	}
	for _, m := range g.sortedMembers() {
		md := MemberDescription{MemberID: m.id, GroupInstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost, Metadata: []byte{}, Assignment: []byte{}}
		if stable {
			md.Metadata = nonNil(m.metadataFor(g.protocolName))
			md.Assignment = nonNil(m.assignment)
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// DeleteGroups deletes empty groups and their offsets; one code per group.
func (c *Coordinator) DeleteGroups(ctx context.Context, ids []string) []int16 {
	codes := make([]int16, len(ids))
	for i, id := range ids {
		codes[i] = c.deleteGroup(ctx, id)
	}
	return codes
}

func (c *Coordinator) deleteGroup(ctx context.Context, id string) (code int16) {
	s, code := c.lockedShard(id)
	if code != 0 {
		return code
	}
	defer s.unlockAndAwait(ctx, id, func(wc int16) { code = wc })
	g := s.groups[id]
	switch {
	case g == nil || g.state == stateDead:
		return errcode.GroupIDNotFound
	case !g.isEmpty():
		return errcode.NonEmptyGroup
	}
	var recs []records.Record
	if g.consumer != nil {
		recs = g.consumerTombstonesLocked()
	}
	for tp := range g.offsets {
		recs = append(recs, records.Record{Key: EncodeOffsetKey(OffsetKey{id, tp.topic, tp.partition})})
	}
	if g.share != nil {
		recs = append(recs, g.shareTombstones()...)
	} else if g.streams != nil {
		recs = append(recs, g.streamsTombstones()...)
	} else if g.consumer == nil {
		recs = append(recs, records.Record{Key: EncodeGroupKey(id)})
	}
	if code := s.appendLocked(recs); code != 0 {
		return code
	}
	g.shutdownLocked(errcode.CoordinatorNotAvailable)
	g.shutdownConsumerLocked()
	g.shutdownStreamsLocked()
	wasShare := g.share != nil
	g.state = stateDead
	delete(s.groups, id)
	if wasShare && s.c.cfg.ShareGroupDeleted != nil {
		s.c.cfg.ShareGroupDeleted(id)
	}
	return 0
}
