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
	for _, tc := range []struct {
		name    string
		commits []groupCommit
		fetches []map[int32]int64 // sent at t0+1s, t0+2s, ...
		want    int
	}{
		{"clean", []groupCommit{{0, 10, t0}, {1, 5, t0}}, []map[int32]int64{{0: 10, 1: 5}, {0: 12, 1: 5}}, 0},
		{"commit after the fetch was sent is not required", []groupCommit{{0, 10, t0.Add(5 * time.Second)}}, []map[int32]int64{{0: 3}}, 0},
		{"acknowledged commit lost", []groupCommit{{0, 10, t0}}, []map[int32]int64{{0: 9}}, 1},
		{"acknowledged commit absent", []groupCommit{{0, 10, t0}}, []map[int32]int64{{}}, 1},
		{"goes backwards", nil, []map[int32]int64{{0: 10}, {0: 8}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroupHistory()
			g.commits = tc.commits
			for i, f := range tc.fetches {
				g.checkFetch(t0.Add(time.Duration(i+1)*time.Second), "node 1", f)
			}
			if len(g.violations) != tc.want {
				t.Fatalf("violations %v, want %d", g.violations, tc.want)
			}
		})
	}
}
