package group

import (
	"slices"
	"sort"
)

// taskID is one task: a subtopology and a partition.
type taskID struct {
	subtopology string
	partition   int32
}

// taskSet is a set of tasks by subtopology, partitions sorted.
type taskSet map[string][]int32

func (t taskSet) has(id taskID) bool {
	_, ok := slices.BinarySearch(t[id.subtopology], id.partition)
	return ok
}

func (t taskSet) add(id taskID) {
	ps := t[id.subtopology]
	i, ok := slices.BinarySearch(ps, id.partition)
	if !ok {
		t[id.subtopology] = slices.Insert(ps, i, id.partition)
	}
}

func (t taskSet) size() int {
	n := 0
	for _, ps := range t {
		n += len(ps)
	}
	return n
}

func (t taskSet) clone() taskSet {
	out := taskSet{}
	for k, ps := range t {
		if len(ps) > 0 {
			out[k] = slices.Clone(ps)
		}
	}
	return out
}

func (t taskSet) equal(o taskSet) bool {
	if t.size() != o.size() {
		return false
	}
	for k, ps := range t {
		if !slices.Equal(ps, o[k]) && len(ps) > 0 {
			return false
		}
	}
	return true
}

func (t taskSet) each(fn func(taskID)) {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, p := range t[k] {
			fn(taskID{k, p})
		}
	}
}

// streamsTasks is a member's tasks by role (Kafka's TasksTuple).
type streamsTasks struct {
	active, standby, warmup taskSet
}

func emptyStreamsTasks() streamsTasks {
	return streamsTasks{active: taskSet{}, standby: taskSet{}, warmup: taskSet{}}
}

func (a streamsTasks) clone() streamsTasks {
	return streamsTasks{active: a.active.clone(), standby: a.standby.clone(), warmup: a.warmup.clone()}
}

func (a streamsTasks) equal(b streamsTasks) bool {
	return a.active.equal(b.active) && a.standby.equal(b.standby) && a.warmup.equal(b.warmup)
}

// stickyMember is a member as the sticky task assignor sees it.
type stickyMember struct {
	id        string
	processID string
	previous  streamsTasks // the member's previous target
}

// assignStreamsTasks is a simple sticky task assignor (after Kafka's
// StickyTaskAssignor): every task of tasks goes to exactly one member as
// an active task, preferring the member that had it, with members kept
// within one task of each other; then numStandby standby replicas of each
// task go to the least loaded members of other processes than the active
// one (no standby if there is none), preferring previous holders.
// Deterministic for a given input.
func assignStreamsTasks(members []stickyMember, tasks map[string]int32, numStandby int) map[string]streamsTasks {
	out := map[string]streamsTasks{}
	sort.Slice(members, func(i, j int) bool { return members[i].id < members[j].id })
	for _, m := range members {
		out[m.id] = emptyStreamsTasks()
	}
	if len(members) == 0 {
		return out
	}
	var all []taskID
	subs := make([]string, 0, len(tasks))
	for s := range tasks {
		subs = append(subs, s)
	}
	sort.Strings(subs)
	for _, s := range subs {
		for p := int32(0); p < tasks[s]; p++ {
			all = append(all, taskID{s, p})
		}
	}
	// Interleave subtopologies (partition first) so that what a member
	// keeps, and what the least loaded member gets, spreads over the
	// subtopologies instead of filling one.
	sort.SliceStable(all, func(i, j int) bool { return all[i].partition < all[j].partition })
	load := map[string]int{}
	capacity := (len(all) + len(members) - 1) / len(members)
	owner := map[taskID]string{}
	// Sticky: a task stays with its previous active owner within capacity.
	for _, t := range all {
		for _, m := range members {
			if m.previous.active != nil && m.previous.active.has(t) && load[m.id] < capacity {
				owner[t] = m.id
				load[m.id]++
				break
			}
		}
	}
	leastLoaded := func(ok func(stickyMember) bool) string {
		best := ""
		for _, m := range members {
			if !ok(m) {
				continue
			}
			if best == "" || load[m.id] < load[best] {
				best = m.id
			}
		}
		return best
	}
	for _, t := range all {
		if _, ok := owner[t]; ok {
			continue
		}
		id := leastLoaded(func(stickyMember) bool { return true })
		owner[t] = id
		load[id]++
	}
	process := map[string]string{}
	for _, m := range members {
		process[m.id] = m.processID
	}
	for _, t := range all {
		out[owner[t]].active.add(t)
	}
	for r := 0; r < numStandby; r++ {
		for _, t := range all {
			eligible := func(m stickyMember) bool {
				if process[m.id] == process[owner[t]] || out[m.id].standby.has(t) {
					return false
				}
				// One replica of a task per process.
				for _, o := range members {
					if o.processID == m.processID && out[o.id].standby.has(t) {
						return false
					}
				}
				return true
			}
			id := ""
			for _, m := range members {
				if m.previous.standby != nil && m.previous.standby.has(t) && eligible(m) {
					id = m.id
					break
				}
			}
			if id == "" {
				id = leastLoaded(eligible)
			}
			if id == "" {
				continue
			}
			out[id].standby.add(t)
			load[id]++
		}
	}
	return out
}
