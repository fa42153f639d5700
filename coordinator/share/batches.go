package share

import "sort"

// State batches as Kafka's share coordinator combines them
// (PersisterStateBatchCombiner): a ShareUpdate record carries only the
// batches that changed, and replaying it merges them into the state held.

// precedes reports whether a's delivery information is older than b's:
// fewer deliveries, or as many and an earlier state (Available 0 <
// Acknowledged 2 < Archived 4). A record's delivery count never falls and
// a terminal state never goes back, so the later of two writes of one
// offset is never the older one.
func precedes(a, b StateBatch) bool {
	if a.DeliveryCount != b.DeliveryCount {
		return a.DeliveryCount < b.DeliveryCount
	}
	return a.DeliveryState < b.DeliveryState
}

func sameDelivery(a, b StateBatch) bool {
	return a.DeliveryCount == b.DeliveryCount && a.DeliveryState == b.DeliveryState
}

// combineBatches merges the batches of every list into one sorted list of
// disjoint batches: offsets below start (when start >= 0) are dropped, an
// offset several batches cover takes the newest delivery information
// (precedes), and adjacent batches with the same information are joined.
// The lists may overlap, within one list too.
func combineBatches(start int64, lists ...[]StateBatch) []StateBatch {
	var all []StateBatch
	for _, l := range lists {
		for _, b := range l {
			if b.LastOffset < b.FirstOffset || (start >= 0 && b.LastOffset < start) {
				continue
			}
			if start >= 0 && b.FirstOffset < start {
				b.FirstOffset = start
			}
			all = append(all, b)
		}
	}
	if len(all) == 0 {
		return nil
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].FirstOffset < all[j].FirstOffset })
	points := make([]int64, 0, 2*len(all))
	for _, b := range all {
		points = append(points, b.FirstOffset, b.LastOffset+1)
	}
	points = sortedUnique(points)
	var out []StateBatch
	var active []StateBatch
	next := 0
	for i := 0; i+1 < len(points); i++ {
		lo, hi := points[i], points[i+1]-1
		for next < len(all) && all[next].FirstOffset <= lo {
			active = append(active, all[next])
			next++
		}
		kept := active[:0]
		for _, b := range active {
			if b.LastOffset >= lo {
				kept = append(kept, b)
			}
		}
		active = kept
		if len(active) == 0 {
			continue
		}
		best := active[0]
		for _, b := range active[1:] {
			if precedes(best, b) {
				best = b
			}
		}
		out = appendRun(out, StateBatch{FirstOffset: lo, LastOffset: hi, DeliveryState: best.DeliveryState, DeliveryCount: best.DeliveryCount})
	}
	return out
}

// diffBatches returns the parts of next (sorted, disjoint) whose delivery
// information differs from prev's (sorted, disjoint) or that prev lacks:
// what a ShareUpdate must carry so that combining it into prev gives next,
// when next is prev combined with newer batches.
func diffBatches(next, prev []StateBatch) []StateBatch {
	var out []StateBatch
	j := 0
	for _, b := range next {
		lo := b.FirstOffset
		for j < len(prev) && prev[j].LastOffset < lo {
			j++
		}
		for k := j; lo <= b.LastOffset; {
			if k >= len(prev) || prev[k].FirstOffset > b.LastOffset {
				out = appendRun(out, StateBatch{lo, b.LastOffset, b.DeliveryState, b.DeliveryCount})
				break
			}
			p := prev[k]
			if p.FirstOffset > lo {
				out = appendRun(out, StateBatch{lo, p.FirstOffset - 1, b.DeliveryState, b.DeliveryCount})
				lo = p.FirstOffset
			}
			end := min(p.LastOffset, b.LastOffset)
			if !sameDelivery(p, b) {
				out = appendRun(out, StateBatch{lo, end, b.DeliveryState, b.DeliveryCount})
			}
			lo = end + 1
			if p.LastOffset <= b.LastOffset {
				k++
			}
		}
	}
	return out
}

// appendRun appends b to out, extending out's last batch when b follows it
// with the same delivery information.
func appendRun(out []StateBatch, b StateBatch) []StateBatch {
	if n := len(out); n > 0 && out[n-1].LastOffset+1 == b.FirstOffset && sameDelivery(out[n-1], b) {
		out[n-1].LastOffset = b.LastOffset
		return out
	}
	return append(out, b)
}

func sortedUnique(v []int64) []int64 {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	out := v[:0]
	for i, x := range v {
		if i == 0 || x != v[i-1] {
			out = append(out, x)
		}
	}
	return out
}
