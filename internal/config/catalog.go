package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ConfigDef describes one topic-level config as Kafka 4.3 defines it
// (LogConfig). Broker-level properties are described by Entry via
// ResolveBroker.
type ConfigDef struct {
	Name      string
	Type      ConfigType
	Default   string // as DescribeConfigs prints it
	Doc       string
	Sensitive bool
	// BrokerSynonyms are the broker properties that supply the default, in
	// priority order (e.g. log.retention.ms, .minutes, .hours).
	BrokerSynonyms []string
	check          check
}

// Validate checks one value; the error reads like Kafka's INVALID_CONFIG
// message and names the config, the value and what is allowed.
func (d ConfigDef) Validate(value string) error {
	return validateValue(d.Name, d.Type, d.check, value)
}

type synonym struct {
	name string
	unit int64 // multiply to get the topic unit (ms); 1 if same unit
}

// topicSynonyms maps topic configs to broker configs (Kafka's
// ServerTopicConfigSynonyms), highest priority first.
var topicSynonyms = map[string][]synonym{
	"segment.bytes":                   {{"log.segment.bytes", 1}},
	"segment.ms":                      {{"log.roll.ms", 1}, {"log.roll.hours", 3_600_000}},
	"segment.jitter.ms":               {{"log.roll.jitter.ms", 1}, {"log.roll.jitter.hours", 3_600_000}},
	"segment.index.bytes":             {{"log.index.size.max.bytes", 1}},
	"flush.messages":                  {{"log.flush.interval.messages", 1}},
	"flush.ms":                        {{"log.flush.interval.ms", 1}, {"log.flush.scheduler.interval.ms", 1}},
	"retention.bytes":                 {{"log.retention.bytes", 1}},
	"retention.ms":                    {{"log.retention.ms", 1}, {"log.retention.minutes", 60_000}, {"log.retention.hours", 3_600_000}},
	"max.message.bytes":               {{"message.max.bytes", 1}},
	"index.interval.bytes":            {{"log.index.interval.bytes", 1}},
	"delete.retention.ms":             {{"log.cleaner.delete.retention.ms", 1}},
	"min.compaction.lag.ms":           {{"log.cleaner.min.compaction.lag.ms", 1}},
	"max.compaction.lag.ms":           {{"log.cleaner.max.compaction.lag.ms", 1}},
	"file.delete.delay.ms":            {{"log.segment.delete.delay.ms", 1}},
	"min.cleanable.dirty.ratio":       {{"log.cleaner.min.cleanable.ratio", 1}},
	"cleanup.policy":                  {{"log.cleanup.policy", 1}},
	"unclean.leader.election.enable":  {{"unclean.leader.election.enable", 1}},
	"min.insync.replicas":             {{"min.insync.replicas", 1}},
	"compression.type":                {{"compression.type", 1}},
	"compression.gzip.level":          {{"compression.gzip.level", 1}},
	"compression.lz4.level":           {{"compression.lz4.level", 1}},
	"compression.zstd.level":          {{"compression.zstd.level", 1}},
	"preallocate":                     {{"log.preallocate", 1}},
	"message.timestamp.type":          {{"log.message.timestamp.type", 1}},
	"message.timestamp.before.max.ms": {{"log.message.timestamp.before.max.ms", 1}},
	"message.timestamp.after.max.ms":  {{"log.message.timestamp.after.max.ms", 1}},
	"local.retention.ms":              {{"log.local.retention.ms", 1}},
	"local.retention.bytes":           {{"log.local.retention.bytes", 1}},
}

func throttledReplicas(v string) (string, bool) {
	const desc = "must be * or a comma-separated list of partition:brokerId entries"
	items := splitList(v)
	if len(items) == 1 && items[0] == "*" {
		return "", true
	}
	for _, it := range items {
		p, id, ok := strings.Cut(it, ":")
		if _, e1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32); !ok || e1 != nil {
			return desc, false
		}
		if _, e2 := strconv.ParseInt(strings.TrimSpace(id), 10, 32); e2 != nil {
			return desc, false
		}
	}
	return "", true
}

