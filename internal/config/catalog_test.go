package config

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTopicConfigsCatalog(t *testing.T) {
	defs := TopicConfigs()
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
		require.NoError(t, d.Validate(d.Default), "default of %s must validate", d.Name)
		require.NotEmpty(t, d.Doc, d.Name)
		require.NotEqual(t, TypeUnknown, d.Type, d.Name)
	}
	require.True(t, sort.StringsAreSorted(names))
	// Kafka 4.3's topic configs (LogConfig, non-internal).
	require.Equal(t, []string{
		"cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type",
		"compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
		"follower.replication.throttled.replicas", "index.interval.bytes", "leader.replication.throttled.replicas",
		"local.retention.bytes", "local.retention.ms", "max.compaction.lag.ms", "max.message.bytes",
		"message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
		"min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
		"remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable", "retention.bytes",
		"retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
		"unclean.leader.election.enable",
	}, names)
	d, ok := LookupTopicConfig("retention.ms")
	require.True(t, ok)
	require.Equal(t, TypeLong, d.Type)
	require.Equal(t, []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}, d.BrokerSynonyms)
	d, _ = LookupTopicConfig("max.message.bytes")
	require.Equal(t, []string{"message.max.bytes"}, d.BrokerSynonyms)
	d, _ = LookupTopicConfig("cleanup.policy")
	require.Equal(t, TypeList, d.Type)
	require.Equal(t, []string{"log.cleanup.policy"}, d.BrokerSynonyms)
	d, _ = LookupTopicConfig("segment.bytes")
	require.Equal(t, []string{"log.segment.bytes"}, d.BrokerSynonyms)
	_, ok = LookupTopicConfig("message.format.version")
	require.False(t, ok, "removed in Kafka 4.0")
	// Every synonym is a broker property Spool knows.
	for _, d := range defs {
		for _, s := range d.BrokerSynonyms {
			require.NotNil(t, brokerDefs[s], "%s -> %s", d.Name, s)
		}
	}
}

func TestTopicConfigValidate(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"cleanup.policy", "delete", true},
		{"cleanup.policy", "compact", true},
		{"cleanup.policy", "compact,delete", true},
		{"cleanup.policy", " delete , compact ", true},
		{"cleanup.policy", "", true},
		{"cleanup.policy", "purge", false},
		{"cleanup.policy", "delete,delete", false},
		{"compression.type", "zstd", true},
		{"compression.type", "uncompressed", true},
		{"compression.type", "producer", true},
		{"compression.type", "none", false},
		{"compression.type", "ZSTD", false},
		{"message.timestamp.type", "CreateTime", true},
		{"message.timestamp.type", "LogAppendTime", true},
		{"message.timestamp.type", "createtime", false},
		{"retention.ms", "-1", true},
		{"retention.ms", "0", true},
		{"retention.ms", "-2", false},
		{"retention.ms", "1.5", false},
		{"retention.ms", "9223372036854775807", true},
		{"retention.ms", "9223372036854775808", false},
		{"retention.bytes", "-5", true},
		{"segment.bytes", "1048576", true},
		{"segment.bytes", "1048575", false},
		{"segment.bytes", "2147483648", false},
		{"segment.ms", "0", false},
		{"segment.index.bytes", "3", false},
		{"max.message.bytes", "-1", false},
		{"min.insync.replicas", "0", false},
		{"min.insync.replicas", "2", true},
		{"min.cleanable.dirty.ratio", "0.01", true},
		{"min.cleanable.dirty.ratio", "1.5", false},
		{"min.cleanable.dirty.ratio", "x", false},
		{"compression.gzip.level", "-1", true},
		{"compression.gzip.level", "9", true},
		{"compression.gzip.level", "0", false},
		{"compression.lz4.level", "17", true},
		{"compression.lz4.level", "18", false},
		{"compression.zstd.level", "-131072", true},
		{"compression.zstd.level", "23", false},
		{"unclean.leader.election.enable", "TRUE", true},
		{"unclean.leader.election.enable", "1", false},
		{"preallocate", "maybe", false},
		{"local.retention.ms", "-2", true},
		{"local.retention.ms", "-3", false},
		{"leader.replication.throttled.replicas", "*", true},
		{"leader.replication.throttled.replicas", "0:1,1:2", true},
		{"leader.replication.throttled.replicas", "0-1", false},
		{"follower.replication.throttled.replicas", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			d, ok := LookupTopicConfig(tt.name)
			require.True(t, ok)
			err := d.Validate(tt.value)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, `for "`+tt.name+`"`)
			require.ErrorContains(t, err, `invalid value "`+tt.value+`"`)
		})
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	require.NoError(t, ValidateTopicConfigs(map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}))
	require.NoError(t, ValidateTopicConfigs(nil))
	err := ValidateTopicConfigs(map[string]string{"retention.ms": "1", "retention.mins": "1"})
	require.ErrorIs(t, err, ErrUnknownTopicConfig)
	require.ErrorContains(t, err, "Unknown topic config name: retention.mins")
	require.ErrorContains(t, ValidateTopicConfigs(map[string]string{"segment.bytes": "10"}), `"segment.bytes"`)
	require.ErrorContains(t, ValidateTopicConfigs(map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}),
		"min.compaction.lag.ms (10) > max.compaction.lag.ms (5)")
	require.ErrorContains(t, ValidateTopicConfigs(map[string]string{"remote.storage.enable": "true"}), `"remote.storage.enable"`)
}

