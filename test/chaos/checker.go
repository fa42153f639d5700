package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// verdict is the checker's result. Every slice holds one line per
// violation, capped in the printout.
type verdict struct {
	Attempted, Acked, Failed, Read int
	Lost                           []string // acknowledged, but not read at its offset
	Duplicated                     []string // one value read at two offsets
	Reordered                      []string // a producer's sequence going backwards in a partition
	Changed                        []string // an offset read with two different values
	Unknown                        []string // a value nobody produced
	FailedPresent                  int      // failed (indeterminate) writes that are present anyway
	TxnStats                       string
	TxnViolations                  []string // aborted reads, committed transactions lost or partial
	TxnErrors                      []string // transactional producer errors: context, not violations
	AdminStats                     string
	GroupStats                     []string // one line per group
	GroupViolations                []string // committed offsets lost or going backwards
	GroupStale                     []string // stale OffsetFetch answers of a deposed coordinator: context, not violations
	CTPStats                       string
	CTPViolations                  []string // consume-transform-produce: an input record not exactly once in the output
	HostileStats                   string
	HostileViolations              []string // a node crashed or panicked under hostile input
	AdminViolations                []string // metadata that did not converge to what was acknowledged
	WorkloadErrors                 []string // group and admin request errors: context, not violations
	Exits                          []string // nodes that exited by themselves during the faults
}

func (v *verdict) violations() int {
	return len(v.Lost) + len(v.Duplicated) + len(v.Reordered) + len(v.Changed) + len(v.Unknown) + len(v.TxnViolations) +
		len(v.GroupViolations) + len(v.AdminViolations) + len(v.CTPViolations) + len(v.HostileViolations)
}

// parseValue splits "p<id>-<seq>".
func parseValue(v string) (producer string, seq int, ok bool) {
	p, s, ok := strings.Cut(v, "-")
	if !ok || !strings.HasPrefix(p, "p") {
		return "", 0, false
	}
	n, err := strconv.Atoi(s)
	return p, n, err == nil
}

// check compares the history with the final read.
func check(h *history, final map[int32][]*kgo.Record) verdict {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := verdict{Attempted: h.attempted, Acked: len(h.acks), Failed: len(h.failed)}
	type at struct {
		p   int32
		off int64
	}
	read := map[at]string{}
	where := map[string][]at{}
	for p, rs := range final {
		var lastOff int64 = -1
		lastSeq := map[string]int{}
		for _, r := range rs {
			v.Read++
			val := string(r.Value)
			if r.Offset <= lastOff {
				v.Reordered = append(v.Reordered, fmt.Sprintf("p%d: offset %d after %d", p, r.Offset, lastOff))
			}
			lastOff = r.Offset
			read[at{p, r.Offset}] = val
			where[val] = append(where[val], at{p, r.Offset})
			prod, seq, ok := parseValue(val)
			if !ok {
				v.Unknown = append(v.Unknown, fmt.Sprintf("p%d@%d: %q", p, r.Offset, val))
				continue
			}
			if s, ok := lastSeq[prod]; ok && seq <= s {
				v.Reordered = append(v.Reordered, fmt.Sprintf("p%d@%d: %s seq %d after seq %d", p, r.Offset, prod, seq, s))
			}
			lastSeq[prod] = seq
			if got, ok := h.seen[p][r.Offset]; ok && got != val {
				v.Changed = append(v.Changed, fmt.Sprintf("p%d@%d: live reader read %q, final read %q", p, r.Offset, got, val))
			}
		}
	}
	for val, ws := range where {
		if len(ws) > 1 {
			v.Duplicated = append(v.Duplicated, fmt.Sprintf("%s at %v", val, ws))
		}
		if _, ok := h.failed[val]; ok {
			v.FailedPresent++
		}
	}
	for _, a := range h.acks {
		if got, ok := read[at{a.partition, a.offset}]; !ok || got != a.value {
			if !ok {
				got = "<nothing>"
			}
			v.Lost = append(v.Lost, fmt.Sprintf("%s acked at p%d@%d (%s), read there: %s, read at: %v",
				a.value, a.partition, a.offset, a.at.UTC().Format("15:04:05.000"), got, where[a.value]))
		}
	}
	for _, l := range [][]string{v.Lost, v.Duplicated, v.Reordered, v.Changed, v.Unknown} {
		sort.Strings(l)
	}
	return v
}

// stall is the longest time without any acknowledgement overlapping
// [from, to]: the time acks=all writes stalled around a fault.
func stall(acks []time.Time, from, to time.Time) time.Duration {
	i := sort.Search(len(acks), func(i int) bool { return !acks[i].Before(from) })
	prev := from
	if i > 0 {
		prev = acks[i-1]
	}
	var worst time.Duration
	for ; i < len(acks) && !acks[i].After(to); i++ {
		worst = max(worst, acks[i].Sub(prev))
		prev = acks[i]
	}
	if i < len(acks) {
		worst = max(worst, acks[i].Sub(prev))
	} else {
		worst = max(worst, to.Sub(prev))
	}
	return worst
}
