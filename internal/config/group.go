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

// groupConfigBounds maps a group config to the broker configs bounding it
// (Kafka's GroupConfig.validate).
var groupConfigBounds = map[string][2]string{
	"consumer.session.timeout.ms":    {"group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"},
	"consumer.heartbeat.interval.ms": {"group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"},
	"streams.session.timeout.ms":     {"group.streams.min.session.timeout.ms", "group.streams.max.session.timeout.ms"},
	"streams.heartbeat.interval.ms":  {"group.streams.min.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms"},
	"streams.num.standby.replicas":   {"", "group.streams.max.standby.replicas"}, // no lower bound: "" is 0
	"share.session.timeout.ms":       {"group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"},
	"share.heartbeat.interval.ms":    {"group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"},
	"share.record.lock.duration.ms":  {"group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms"},
	"share.delivery.count.limit":     {"group.share.min.delivery.count.limit", "group.share.max.delivery.count.limit"},
}

// ValidateGroupConfigs checks the dynamic configs of a GROUP resource as
// Kafka's GroupConfig.validate does (unknown names are INVALID_CONFIG), and,
// with the broker's configuration b, that each lies within the broker's
// group.*.min/max bounds (b may be nil in tests of names and values only).
func ValidateGroupConfigs(m map[string]string, b *Broker) error {
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
		bound, ok := groupConfigBounds[k]
		if !ok || b == nil {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(m[k]), 10, 64)
		if lo := b.effectiveInt(bound[0]); n < lo {
			return fmt.Errorf("%s must be greater than or equal to %s", k, bound[0])
		}
		if hi := b.effectiveInt(bound[1]); n > hi {
			return fmt.Errorf("%s must be less than or equal to %s", k, bound[1])
		}
	}
	return nil
}

// effectiveInt is a numeric broker property's static value or default.
func (b *Broker) effectiveInt(name string) int64 {
	v, ok := b.static[name]
	if !ok {
		v, _ = defaultValue(name)
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
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
		// Kafka 4.3.1 lists the group's own value, then the default it
		// overrides, named after the broker config that supplies it
		// (measured with kafka-configs --describe --all --entity-type groups).
		def := Synonym{Name: d.Name, Value: e.Value, Source: SourceDefault}
		if len(d.BrokerSynonyms) > 0 {
			def.Name = d.BrokerSynonyms[0]
		}
		if v, ok := overrides[d.Name]; ok {
			e.Value, e.Source = strp(v), SourceGroup
			e.Synonyms = append(e.Synonyms, Synonym{Name: d.Name, Value: strp(v), Source: SourceGroup})
		}
		e.Synonyms = append(e.Synonyms, def)
		out = append(out, e)
	}
	return out
}
