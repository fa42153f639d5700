package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Support is what Spool does with a broker property. The catalogue
// (brokerDefList: ignored, weakens, guard) is the one source of it: spool
// serve --help prints it and Caveats reports it at startup.
type Support int8

const (
	// Supported properties are honoured as Kafka honours them.
	Supported Support = iota
	// Ignored properties are accepted, validated and shown by
	// DescribeConfigs, but change nothing; Explain says what happens instead.
	Ignored
	// Refused properties configure a protection Spool does not implement
	// yet: a setting that asks for it stops startup (CheckProtections).
	Refused
)

func (s Support) String() string { return [...]string{"supported", "ignored", "refused"}[s] }

// PropertySupport reports what Spool does with a broker property and, for
// ignored and refused ones, what happens instead. ok is false for a name
// that is not a broker property.
func PropertySupport(name string) (s Support, explain string, ok bool) {
	d := brokerDefs[name]
	if d == nil {
		return Supported, "", false
	}
	s, explain = d.support()
	return s, explain, true
}

func (d *brokerDef) support() (Support, string) {
	if d.refuse != "" {
		return Refused, d.refuse + "; a setting other than Kafka's default stops startup"
	}
	if !implemented(d.guard) {
		return Refused, protections[d.guard].name + " is not implemented yet; a setting that asks for it stops startup"
	}
	if d.ignored != "" {
		return Ignored, d.ignored
	}
	return Supported, ""
}

// Caveats lists, for startup logs, every configured setting that Spool does
// not honour as Kafka would: ignored properties set to a value other than
// Kafka's default (Warn when ignoring them weakens durability or safety),
// stored-only families (quota.*, metrics.*, ssl.*, ...), and
// min.insync.replicas above the default replication factor. Refused
// protections are not listed: CheckProtections stops startup on them.
func (b *Broker) Caveats() []Notice {
	var out []Notice
	for _, name := range slices.Sorted(maps.Keys(b.static)) {
		v := b.static[name]
		d := brokerDefs[name]
		if d == nil {
			if n, ok := passthroughCaveat(name); ok {
				out = append(out, n)
			}
			continue
		}
		s, explain := d.support()
		if s == Supported {
			continue
		}
		if def, ok := defaultValue(name); ok && normalize(d.typ, v) == normalize(d.typ, def) {
			continue // Kafka's default: nothing is asked for
		}
		switch s {
		case Ignored:
			out = append(out, Notice{Property: name, Warn: d.weakens,
				Message: fmt.Sprintf("is set to %s but is not honoured: %s", printable(d, v), explain)})
		case Refused:
			if d.refuse != "" {
				continue // CheckProtections stops startup on it
			}
			// Not asked for by any listener (CheckProtections passed):
			// inert until the protection is implemented.
			out = append(out, Notice{Property: name,
				Message: fmt.Sprintf("is set but has no effect: %s, and no listener uses it", protections[d.guard].name+" is not implemented yet")})
		}
	}
	if b.MinInsyncReplicas > int32(b.DefaultReplicationFactor) {
		out = append(out, Notice{Property: "min.insync.replicas", Warn: true, Message: fmt.Sprintf(
			"is %d, above default.replication.factor=%d: as on Kafka, acks=all writes to a topic with fewer than %d replicas succeed once every replica has them (the required ISR is capped at the replica count)",
			b.MinInsyncReplicas, b.DefaultReplicationFactor, b.MinInsyncReplicas)})
	}
	return out
}

// passthroughCaveat explains a stored-only property of a passthrough family.
func passthroughCaveat(name string) (Notice, bool) {
	switch {
	case strings.HasPrefix(name, "quota.") || strings.HasPrefix(name, "client.quota."):
		return Notice{Property: name, Warn: true, Message: "is not a Kafka 4 quota config and is not honoured (static default quotas such as quota.producer.default were removed in Kafka 4.0: set client quotas with kafka-configs.sh --alter --add-config)"}, true
	case listenerLimitKey.MatchString(name):
		return Notice{}, false // honoured: a listener's connection limit
	case strings.HasPrefix(name, "ssl.") || strings.HasPrefix(name, "sasl.") || strings.HasPrefix(name, "listener.name."):
		return Notice{}, false // read by the listeners that use TLS or SASL
	case hasPassthroughPrefix(name):
		return Notice{Property: name, Message: "is stored but not honoured"}, true
	}
	return Notice{}, false
}

// printable shows a value in a notice; passwords never.
func printable(d *brokerDef, v string) string {
	if d.typ == TypePassword {
		return "a password"
	}
	return fmt.Sprintf("%q", strings.TrimSpace(v))
}