var topicDefList = []ConfigDef{
	{Name: "cleanup.policy", Type: TypeList, Default: "delete", Doc: "delete old segments, compact by key, or both; empty keeps everything", check: listOf(true, "delete", "compact")},
	{Name: "compression.gzip.level", Type: TypeInt, Default: "-1", Doc: "gzip level when compression.type is gzip", check: gzipLevel},
	{Name: "compression.lz4.level", Type: TypeInt, Default: "9", Doc: "lz4 level when compression.type is lz4", check: intBetween(1, 17)},
	{Name: "compression.type", Type: TypeString, Default: "producer", Doc: "Final compression of the topic; producer keeps the producer's codec", check: oneOf(compressionTypes...)},
	{Name: "compression.zstd.level", Type: TypeInt, Default: "3", Doc: "zstd level when compression.type is zstd", check: intBetween(-131072, 22)},
	{Name: "delete.retention.ms", Type: TypeLong, Default: "86400000", Doc: "How long delete markers survive in a compacted topic", check: longAtLeast(0)},
	{Name: "file.delete.delay.ms", Type: TypeLong, Default: "60000", Doc: "Delay before a deleted segment's files are removed", check: longAtLeast(0)},
	{Name: "flush.messages", Type: TypeLong, Default: maxLong, Doc: "Messages appended between forced fsyncs", check: longAtLeast(1)},
	{Name: "flush.ms", Type: TypeLong, Default: maxLong, Doc: "Max time between forced fsyncs", check: longAtLeast(0)},
	{Name: "follower.replication.throttled.replicas", Type: TypeList, Default: "", Doc: "Replicas throttled on the follower side (partition:broker or *)", check: throttledReplicas},
	{Name: "index.interval.bytes", Type: TypeInt, Default: "4096", Doc: "Bytes between offset index entries", check: intAtLeast(0)},
	{Name: "leader.replication.throttled.replicas", Type: TypeList, Default: "", Doc: "Replicas throttled on the leader side (partition:broker or *)", check: throttledReplicas},
	{Name: "local.retention.bytes", Type: TypeLong, Default: "-2", Doc: "Local bytes kept with tiered storage; -2 follows retention.bytes", check: longAtLeast(-2)},
	{Name: "local.retention.ms", Type: TypeLong, Default: "-2", Doc: "Local time kept with tiered storage; -2 follows retention.ms", check: longAtLeast(-2)},
	{Name: "max.compaction.lag.ms", Type: TypeLong, Default: maxLong, Doc: "Max time a message stays uncompacted", check: longAtLeast(1)},
	{Name: "max.message.bytes", Type: TypeInt, Default: "1048588", Doc: "Largest record batch the topic accepts", check: intAtLeast(0)},
	{Name: "message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", Doc: "How far ahead of the broker's clock a CreateTime may be", check: longAtLeast(0)},
	{Name: "message.timestamp.before.max.ms", Type: TypeLong, Default: maxLong, Doc: "How far behind the broker's clock a CreateTime may be", check: longAtLeast(0)},
	{Name: "message.timestamp.type", Type: TypeString, Default: "CreateTime", Doc: "CreateTime keeps the producer's timestamp, LogAppendTime uses the broker's", check: oneOf("CreateTime", "LogAppendTime")},
	{Name: "min.cleanable.dirty.ratio", Type: TypeDouble, Default: "0.5", Doc: "Dirty fraction of the log that triggers compaction", check: doubleBetween(0, 1)},
	{Name: "min.compaction.lag.ms", Type: TypeLong, Default: "0", Doc: "Min time a message stays uncompacted", check: longAtLeast(0)},
	{Name: "min.insync.replicas", Type: TypeInt, Default: "1", Doc: "Replicas that must acknowledge an acks=all write", check: intAtLeast(1)},
	{Name: "preallocate", Type: TypeBoolean, Default: "false", Doc: "Preallocate segment files"},
	{Name: "remote.log.copy.disable", Type: TypeBoolean, Default: "false", Doc: "Stop copying segments to remote storage (tiered storage)"},
	{Name: "remote.log.delete.on.disable", Type: TypeBoolean, Default: "false", Doc: "Delete remote data when tiered storage is turned off"},
	{Name: "remote.storage.enable", Type: TypeBoolean, Default: "false", Doc: "Enable tiered storage for the topic (not supported by Spool)"},
	{Name: "retention.bytes", Type: TypeLong, Default: "-1", Doc: "Max partition size before old segments are deleted; -1 unlimited", check: anyLong()},
	{Name: "retention.ms", Type: TypeLong, Default: "604800000", Doc: "Max age of a segment before deletion; -1 unlimited", check: longAtLeast(-1)},
	{Name: "segment.bytes", Type: TypeInt, Default: "1073741824", Doc: "Max size of a segment file", check: intAtLeast(1048576)},
	{Name: "segment.index.bytes", Type: TypeInt, Default: "10485760", Doc: "Max size of a segment's offset index", check: intAtLeast(4)},
	{Name: "segment.jitter.ms", Type: TypeLong, Default: "0", Doc: "Max random jitter subtracted from segment.ms", check: longAtLeast(0)},
	{Name: "segment.ms", Type: TypeLong, Default: "604800000", Doc: "Max age of the active segment before rolling", check: longAtLeast(1)},
	{Name: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", Doc: "Allow out-of-sync replicas to become leader (data loss)"},
}

var topicDefs = func() map[string]ConfigDef {
	m := make(map[string]ConfigDef, len(topicDefList))
	for i := range topicDefList {
		d := &topicDefList[i]
		for _, s := range topicSynonyms[d.Name] {
			d.BrokerSynonyms = append(d.BrokerSynonyms, s.name)
		}
		m[d.Name] = *d
	}
	return m
}()

// TopicConfigs returns every topic-level config, sorted by name.
func TopicConfigs() []ConfigDef {
	out := slices.Clone(topicDefList)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupTopicConfig finds a topic-level config by name.
func LookupTopicConfig(name string) (ConfigDef, bool) {
	d, ok := topicDefs[name]
	return d, ok
}

// ErrUnknownTopicConfig marks a config name Kafka does not know for topics.
var ErrUnknownTopicConfig = errors.New("unknown topic config")

// ValidateTopicConfigs checks names and values of topic overrides (for
// CreateTopics and AlterConfigs) plus Kafka's cross-field checks.
func ValidateTopicConfigs(m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d, ok := topicDefs[k]
		if !ok {
			//lint:ignore ST1005 Kafka's message for an unknown topic config, which CreateTopics sends clients verbatim
			return fmt.Errorf("Unknown topic config name: %s: %w", k, ErrUnknownTopicConfig)
		}
		if err := d.Validate(m[k]); err != nil {
			return err
		}
	}
	minLag, maxLag := int64(0), int64(1<<63-1)
	if v, ok := m["min.compaction.lag.ms"]; ok {
		minLag, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	if v, ok := m["max.compaction.lag.ms"]; ok {
		maxLag, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	if minLag > maxLag {
		return fmt.Errorf("conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", minLag, maxLag)
	}
	if v, ok := m["remote.storage.enable"]; ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		return &ValueError{Name: "remote.storage.enable", Value: v, Allowed: "tiered storage is disabled in the broker; must be false"}
	}
	return nil
}

// Synonym is one source of a config's value, as DescribeConfigs lists it.
type Synonym struct {
	Name   string
	Value  *string // nil for sensitive or null values
	Source ConfigSource
}

// Entry is one DescribeConfigs result entry.
type Entry struct {
	Name      string
	Value     *string // nil for sensitive configs and null defaults
	Source    ConfigSource
	ReadOnly  bool
	Sensitive bool
	Synonyms  []Synonym // highest priority first, the entry's own source included
	Type      ConfigType
	Doc       string
	// Update is the broker config's update mode (ReadOnly for topic configs'
	// purposes is false: topic configs are always alterable).
	Update UpdateMode
}

// Dynamic holds the broker configs set at runtime through AlterConfigs.
type Dynamic struct {
	PerBroker      map[string]string // this broker's overrides: DYNAMIC_BROKER_CONFIG
	ClusterDefault map[string]string // the <default> broker entity: DYNAMIC_DEFAULT_BROKER_CONFIG
}

func strp(s string) *string { return &s }

// brokerLayers lists, for name, every layer that sets it, highest first.
func (b *Broker) brokerLayers(name string, dyn Dynamic) []Synonym {
	var out []Synonym
	if v, ok := dyn.PerBroker[name]; ok {
		out = append(out, Synonym{Name: name, Value: strp(v), Source: SourceDynamicBroker})
	}
	if v, ok := dyn.ClusterDefault[name]; ok {
		out = append(out, Synonym{Name: name, Value: strp(v), Source: SourceDynamicDefaultBroker})
	}
	if v, ok := b.static[name]; ok {
		out = append(out, Synonym{Name: name, Value: strp(v), Source: SourceStaticBroker})
	}
	if v, ok := defaultValue(name); ok {
		out = append(out, Synonym{Name: name, Value: strp(v), Source: SourceDefault})
	}
	return out
}

// defaultValue is Spool's built-in default for a broker property; the
// zero-config bundle is not included because it is applied as a unit.
func defaultValue(name string) (string, bool) {
	if v, ok := spoolDefaults[name]; ok {
		return v, true
	}
	d := brokerDefs[name]
	if d == nil || d.null || d.noDefault {
		return "", false
	}
	return d.def, true
}

// ResolveTopic computes the effective config of a topic for DescribeConfigs:
// every topic config with its value, source and synonyms, as Kafka shows them.
func ResolveTopic(overrides map[string]string, b *Broker, dyn Dynamic) []Entry {
	out := make([]Entry, 0, len(topicDefList))
	for _, d := range TopicConfigs() {
		e := Entry{Name: d.Name, Type: d.Type, Doc: d.Doc, Sensitive: d.Sensitive, Update: ClusterWide}
		if v, ok := overrides[d.Name]; ok {
			e.Synonyms = append(e.Synonyms, Synonym{Name: d.Name, Value: strp(v), Source: SourceTopic})
		}
		// Kafka orders synonyms by source, then by synonym priority.
		var layers [6][]Synonym
		for _, s := range topicSynonyms[d.Name] {
			for _, l := range b.brokerLayers(s.name, dyn) {
				layers[l.Source] = append(layers[l.Source], l)
			}
		}
		for _, src := range []ConfigSource{SourceDynamicBroker, SourceDynamicDefaultBroker, SourceStaticBroker, SourceDefault} {
			e.Synonyms = append(e.Synonyms, layers[src]...)
		}
		e.Value, e.Source = strp(d.Default), SourceDefault
		if len(e.Synonyms) > 0 {
			e.Value = strp(toTopicUnit(d.Name, e.Synonyms[0]))
		}
		// Kafka lists the broker synonyms from the first layer that sets
		// the primary one (log.retention.ms): with only log.retention.hours
		// set, retention.ms shows its value in ms, no synonyms and the
		// DEFAULT_CONFIG source.
		if syn := topicSynonyms[d.Name]; len(syn) > 0 {
			i := 0
			if len(e.Synonyms) > 0 && e.Synonyms[0].Source == SourceTopic {
				i = 1
			}
			j := i
			for j < len(e.Synonyms) && e.Synonyms[j].Name != syn[0].name {
				j++
			}
			e.Synonyms = append(e.Synonyms[:i], e.Synonyms[j:]...)
		}
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		out = append(out, e)
	}
	return out
}

// toTopicUnit converts a broker synonym's value to the topic config's unit
// (log.retention.hours=168 -> retention.ms=604800000).
func toTopicUnit(topicName string, s Synonym) string {
	if s.Source == SourceTopic || s.Value == nil {
		return deref(s.Value)
	}
	for _, syn := range topicSynonyms[topicName] {
		if syn.name == s.Name && syn.unit != 1 {
			n, err := strconv.ParseInt(strings.TrimSpace(*s.Value), 10, 64)
			if err != nil {
				return *s.Value
			}
			return strconv.FormatInt(toMs(n, syn.unit), 10)
		}
	}
	return strings.TrimSpace(*s.Value)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// brokerSynonymGroups are broker properties that share a value (Kafka's
// DynamicBrokerConfig.brokerConfigSynonyms), highest priority first.
var brokerSynonymGroups = [][]string{
	{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
	{"log.roll.ms", "log.roll.hours"},
	{"log.roll.jitter.ms", "log.roll.jitter.hours"},
	{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
}

func brokerSynonymsOf(name string) []string {
	for _, g := range brokerSynonymGroups {
		if i := slices.Index(g, name); i >= 0 {
			return g[i:]
		}
	}
	return []string{name}
}

// ResolveBroker lists every broker config for DescribeConfigs of a BROKER
// resource, sorted by name, as Kafka's ConfigHelper does: every public
// config of Kafka's ConfigDef (and Spool's own spool.*), plus whatever else
// is set (Kafka lists a broker's originals: unlisted configs once set, and
// properties it does not know, such as listener overrides).
func ResolveBroker(b *Broker, dyn Dynamic) []Entry {
	out := make([]Entry, 0, len(brokerDefNames))
	for _, name := range brokerDefNames {
		d := brokerDefs[name]
		e := Entry{Name: name, Type: d.typ, Doc: d.doc, Update: d.mode, ReadOnly: d.mode == ReadOnly,
			Sensitive: d.typ == TypePassword}
		var layers [6][]Synonym
		for _, s := range brokerSynonymsOf(name) {
			for _, l := range b.brokerLayers(s, dyn) {
				if d.unlisted && l.Source == SourceDefault {
					continue // outside Kafka's ConfigDef: no default synonym
				}
				layers[l.Source] = append(layers[l.Source], l)
			}
		}
		for _, src := range []ConfigSource{SourceDynamicBroker, SourceDynamicDefaultBroker, SourceStaticBroker, SourceDefault} {
			e.Synonyms = append(e.Synonyms, layers[src]...)
		}
		// Like Kafka, drop lower-priority synonyms that precede the first
		// layer setting this very name: log.retention.ms shows no synonyms
		// and a null value when only log.retention.hours is set.
		for len(e.Synonyms) > 0 && e.Synonyms[0].Name != name {
			e.Synonyms = e.Synonyms[1:]
		}
		if d.unlisted && len(e.Synonyms) == 0 {
			continue // not set: Kafka does not list it
		}
		if d.untyped {
			e.Type, e.Sensitive = TypeUnknown, true
		}
		e.Source = SourceDefault
		if len(e.Synonyms) > 0 {
			e.Value, e.Source = e.Synonyms[0].Value, e.Synonyms[0].Source
		}
		if v, ok := zeroConfig[name]; ok && e.Source == SourceDefault && b.zeroConfigApplied() {
			e.Value = strp(v) // Spool's single-node default
		}
		out = append(out, e.redacted())
	}
	out = append(out, b.resolveUnknown(dyn)...)
	slices.SortFunc(out, func(a, c Entry) int { return strings.Compare(a.Name, c.Name) })
	return out
}

// redacted hides a sensitive entry's values.
func (e Entry) redacted() Entry {
	if e.Sensitive {
		e.Value = nil
		for i := range e.Synonyms {
			e.Synonyms[i].Value = nil
		}
	}
	return e
}

// resolveUnknown lists the set properties that are not in the catalogue
// (listener.name.* overrides, stored-only families, removed ones), as Kafka
// lists a broker's originals: read-only (not a dynamic config by this
// name), typed after the base config a
// listener override overrides, and sensitive when that type is a password or
// unknown.
func (b *Broker) resolveUnknown(dyn Dynamic) []Entry {
	var out []Entry
	seen := map[string]bool{}
	for _, m := range []map[string]string{dyn.PerBroker, dyn.ClusterDefault, b.static} {
		for name := range m {
			if seen[name] || brokerDefs[name] != nil || name == "" {
				continue
			}
			seen[name] = true
			typ := overriddenType(name)
			e := Entry{Name: name, Type: typ, ReadOnly: true, Sensitive: typ == TypeUnknown || typ == TypePassword}
			e.Synonyms = append(e.Synonyms, b.brokerLayers(name, dyn)...)
			e.Value, e.Source = e.Synonyms[0].Value, e.Synonyms[0].Source
			out = append(out, e.redacted())
		}
	}
	return out
}

// baseOfListenerOverride is the config a listener.name.<l>.<config> or
// listener.name.<l>.<mechanism>.<config> property overrides, or "".
func baseOfListenerOverride(name string) string {
	rest, ok := strings.CutPrefix(name, "listener.name.")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	if brokerDefs[rest] != nil {
		return rest
	}
	if _, base, ok := strings.Cut(rest, "."); ok && brokerDefs[base] != nil && strings.HasPrefix(base, "sasl.") {
		return base
	}
	return ""
}

// overriddenType is Kafka's KafkaConfig.configType for a property outside
// the catalogue: the type of the config a listener override overrides,
// else unknown.
func overriddenType(name string) ConfigType {
	if d := brokerDefs[baseOfListenerOverride(name)]; d != nil {
		return d.typ
	}
	return TypeUnknown
}

func (b *Broker) zeroConfigApplied() bool {
	return !slices.ContainsFunc(zeroConfigTriggers, func(k string) bool { _, ok := b.static[k]; return ok })
}

// LogSettings is the typed effective log config of one topic.
type LogSettings struct {
	SegmentBytes                int32
	SegmentMs                   int64
	SegmentJitterMs             int64
	SegmentIndexBytes           int32
	IndexIntervalBytes          int32
	RetentionMs                 int64 // -1: unlimited
	RetentionBytes              int64 // -1: unlimited
	LocalRetentionMs            int64
	LocalRetentionBytes         int64
	FlushMessages               int64
	FlushMs                     int64
	FileDeleteDelayMs           int64
	DeleteRetentionMs           int64
	MinCompactionLagMs          int64
	MaxCompactionLagMs          int64
	MinCleanableDirtyRatio      float64
	MaxMessageBytes             int32
	CleanupPolicy               []string // subset of delete, compact; empty keeps everything
	MessageTimestampType        string   // CreateTime or LogAppendTime
	MessageTimestampBeforeMaxMs int64
	MessageTimestampAfterMaxMs  int64
	CompressionType             string
	CompressionLevel            *int32 // level for gzip/lz4/zstd; nil otherwise
	MinInsyncReplicas           int32
	UncleanLeaderElectionEnable bool
	Preallocate                 bool
	RemoteStorageEnable         bool
	LeaderThrottledReplicas     []string
	FollowerThrottledReplicas   []string
}

// Compact reports whether cleanup.policy contains compact.
func (s LogSettings) Compact() bool { return slices.Contains(s.CleanupPolicy, "compact") }

// Delete reports whether cleanup.policy contains delete.
func (s LogSettings) Delete() bool { return slices.Contains(s.CleanupPolicy, "delete") }

// LogConfigForTopic resolves a topic's typed log settings: overrides >
// dynamic broker configs > static broker configs > defaults. Overrides must
// have passed ValidateTopicConfigs.
func (b *Broker) LogConfigForTopic(overrides map[string]string, dyn Dynamic) (LogSettings, error) {
	vals := map[string]string{}
	for _, e := range ResolveTopic(overrides, b, dyn) {
		vals[e.Name] = strings.TrimSpace(deref(e.Value))
	}
	var errs []error
	num := func(name string, bits int) int64 {
		n, err := strconv.ParseInt(vals[name], 10, bits)
		if err != nil {
			errs = append(errs, &ValueError{Name: name, Value: vals[name], Allowed: "must be an integer"})
		}
		return n
	}
	s := LogSettings{
		SegmentBytes:                int32(num("segment.bytes", 32)),
		SegmentMs:                   num("segment.ms", 64),
		SegmentJitterMs:             num("segment.jitter.ms", 64),
		SegmentIndexBytes:           int32(num("segment.index.bytes", 32)),
		IndexIntervalBytes:          int32(num("index.interval.bytes", 32)),
		RetentionMs:                 num("retention.ms", 64),
		RetentionBytes:              num("retention.bytes", 64),
		LocalRetentionMs:            num("local.retention.ms", 64),
		LocalRetentionBytes:         num("local.retention.bytes", 64),
		FlushMessages:               num("flush.messages", 64),
		FlushMs:                     num("flush.ms", 64),
		FileDeleteDelayMs:           num("file.delete.delay.ms", 64),
		DeleteRetentionMs:           num("delete.retention.ms", 64),
		MinCompactionLagMs:          num("min.compaction.lag.ms", 64),
		MaxCompactionLagMs:          num("max.compaction.lag.ms", 64),
		MaxMessageBytes:             int32(num("max.message.bytes", 32)),
		CleanupPolicy:               splitList(vals["cleanup.policy"]),
		MessageTimestampType:        vals["message.timestamp.type"],
		MessageTimestampBeforeMaxMs: num("message.timestamp.before.max.ms", 64),
		MessageTimestampAfterMaxMs:  num("message.timestamp.after.max.ms", 64),
		CompressionType:             vals["compression.type"],
		MinInsyncReplicas:           int32(num("min.insync.replicas", 32)),
		UncleanLeaderElectionEnable: strings.EqualFold(vals["unclean.leader.election.enable"], "true"),
		Preallocate:                 strings.EqualFold(vals["preallocate"], "true"),
		RemoteStorageEnable:         strings.EqualFold(vals["remote.storage.enable"], "true"),
		LeaderThrottledReplicas:     splitList(vals["leader.replication.throttled.replicas"]),
		FollowerThrottledReplicas:   splitList(vals["follower.replication.throttled.replicas"]),
	}
	ratio, err := strconv.ParseFloat(vals["min.cleanable.dirty.ratio"], 64)
	if err != nil {
		errs = append(errs, &ValueError{Name: "min.cleanable.dirty.ratio", Value: vals["min.cleanable.dirty.ratio"], Allowed: "must be a number"})
	}
	s.MinCleanableDirtyRatio = ratio
	switch s.CompressionType {
	case "gzip", "lz4", "zstd":
		lvl := int32(num("compression."+s.CompressionType+".level", 32))
		s.CompressionLevel = &lvl
	}
	if s.LocalRetentionMs == -2 {
		s.LocalRetentionMs = s.RetentionMs
	}
	if s.LocalRetentionBytes == -2 {
		s.LocalRetentionBytes = s.RetentionBytes
	}
	if err := errors.Join(errs...); err != nil {
		return LogSettings{}, fmt.Errorf("config: topic log settings: %w", err)
	}
	return s, nil
}

// ValidateBrokerDynamic checks configs set on a broker resource through
// AlterConfigs (a broker id, or "" for the cluster-wide default): each name
// must be a broker property that Kafka can update at runtime, and each value
// must be valid for it.
func ValidateBrokerDynamic(m map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if err, ok := checkListenerLimit(name, m[name]); ok {
			if err != nil {
				return err
			}
			continue
		}
		if ListenerKeystoreKey.MatchString(name) {
			// Applied by each broker to that listener's new connections
			// (Kafka's keystore reload); the broker validates the store.
			continue
		}
		d := brokerDefs[name]
		if d == nil {
			return fmt.Errorf("%w: %s", ErrUnknownBrokerConfig, name)
		}
		if d.mode == ReadOnly {
			return fmt.Errorf("cannot update %s at runtime: it is a read-only broker config; set it in server.properties and restart", name)
		}
		if d.check != nil {
			if allowed, ok := d.check(m[name]); !ok {
				return &ValueError{Name: name, Value: m[name], Allowed: allowed}
			}
		}
		// Fail closed at runtime too: a stored keystore, client-certificate
		// requirement or mechanism that nothing reloads would mislead.
		if d.group == groupSecurity && d.mode != ReadOnly {
			return fmt.Errorf("cannot update %s at runtime: of the TLS and SASL settings only a listener's keystore (listener.name.<listener>.ssl.keystore.*, listener.name.<listener>.ssl.key.password) is reloaded; set it in server.properties and restart", name)
		}
	}
	return nil
}

// ListenerKeystoreKey matches the per-listener keystore properties a
// dynamic broker config may update, as Kafka's keystore reload:
// listener.name.<l>.ssl.keystore.{type,location,password,certificate.chain,key}
// and listener.name.<l>.ssl.key.password.
var ListenerKeystoreKey = regexp.MustCompile(`^listener\.name\.[^.]+\.ssl\.(keystore\.(type|location|password|certificate\.chain|key)|key\.password)$`)

// ErrUnknownBrokerConfig is a dynamic broker config name Kafka doesn't know.
var ErrUnknownBrokerConfig = errors.New("unknown broker config")

// PerBrokerOnly reports whether name is a broker config that may be set
// for one broker only, not on the cluster default entity (Kafka's
// DynamicBrokerConfig.perBrokerConfigs: update mode per-broker, and a
// listener's keystore).
func PerBrokerOnly(name string) bool {
	if d := brokerDefs[name]; d != nil {
		return d.mode == PerBroker
	}
	return ListenerKeystoreKey.MatchString(name)
}
