package main

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func rec(p int32, off int64, v string) *kgo.Record {
	return &kgo.Record{Partition: p, Offset: off, Value: []byte(v)}
}

// TestCheck feeds the checker histories with one kind of violation each.
func TestCheck(t *testing.T) {
	now := time.Now()
	acked := func(h *history, v string, p int32, off int64) {
		h.acks = append(h.acks, ack{value: v, partition: p, offset: off, at: now})
	}
	for _, tc := range []struct {
		name  string
		setup func(h *history)
		final map[int32][]*kgo.Record
		want  func(v verdict) int
	}{
		{"clean", func(h *history) { acked(h, "p1-00000000", 0, 0); acked(h, "p1-00000001", 0, 1) },
			map[int32][]*kgo.Record{0: {rec(0, 0, "p1-00000000"), rec(0, 1, "p1-00000001")}},
			func(v verdict) int { return v.violations() }},
		{"lost", func(h *history) { acked(h, "p1-00000000", 0, 0); acked(h, "p1-00000001", 0, 1) },
			map[int32][]*kgo.Record{0: {rec(0, 0, "p1-00000000")}},
			func(v verdict) int { return len(v.Lost) - 1 }},
		{"other value at the acked offset", func(h *history) { acked(h, "p1-00000000", 0, 0) },
			map[int32][]*kgo.Record{0: {rec(0, 0, "p2-00000000")}},
			func(v verdict) int { return len(v.Lost) - 1 }},
		{"duplicate", func(h *history) { acked(h, "p1-00000000", 0, 0) },
			map[int32][]*kgo.Record{0: {rec(0, 0, "p1-00000000"), rec(0, 1, "p1-00000000")}},
			func(v verdict) int { return len(v.Duplicated) - 1 }},
		{"reordered", func(h *history) {},
			map[int32][]*kgo.Record{0: {rec(0, 0, "p1-00000002"), rec(0, 1, "p1-00000001")}},
			func(v verdict) int { return len(v.Reordered) - 1 }},
		{"offset changed value", func(h *history) { h.seen[0] = map[int64]string{0: "p1-00000000"} },
			map[int32][]*kgo.Record{0: {rec(0, 0, "p1-00000003")}},
			func(v verdict) int { return len(v.Changed) - 1 }},
		{"unknown", func(h *history) {},
			map[int32][]*kgo.Record{0: {rec(0, 0, "garbage")}},
			func(v verdict) int { return len(v.Unknown) - 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory()
			tc.setup(h)
			v := check(h, tc.final)
			if d := tc.want(v); d != 0 {
				t.Fatalf("verdict %+v: off by %d", v, d)
			}
		})
	}
}

// TestCheckTxns: aborted reads, committed transactions partly visible, and
// unknown outcomes all-or-nothing.
func TestCheckTxns(t *testing.T) {
	th := newTxnHistory()
	for name, o := range map[string]txnOutcome{"x1.0": txnCommitted, "x1.1": txnAborted, "x1.2": txnUnknown, "x1.3": txnCommitted, "x1.4": txnUnknown} {
		th.records[name], th.outcome[name] = 2, o
	}
	final := map[int32][]*kgo.Record{0: {
		rec(0, 0, "x1.0-0"), rec(0, 1, "x1.0-1"), // committed, whole
		rec(0, 2, "x1.1-0"),                      // aborted read
		rec(0, 3, "x1.2-0"), rec(0, 4, "x1.2-1"), // unknown, whole: fine
		rec(0, 5, "x1.3-0"), // committed, partial
		rec(0, 6, "x1.4-1"), // unknown, partial
	}}
	_, vs := checkTxns(th, final)
	if len(vs) != 3 {
		t.Fatalf("violations %q, want 3", vs)
	}
}

func TestStall(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	acks := []time.Time{at(0), at(1), at(5), at(5.5), at(9)}
	if got := stall(acks, at(2), at(6)); got != 4*time.Second {
		t.Fatalf("stall = %s, want 4s (acks at 1 s and 5 s)", got)
	}
}
