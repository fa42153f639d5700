package group

import (
	"bytes"
	"maps"
	"slices"
	"sort"

	"github.com/spool-broker/spool/protocol/records"
)

// persistedRecords is what __consumer_offsets holds for one streams or
// share group: each record's value by key. Those groups are written as
// Kafka writes them, one record per piece of state (group epoch, member,
// target, current assignment...): after a change the group's records are
// built afresh and only those that differ from what the log holds are
// appended (diff), with tombstones for keys the group no longer has. A
// write that fails leaves the map as it was, so the next change writes the
// difference again.
//
// Invariant: replaying the log's records of the group gives exactly this
// map (the replay fills it as it applies them).
type persistedRecords map[string][]byte

// keyKind is the record type (key version) of a record key.
func keyKind(k string) int16 {
	if len(k) < 2 {
		return -1
	}
	return int16(k[0])<<8 | int16(k[1])
}

// keys are the keys of kind the log holds, sorted.
func (p persistedRecords) keys(kind int16) []string {
	var out []string
	for k := range p {
		if keyKind(k) == kind {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// diff is what turns the log's records into want: tombstones for the keys
// want lacks, in tombstoneOrder of their types, then want's records whose
// value differs, in want's order. With a scope, want holds only the
// records of those keys (a change that touched one member): keys outside
// the scope are left alone.
func (p persistedRecords) diff(want []records.Record, tombstoneOrder []int16, scope map[string]bool) []records.Record {
	wanted := make(map[string]bool, len(want))
	for _, r := range want {
		wanted[string(r.Key)] = true
	}
	var out []records.Record
	for _, kind := range tombstoneOrder {
		for _, k := range p.keys(kind) {
			if !wanted[k] && (scope == nil || scope[k]) {
				out = append(out, records.Record{Key: []byte(k)})
			}
		}
	}
	for _, r := range want {
		if old, ok := p[string(r.Key)]; !ok || !bytes.Equal(old, r.Value) {
			out = append(out, r)
		}
	}
	return out
}

// tombstones delete every record the log holds, in tombstoneOrder of
// their types, then last the group's metadata record (so a replay never
// sees members of a group it already dropped), written even when p does
// not hold it.
func (p persistedRecords) tombstones(tombstoneOrder []int16, metadataKey []byte) []records.Record {
	var out []records.Record
	for _, kind := range tombstoneOrder {
		for _, k := range p.keys(kind) {
			if k != string(metadataKey) {
				out = append(out, records.Record{Key: []byte(k)})
			}
		}
	}
	return append(out, records.Record{Key: metadataKey})
}

// apply records that recs were written.
func (p persistedRecords) apply(recs []records.Record) {
	for _, r := range recs {
		if r.Value == nil {
			delete(p, string(r.Key))
		} else {
			p[string(r.Key)] = r.Value
		}
	}
}

// writeDiffLocked appends what turns p's records into want (p.diff) and
// records it in p once written; a non-zero code means nothing was written
// and p is unchanged.
func (s *shard) writeDiffLocked(p persistedRecords, want []records.Record, tombstoneOrder []int16, scope map[string]bool) int16 {
	recs := p.diff(want, tombstoneOrder, scope)
	if len(recs) == 0 {
		return 0
	}
	if code := s.appendLocked(recs); code != 0 {
		return code
	}
	p.apply(recs)
	return 0
}

// membersByID returns a group's members in the order of their ids (the
// keys of members).
func membersByID[M any](members map[string]M) []M {
	out := make([]M, 0, len(members))
	for _, id := range slices.Sorted(maps.Keys(members)) {
		out = append(out, members[id])
	}
	return out
}

// replayed records one replayed record (the value is copied: it outlives
// the log's read buffer).
func (p persistedRecords) replayed(key, value []byte) {
	if value == nil {
		delete(p, string(key))
		return
	}
	p[string(key)] = bytes.Clone(value)
}
