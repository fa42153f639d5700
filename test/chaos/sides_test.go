package main

import (
	"math/rand"
	"slices"
	"testing"
	"time"
)

// TestSplitSides: the minority holds the chosen node and (n-1)/2 nodes in
// all, the two sides cover every node once.
func TestSplitSides(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, tc := range []struct{ n, node, minority int }{{3, 1, 1}, {3, 3, 1}, {5, 2, 2}, {5, 5, 2}, {7, 4, 3}} {
		for try := 0; try < 20; try++ {
			mi, ma := splitSides(rng, tc.n, tc.node)
			if len(mi) != tc.minority || len(ma) != tc.n-tc.minority || !slices.Contains(mi, tc.node) {
				t.Fatalf("n=%d node=%d: minority %v majority %v", tc.n, tc.node, mi, ma)
			}
			all := slices.Sorted(slices.Values(append(slices.Clone(mi), ma...)))
			for i, x := range all {
				if x != i+1 {
					t.Fatalf("n=%d: sides %v | %v do not cover 1..n once", tc.n, mi, ma)
				}
			}
		}
	}
}

// TestCheckFetch: an OffsetFetch must reflect every commit acknowledged
// before it was sent, and never go backwards.
func TestCheckFetch(t *testing.T) {
	t0 := time.Now()
	leading := fetchSource{node: 1, ledEpoch: 7, newerLeader: -1, newerEpoch: -1}
	deposed := fetchSource{node: 1, ledEpoch: 7, newerLeader: 2, newerEpoch: 8}
	for _, tc := range []struct {
		name    string
		commits []groupCommit
		fetches []map[int32]int64 // sent at t0+1s, t0+2s, ...
		src     fetchSource
		want    int // violations
		stale   int // accepted: from a deposed coordinator
	}{
		{"clean", []groupCommit{{0, 10, t0}, {1, 5, t0}}, []map[int32]int64{{0: 10, 1: 5}, {0: 12, 1: 5}}, leading, 0, 0},
		{"commit after the fetch was sent is not required", []groupCommit{{0, 10, t0.Add(5 * time.Second)}}, []map[int32]int64{{0: 3}}, leading, 0, 0},
		{"acknowledged commit lost", []groupCommit{{0, 10, t0}}, []map[int32]int64{{0: 9}}, leading, 1, 0},
		{"acknowledged commit absent", []groupCommit{{0, 10, t0}}, []map[int32]int64{{}}, leading, 1, 0},
		{"goes backwards", nil, []map[int32]int64{{0: 10}, {0: 8}}, leading, 1, 0},
		{"stale answer of a deposed coordinator", []groupCommit{{0, 10, t0}}, []map[int32]int64{{0: 9}}, deposed, 0, 1},
		{"deposed coordinator going backwards", nil, []map[int32]int64{{0: 10}, {0: 8}}, deposed, 0, 1},
		{"stale answer of a node that knew it no longer leads", []groupCommit{{0, 10, t0}}, []map[int32]int64{{0: 9}},
			fetchSource{node: 1, ledEpoch: -1, newerLeader: 2, newerEpoch: 8}, 1, 0},
		{"stale answer, no newer epoch anywhere", []groupCommit{{0, 10, t0}}, []map[int32]int64{{0: 9}},
			fetchSource{node: 1, ledEpoch: 7, newerLeader: -1, newerEpoch: -1}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroupHistory(3)
			g.commits = tc.commits
			for i, f := range tc.fetches {
				src := leading // tc.src answers the last fetch
				if i == len(tc.fetches)-1 {
					src = tc.src
				}
				g.checkFetch(t0.Add(time.Duration(i+1)*time.Second), src, f)
			}
			if len(g.violations) != tc.want || len(g.staleDeposed) != tc.stale {
				t.Fatalf("violations %v (want %d), stale from a deposed coordinator %v (want %d)", g.violations, tc.want, g.staleDeposed, tc.stale)
			}
		})
	}
}
