package metrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEvaluatePartition(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name   string
		w      []LagSample
		now    time.Time
		logEnd int64
		want   LagStatus
	}{
		{"empty", nil, at(0), 0, LagOK},
		{"caught up once", []LagSample{{10, at(0), 5}, {12, at(10), 0}, {12, at(20), 3}}, at(25), 15, LagOK},
		{"rewind", []LagSample{{10, at(0), 5}, {8, at(10), 7}}, at(12), 15, LagRewind},
		{"stopped committing", []LagSample{{10, at(0), 5}, {12, at(10), 3}}, at(40), 15, LagStop},
		{"stopped but at log end", []LagSample{{10, at(0), 5}, {15, at(10), 1}}, at(40), 15, LagOK},
		{"stalled", []LagSample{{10, at(0), 5}, {10, at(10), 6}, {10, at(20), 8}}, at(25), 18, LagStall},
		{"falling behind", []LagSample{{10, at(0), 5}, {12, at(10), 6}, {14, at(20), 9}}, at(25), 23, LagWarn},
		{"keeping up", []LagSample{{10, at(0), 5}, {14, at(10), 6}, {20, at(20), 2}}, at(25), 22, LagOK},
		{"one sample", []LagSample{{10, at(0), 5}}, at(100), 15, LagOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, EvaluatePartition(tc.w, tc.now, tc.logEnd))
		})
	}
}

func TestEvaluateGroup(t *testing.T) {
	for _, tc := range []struct {
		parts []LagStatus
		want  LagStatus
	}{
		{nil, LagNotFound},
		{[]LagStatus{LagOK, LagOK}, LagOK},
		{[]LagStatus{LagOK, LagWarn}, LagWarn},
		{[]LagStatus{LagWarn, LagStall}, LagErr},
		{[]LagStatus{LagStop}, LagErr},
		{[]LagStatus{LagRewind, LagOK}, LagErr},
	} {
		require.Equal(t, tc.want, EvaluateGroup(tc.parts), "%v", tc.parts)
	}
}

func TestLagHistoryWindow(t *testing.T) {
	h := NewLagHistory()
	k := LagKey{"g", "t", 0}
	t0 := time.Unix(1_000_000, 0)
	h.Begin()
	for i := range 15 {
		at := t0.Add(time.Duration(i) * time.Second)
		h.Observe(k, int64(i), at, 100, 200, at)
		// the same commit seen again adds nothing
		h.Observe(k, int64(i), at, 100, 200, at)
	}
	h.End()
	require.Len(t, h.win[k], LagWindow)
	require.Equal(t, int64(5), h.win[k][0].Offset)
	h.Begin()
	h.End()
	require.Empty(t, h.win, "a partition not observed in a round is forgotten")
}
