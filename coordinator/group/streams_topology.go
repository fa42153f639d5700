package group

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/spool-broker/spool/protocol"
)

// Status codes of StreamsGroupHeartbeat (Kafka's
// StreamsGroupHeartbeatResponse.Status).
const (
	StreamsStatusStaleTopology                int8 = 0
	StreamsStatusMissingSourceTopics          int8 = 1
	StreamsStatusIncorrectlyPartitionedTopics int8 = 2
	StreamsStatusMissingInternalTopics        int8 = 3
	StreamsStatusShutdownApplication          int8 = 4
	StreamsStatusAssignmentDelayed            int8 = 5
)

// StreamsInternalTopic is a repartition or changelog topic a streams
// group's topology needs; the broker creates the missing ones.
type StreamsInternalTopic struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16 // -1: the broker's default
	Configs           map[string]string
}

// streamsTopicInfo is a topology's TopicInfo: partitions 0 means the
// coordinator decides.
type streamsTopicInfo struct {
	name              string
	partitions        int32
	replicationFactor int16
	configs           [][2]string // in request order
}

// streamsSubtopology is one subtopology as the first member sent it.
type streamsSubtopology struct {
	id                string
	sourceTopics      []string
	sourceTopicRegex  []string
	regexes           []*regexp.Regexp
	changelogTopics   []streamsTopicInfo
	repartitionSinks  []string
	repartitionSource []streamsTopicInfo
	copartitionGroups [][]string // topic names that must have equal partition counts
}

// streamsTopology is the topology a streams group was initialized with
// (Kafka's StreamsTopology). Immutable once set: Kafka 4.3 does not support
// topology updates.
type streamsTopology struct {
	epoch         int32
	subtopologies []streamsSubtopology // sorted by id
	// record is the StreamsGroupTopologyValue the topology is written as.
	record []byte
}

func newStreamsTopology(t *protocol.StreamsGroupHeartbeatRequestTopology) (*streamsTopology, error) {
	out := &streamsTopology{epoch: t.Epoch, record: encodeStreamsTopologyValue(t)}
	info := func(ts []protocol.StreamsGroupHeartbeatRequestTopicInfo) []streamsTopicInfo {
		var o []streamsTopicInfo
		for _, ti := range ts {
			x := streamsTopicInfo{name: string(ti.Name), partitions: ti.Partitions, replicationFactor: ti.ReplicationFactor}
			for _, kv := range ti.TopicConfigs {
				x.configs = append(x.configs, [2]string{kv.Key, kv.Value})
			}
			o = append(o, x)
		}
		return o
	}
	for _, st := range t.Subtopologies {
		s := streamsSubtopology{id: st.SubtopologyID, sourceTopicRegex: slices.Clone(st.SourceTopicRegex),
			changelogTopics: info(st.StateChangelogTopics), repartitionSource: info(st.RepartitionSourceTopics)}
		for _, n := range st.SourceTopics {
			s.sourceTopics = append(s.sourceTopics, string(n))
		}
		for _, n := range st.RepartitionSinkTopics {
			s.repartitionSinks = append(s.repartitionSinks, string(n))
		}
		for _, re := range st.SourceTopicRegex {
			c, err := compileTopicRegex(re)
			if err != nil {
				return nil, fmt.Errorf("SourceTopicRegex %s is not a valid regular expression: %v", re, err)
			}
			s.regexes = append(s.regexes, c)
		}
		for _, cg := range st.CopartitionGroups {
			var names []string
			for _, i := range cg.SourceTopics {
				if int(i) < 0 || int(i) >= len(s.sourceTopics) {
					//lint:ignore ST1005 Kafka's message, which the member is sent verbatim
					return nil, fmt.Errorf("Copartition group refers to an unknown source topic index %d", i)
				}
				names = append(names, s.sourceTopics[i])
			}
			for _, i := range cg.RepartitionSourceTopics {
				if int(i) < 0 || int(i) >= len(s.repartitionSource) {
					//lint:ignore ST1005 Kafka's message, which the member is sent verbatim
					return nil, fmt.Errorf("Copartition group refers to an unknown repartition source topic index %d", i)
				}
				names = append(names, s.repartitionSource[i].name)
			}
			s.copartitionGroups = append(s.copartitionGroups, names)
		}
		out.subtopologies = append(out.subtopologies, s)
	}
	sort.Slice(out.subtopologies, func(i, j int) bool { return out.subtopologies[i].id < out.subtopologies[j].id })
	return out, nil
}

