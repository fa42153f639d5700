package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// groupDefList are the group configs of Kafka 4.3's GroupConfig that Spool
// follows, each defaulting to its broker config (BrokerSynonyms[0]).
var groupDefList = []ConfigDef{
	{Name: "consumer.session.timeout.ms", Type: TypeInt, Doc: "Session timeout of the group's consumer members", BrokerSynonyms: []string{"group.consumer.session.timeout.ms"}, check: intAtLeast(1)},
	{Name: "consumer.heartbeat.interval.ms", Type: TypeInt, Doc: "Heartbeat interval of the group's consumer members", BrokerSynonyms: []string{"group.consumer.heartbeat.interval.ms"}, check: intAtLeast(1)},
	{Name: "share.session.timeout.ms", Type: TypeInt, Doc: "Session timeout of the share group's members", BrokerSynonyms: []string{"group.share.session.timeout.ms"}, check: intAtLeast(1)},
	{Name: "share.heartbeat.interval.ms", Type: TypeInt, Doc: "Heartbeat interval of the share group's members", BrokerSynonyms: []string{"group.share.heartbeat.interval.ms"}, check: intAtLeast(1)},
	{Name: "share.record.lock.duration.ms", Type: TypeInt, Doc: "How long a share consumer holds an acquired record", BrokerSynonyms: []string{"group.share.record.lock.duration.ms"}, check: intAtLeast(1000)},
	{Name: "share.delivery.count.limit", Type: TypeInt, Doc: "Deliveries of a record before it is archived", BrokerSynonyms: []string{"group.share.delivery.count.limit"}, check: intAtLeast(2)},
	{Name: "share.auto.offset.reset", Type: TypeString, Default: "latest", Doc: "Where a share partition without state starts: latest or earliest", check: shareAutoOffsetReset},
	{Name: "share.isolation.level", Type: TypeString, Default: "read_uncommitted", Doc: "Isolation level of share fetches", check: oneOf("read_committed", "read_uncommitted")},
	{Name: "streams.session.timeout.ms", Type: TypeInt, Doc: "The timeout to detect client failures when using the streams group protocol.", BrokerSynonyms: []string{"group.streams.session.timeout.ms"}, check: intAtLeast(1)},
	{Name: "streams.heartbeat.interval.ms", Type: TypeInt, Doc: "The heartbeat interval given to the members.", BrokerSynonyms: []string{"group.streams.heartbeat.interval.ms"}, check: intAtLeast(1)},
	{Name: "streams.num.standby.replicas", Type: TypeInt, Doc: "The number of standby replicas for each task.", BrokerSynonyms: []string{"group.streams.num.standby.replicas"}, check: intAtLeast(0)},
	{Name: "streams.initial.rebalance.delay.ms", Type: TypeInt, Doc: "The amount of time the group coordinator will wait for more streams clients to join a new group before performing the first rebalance.", BrokerSynonyms: []string{"group.streams.initial.rebalance.delay.ms"}, check: intAtLeast(0)},
}

func shareAutoOffsetReset(v string) (string, bool) {
	if v == "latest" || v == "earliest" || strings.HasPrefix(v, "by_duration:") {
		return "", true
	}
	return "must be latest, earliest or by_duration:<ISO-8601 duration>", false
}

var groupDefs = func() map[string]ConfigDef {
	m := map[string]ConfigDef{}
	for _, d := range groupDefList {
		m[d.Name] = d
	}
	return m
}()

// ValidateGroupConfigs checks the dynamic configs of a GROUP resource as
// Kafka's GroupConfig.validate does (unknown names are INVALID_CONFIG).
func ValidateGroupConfigs(m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d, ok := groupDefs[k]
		if !ok {
			//lint:ignore ST1005 Kafka's message for an unknown group config, sent to clients verbatim
			return fmt.Errorf("Unknown group config name: %s: %w", k, ErrUnknownTopicConfig)
		}
		if err := d.Validate(m[k]); err != nil {
			return err
		}
	}
	return nil
}

// groupBound is one of the checks of Kafka's GroupConfig.validate: a group
// config that must lie within broker configs (minName "" for none).
type groupBound struct {
	name, minName, maxName string
	min, max               func(b *Broker) int32
}

var groupBounds = []groupBound{
	{"consumer.heartbeat.interval.ms", "group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms",
		func(b *Broker) int32 { return b.GroupConsumerMinHeartbeatMs }, func(b *Broker) int32 { return b.GroupConsumerMaxHeartbeatMs }},
	{"consumer.session.timeout.ms", "group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms",
		func(b *Broker) int32 { return b.GroupConsumerMinSessionTimeoutMs }, func(b *Broker) int32 { return b.GroupConsumerMaxSessionTimeoutMs }},
	{"streams.heartbeat.interval.ms", "group.streams.min.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms",
		func(b *Broker) int32 { return b.GroupStreamsMinHeartbeatMs }, func(b *Broker) int32 { return b.GroupStreamsMaxHeartbeatMs }},
	{"streams.session.timeout.ms", "group.streams.min.session.timeout.ms", "group.streams.max.session.timeout.ms",
		func(b *Broker) int32 { return b.GroupStreamsMinSessionTimeoutMs }, func(b *Broker) int32 { return b.GroupStreamsMaxSessionTimeoutMs }},
	{"streams.num.standby.replicas", "", "group.streams.max.standby.replicas",
		nil, func(b *Broker) int32 { return b.GroupStreamsMaxStandbyReplicas }},
}

// ValidateGroupBounds checks the group configs of m that Kafka's
// GroupConfig.validate bounds by broker configs of b (for instance
// streams.num.standby.replicas <= group.streams.max.standby.replicas),
// with Kafka's messages. Configs m does not set are not checked: they
// take the broker's value, which is validated with the broker.
func ValidateGroupBounds(m map[string]string, b *Broker) error {
	if b == nil {
		return nil
	}
	for _, gb := range groupBounds {
		raw, ok := m[gb.name]
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 32)
		if err != nil {
			continue // ValidateGroupConfigs reports it
		}
		if gb.min != nil && v < int64(gb.min(b)) {
			return fmt.Errorf("%s must be greater than or equal to %s", gb.name, gb.minName)
		}
		if v > int64(gb.max(b)) {
			return fmt.Errorf("%s must be less than or equal to %s", gb.name, gb.maxName)
		}
	}
	return nil
}

// LookupGroupConfig returns the definition of a group config.
func LookupGroupConfig(name string) (ConfigDef, bool) {
	d, ok := groupDefs[name]
	return d, ok
}

// ResolveGroup lists a group's configs: its own (GROUP_CONFIG), else the
// broker config it defaults to, else the built-in default.
func ResolveGroup(overrides map[string]string, b *Broker) []Entry {
	var brokerValues map[string]*string
	out := make([]Entry, 0, len(groupDefList))
	for _, d := range groupDefList {
		e := Entry{Name: d.Name, Type: d.Type, Doc: d.Doc, Update: ClusterWide, Value: strp(d.Default), Source: SourceDefault}
		if len(d.BrokerSynonyms) > 0 {
			if brokerValues == nil {
				brokerValues = map[string]*string{}
				for _, be := range ResolveBroker(b, Dynamic{}) {
					brokerValues[be.Name] = be.Value
				}
			}
			e.Value = brokerValues[d.BrokerSynonyms[0]]
		}
		if v, ok := overrides[d.Name]; ok {
			e.Value, e.Source = strp(v), SourceGroup
			e.Synonyms = append(e.Synonyms, Synonym{Name: d.Name, Value: strp(v), Source: SourceGroup})
		}
		out = append(out, e)
	}
	return out
}
