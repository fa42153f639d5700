package config

import (
	"fmt"
	"sort"
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