// sources resolves the subtopology's source topics (names and regexes)
// against the cluster's topics.
func (s *streamsSubtopology) sources(parts map[string]int32) []string {
	out := slices.Clone(s.sourceTopics)
	if len(s.regexes) > 0 {
		for name := range parts {
			for _, re := range s.regexes {
				if re.MatchString(name) {
					out = append(out, name)
					break
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// topicNames are every topic the topology reads or writes by name.
func (t *streamsTopology) topicNames() []string {
	var out []string
	for _, s := range t.subtopologies {
		out = append(out, s.sourceTopics...)
		for _, r := range s.repartitionSource {
			out = append(out, r.name)
		}
		for _, c := range s.changelogTopics {
			out = append(out, c.name)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// configuredTopology is a topology resolved against the cluster's topics
// (Kafka's ConfiguredTopology from InternalTopicManager.configureTopics):
// the number of tasks of each subtopology and the internal topics, or why
// the group cannot be assigned tasks yet.
type configuredTopology struct {
	// statusCode/statusDetail are set when the topology cannot be
	// configured (missing source topics, wrong partition counts) or
	// internal topics are missing; tasks is nil unless the topology is
	// configured (it may still miss internal topics).
	statusCode   int8
	statusDetail string
	hasStatus    bool
	tasks        map[string]int32    // subtopology id → number of tasks
	sources      map[string][]string // subtopology id → source and repartition source topics
	missing      []StreamsInternalTopic
}

// ready reports whether tasks can be assigned.
func (c *configuredTopology) ready() bool { return c != nil && c.tasks != nil && !c.hasStatus }

// summarizeTopics is Kafka's summary of topic names in statuses: up to
// three, then a count.
func summarizeTopics(topics []string) string {
	if len(topics) == 0 {
		return "<none>"
	}
	n := min(3, len(topics))
	s := strings.Join(topics[:n], ", ")
	if len(topics) > 3 {
		s += fmt.Sprintf(" and %d additional topics", len(topics)-3)
	}
	return s
}

// configureStreamsTopology is Kafka's InternalTopicManager.configureTopics:
// source topics must exist; repartition topics without a partition count
// get the largest partition count of the subtopologies writing to them,
// copartitioned topics must agree, changelog topics get their
// subtopology's number of tasks; internal topics that do not exist are
// returned to be created.
func configureStreamsTopology(t *streamsTopology, parts map[string]int32) *configuredTopology {
	var missingSources []string
	sources := map[string][]string{}
	for i := range t.subtopologies {
		s := &t.subtopologies[i]
		for _, n := range s.sourceTopics {
			if _, ok := parts[n]; !ok {
				missingSources = append(missingSources, n)
			}
		}
		srcs := s.sources(parts)
		if len(s.regexes) > 0 && len(srcs) == 0 && len(s.sourceTopics) == 0 {
			missingSources = append(missingSources, s.sourceTopicRegex...)
		}
		sources[s.id] = srcs
	}
	if len(missingSources) > 0 {
		sort.Strings(missingSources)
		missingSources = slices.Compact(missingSources)
		return &configuredTopology{hasStatus: true, statusCode: StreamsStatusMissingSourceTopics,
			statusDetail: "Source topics " + summarizeTopics(missingSources) + " are missing."}
	}
	decided := map[string]int32{}
	count := func(topic string) (int32, bool) {
		if n, ok := parts[topic]; ok {
			return n, true
		}
		n, ok := decided[topic]
		return n, ok
	}
	// Repartition topics: fixed counts first, then the maximum over the
	// writing subtopologies' inputs, until nothing changes.
	for _, s := range t.subtopologies {
		for _, r := range s.repartitionSource {
			if r.partitions > 0 {
				decided[r.name] = r.partitions
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range t.subtopologies {
			for _, r := range s.repartitionSource {
				if r.partitions > 0 {
					continue
				}
				var best int32
				for _, w := range t.subtopologies {
					if !slices.Contains(w.repartitionSinks, r.name) {
						continue
					}
					for _, in := range append(slices.Clone(sources[w.id]), repartitionNames(w)...) {
						if n, ok := count(in); ok && n > best {
							best = n
						}
					}
				}
				if best > 0 && decided[r.name] != best {
					decided[r.name] = best
					changed = true
				}
			}
		}
	}
	// Copartitioning: flexible repartition topics follow the others.
	for _, s := range t.subtopologies {
		for _, group := range s.copartitionGroups {
			var want int32
			for _, n := range group {
				if c, ok := parts[n]; ok {
					if want != 0 && c != want {
						return &configuredTopology{hasStatus: true, statusCode: StreamsStatusIncorrectlyPartitionedTopics,
							statusDetail: fmt.Sprintf("Following topics do not have the same number of partitions: [%s]", strings.Join(group, ", "))}
					}
					want = c
				}
			}
			if want == 0 {
				for _, n := range group {
					if c, ok := decided[n]; ok && c > want {
						want = c
					}
				}
			}
			for _, n := range group {
				if _, ok := parts[n]; !ok && want > 0 {
					decided[n] = want
				}
			}
		}
	}
	ct := &configuredTopology{tasks: map[string]int32{}, sources: map[string][]string{}}
	var internal []StreamsInternalTopic
	for _, s := range t.subtopologies {
		var n int32
		ins := append(slices.Clone(sources[s.id]), repartitionNames(s)...)
		for _, in := range ins {
			c, ok := count(in)
			if !ok {
				return &configuredTopology{hasStatus: true, statusCode: StreamsStatusIncorrectlyPartitionedTopics,
					statusDetail: "Number of partitions must be set for topic " + in}
			}
			n = max(n, c)
		}
		ct.tasks[s.id] = n
		ct.sources[s.id] = ins
		for _, r := range s.repartitionSource {
			p := r.partitions
			if p == 0 {
				p = decided[r.name]
			}
			internal = append(internal, internalTopic(r, p))
		}
		for _, c := range s.changelogTopics {
			p := c.partitions
			if p == 0 {
				p = n
			}
			internal = append(internal, internalTopic(c, p))
		}
	}
	sort.Slice(internal, func(i, j int) bool { return internal[i].Name < internal[j].Name })
	var missingNames []string
	for _, it := range internal {
		if i := len(missingNames); i > 0 && missingNames[i-1] == it.Name {
			continue
		}
		have, ok := parts[it.Name]
		if !ok {
			ct.missing = append(ct.missing, it)
			missingNames = append(missingNames, it.Name)
			continue
		}
		if have != it.Partitions {
			return &configuredTopology{hasStatus: true, statusCode: StreamsStatusIncorrectlyPartitionedTopics,
				statusDetail: fmt.Sprintf("Existing topic %s has different number of partitions: expected %d, found %d", it.Name, it.Partitions, have)}
		}
	}
	if len(ct.missing) > 0 {
		ct.hasStatus, ct.statusCode = true, StreamsStatusMissingInternalTopics
		ct.statusDetail = "Internal topics are missing: " + summarizeTopics(missingNames)
	}
	return ct
}

func repartitionNames(s streamsSubtopology) []string {
	var out []string
	for _, r := range s.repartitionSource {
		out = append(out, r.name)
	}
	return out
}

func internalTopic(ti streamsTopicInfo, partitions int32) StreamsInternalTopic {
	rf := ti.replicationFactor
	if rf == 0 {
		rf = -1
	}
	cfg := map[string]string{}
	for _, kv := range ti.configs {
		cfg[kv[0]] = kv[1]
	}
	return StreamsInternalTopic{Name: ti.name, Partitions: partitions, ReplicationFactor: rf, Configs: cfg}
}

// streamsMetadataKey is what a configured topology depends on: the
// partition counts of the topology's named topics and, with regexes, of
// every topic. A different key bumps the group epoch (Kafka's metadata
// hash).
func streamsMetadataKey(t *streamsTopology, parts map[string]int32) string {
	var b strings.Builder
	names := t.topicNames()
	for _, s := range t.subtopologies {
		if len(s.regexes) > 0 {
			names = names[:0]
			for n := range parts {
				names = append(names, n)
			}
			sort.Strings(names)
			break
		}
	}
	for _, n := range names {
		if p, ok := parts[n]; ok {
			fmt.Fprintf(&b, "%s:%d;", n, p)
		}
	}
	return b.String()
}