func find(t *testing.T, es []Entry, name string) Entry {
	t.Helper()
	for _, e := range es {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return Entry{}
}

func s(v string) *string { return &v }

// What `kafka-configs --describe --all --entity-type topics` shows for a topic
// with retention.ms=3600000 on a broker whose server.properties sets
// log.retention.hours=168.
func TestResolveTopicLikeKafka(t *testing.T) {
	b, _, err := Load("", []string{"KAFKA_LOG_RETENTION_HOURS=168", "KAFKA_LOG_SEGMENT_BYTES=536870912"})
	require.NoError(t, err)
	es := ResolveTopic(map[string]string{"retention.ms": "3600000"}, b, Dynamic{})
	require.Len(t, es, len(TopicConfigs()))

	e := find(t, es, "retention.ms")
	require.Equal(t, s("3600000"), e.Value)
	require.Equal(t, SourceTopic, e.Source)
	require.False(t, e.ReadOnly)
	require.Equal(t, TypeLong, e.Type)
	// Kafka 4.3.1 lists broker synonyms only from the first layer that
	// sets the primary one, log.retention.ms (measured with kafka-configs).
	require.Equal(t, []Synonym{
		{Name: "retention.ms", Value: s("3600000"), Source: SourceTopic},
	}, e.Synonyms)

	// Not overridden: the broker's value, converted, with the broker's source.
	e = find(t, es, "segment.bytes")
	require.Equal(t, s("536870912"), e.Value)
	require.Equal(t, SourceStaticBroker, e.Source)
	require.Equal(t, []Synonym{
		{Name: "log.segment.bytes", Value: s("536870912"), Source: SourceStaticBroker},
		{Name: "log.segment.bytes", Value: s("1073741824"), Source: SourceDefault},
	}, e.Synonyms)

	e = find(t, es, "segment.ms")
	require.Equal(t, s("604800000"), e.Value)
	require.Equal(t, SourceDefault, e.Source)
	require.Empty(t, e.Synonyms, "log.roll.ms is unset")

	e = find(t, es, "max.message.bytes")
	require.Equal(t, s("1048588"), e.Value)
	require.Equal(t, "message.max.bytes", e.Synonyms[0].Name)

	e = find(t, es, "remote.log.copy.disable") // no broker synonym
	require.Equal(t, s("false"), e.Value)
	require.Equal(t, SourceDefault, e.Source)
	require.Empty(t, e.Synonyms)

	// Without the topic override, log.retention.hours decides the value,
	// but Kafka shows no synonym and the DEFAULT_CONFIG source.
	e = find(t, ResolveTopic(nil, b, Dynamic{}), "retention.ms")
	require.Equal(t, s("604800000"), e.Value)
	require.Equal(t, SourceDefault, e.Source)
	require.Empty(t, e.Synonyms)
}

func TestResolveTopicDynamicLayers(t *testing.T) {
	b, _, err := Load("", []string{"KAFKA_LOG_RETENTION_HOURS=24"})
	require.NoError(t, err)
	dyn := Dynamic{
		PerBroker:      map[string]string{"log.retention.ms": "5000"},
		ClusterDefault: map[string]string{"log.retention.ms": "7000", "log.cleanup.policy": "compact"},
	}
	es := ResolveTopic(nil, b, dyn)
	e := find(t, es, "retention.ms")
	require.Equal(t, s("5000"), e.Value)
	require.Equal(t, SourceDynamicBroker, e.Source)
	require.Equal(t, []ConfigSource{SourceDynamicBroker, SourceDynamicDefaultBroker, SourceStaticBroker, SourceDefault},
		[]ConfigSource{e.Synonyms[0].Source, e.Synonyms[1].Source, e.Synonyms[2].Source, e.Synonyms[3].Source})
	e = find(t, es, "cleanup.policy")
	require.Equal(t, s("compact"), e.Value)
	require.Equal(t, SourceDynamicDefaultBroker, e.Source)

	ls, err := b.LogConfigForTopic(map[string]string{"segment.ms": "1000"}, dyn)
	require.NoError(t, err)
	require.Equal(t, int64(5000), ls.RetentionMs)
	require.Equal(t, int64(1000), ls.SegmentMs)
	require.True(t, ls.Compact())
	require.False(t, ls.Delete())
}

func TestLogConfigForTopic(t *testing.T) {
	b, _, err := Load("", []string{"KAFKA_LOG_RETENTION_MINUTES=10", "KAFKA_LOG_RETENTION_HOURS=1", "KAFKA_MESSAGE_MAX_BYTES=2000000"})
	require.NoError(t, err)
	ls, err := b.LogConfigForTopic(nil, Dynamic{})
	require.NoError(t, err)
	require.Equal(t, int64(600000), ls.RetentionMs)
	require.Equal(t, int64(600000), ls.LocalRetentionMs, "-2 follows retention.ms")
	require.Equal(t, int64(-1), ls.RetentionBytes)
	require.Equal(t, int32(2000000), ls.MaxMessageBytes)
	require.Equal(t, int32(1<<30), ls.SegmentBytes)
	require.Equal(t, int64(7*24*3600*1000), ls.SegmentMs)
	require.Equal(t, int32(10485760), ls.SegmentIndexBytes)
	require.Equal(t, int32(4096), ls.IndexIntervalBytes)
	require.Equal(t, int64(1<<63-1), ls.FlushMessages)
	require.Equal(t, int64(1<<63-1), ls.FlushMs)
	require.Equal(t, []string{"delete"}, ls.CleanupPolicy)
	require.Equal(t, "CreateTime", ls.MessageTimestampType)
	require.Equal(t, "producer", ls.CompressionType)
	require.Nil(t, ls.CompressionLevel)
	require.Equal(t, int32(1), ls.MinInsyncReplicas)
	require.Equal(t, 0.5, ls.MinCleanableDirtyRatio)

	ls, err = b.LogConfigForTopic(map[string]string{
		"retention.ms": "-1", "compression.type": "zstd", "compression.zstd.level": "7",
		"cleanup.policy": "compact,delete", "message.timestamp.type": "LogAppendTime", "segment.jitter.ms": "100",
	}, Dynamic{})
	require.NoError(t, err)
	require.Equal(t, int64(-1), ls.RetentionMs)
	require.Equal(t, "zstd", ls.CompressionType)
	require.Equal(t, int32(7), *ls.CompressionLevel)
	require.True(t, ls.Compact() && ls.Delete())
	require.Equal(t, "LogAppendTime", ls.MessageTimestampType)
	require.Equal(t, int64(100), ls.SegmentJitterMs)

	_, err = b.LogConfigForTopic(map[string]string{"segment.ms": "soon"}, Dynamic{})
	require.ErrorContains(t, err, "segment.ms")
}

func TestResolveBroker(t *testing.T) {
	b, _, err := Load("", composeEnv(sc21))
	require.NoError(t, err)
	es := ResolveBroker(b, Dynamic{PerBroker: map[string]string{"message.max.bytes": "2000000"},
		ClusterDefault: map[string]string{"log.retention.ms": "1000"}})

	e := find(t, es, "num.partitions")
	require.Equal(t, s("6"), e.Value)
	require.Equal(t, SourceStaticBroker, e.Source)
	require.True(t, e.ReadOnly)

	e = find(t, es, "message.max.bytes")
	require.Equal(t, s("2000000"), e.Value)
	require.Equal(t, SourceDynamicBroker, e.Source)
	require.False(t, e.ReadOnly)
	require.Equal(t, ClusterWide, e.Update)

	e = find(t, es, "log.retention.ms")
	require.Equal(t, s("1000"), e.Value)
	require.Equal(t, SourceDynamicDefaultBroker, e.Source)
	require.Equal(t, []Synonym{
		{Name: "log.retention.ms", Value: s("1000"), Source: SourceDynamicDefaultBroker},
		{Name: "log.retention.hours", Value: s("168"), Source: SourceStaticBroker},
		{Name: "log.retention.hours", Value: s("168"), Source: SourceDefault},
	}, e.Synonyms)

	e = find(t, es, "log.retention.minutes") // null default, not set
	require.Nil(t, e.Value)
	require.Equal(t, SourceDefault, e.Source)
	require.Empty(t, e.Synonyms, "Kafka drops synonyms before the entry's own name")

	e = find(t, es, "log.retention.hours")
	require.Equal(t, s("168"), e.Value)
	require.Equal(t, SourceStaticBroker, e.Source)

	e = find(t, es, "offsets.topic.replication.factor")
	require.Equal(t, s("3"), e.Value)
	require.Equal(t, SourceDefault, e.Source)
	require.Equal(t, TypeShort, e.Type)

	e = find(t, es, "listeners")
	require.Equal(t, PerBroker, e.Update)
	require.Equal(t, s("PLAINTEXT://:9092,CONTROLLER://:9093"), e.Value)

	// Zero-config values are shown as Spool's defaults.
	e = find(t, ResolveBroker(Default(), Dynamic{}), "node.id")
	require.Equal(t, s("1"), e.Value)
	require.Equal(t, SourceDefault, e.Source)
	e = find(t, ResolveBroker(Default(), Dynamic{}), "offsets.topic.replication.factor")
	require.Equal(t, s("1"), e.Value)
	require.Equal(t, SourceDefault, e.Source)
	d := Default()
	require.Equal(t, int16(1), d.OffsetsTopicReplicationFactor, "zero config: a lone node serves groups")
	require.Equal(t, int16(1), d.TransactionStateLogReplicationFactor)
	require.Equal(t, int32(1), d.TransactionStateLogMinISR)
}
