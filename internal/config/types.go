package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ConfigType is DescribeConfigs' ConfigType code.
type ConfigType int8

const (
	TypeUnknown  ConfigType = 0
	TypeBoolean  ConfigType = 1
	TypeString   ConfigType = 2
	TypeInt      ConfigType = 3
	TypeShort    ConfigType = 4
	TypeLong     ConfigType = 5
	TypeDouble   ConfigType = 6
	TypeList     ConfigType = 7
	TypeClass    ConfigType = 8
	TypePassword ConfigType = 9
)

func (t ConfigType) String() string {
	return [...]string{"UNKNOWN", "BOOLEAN", "STRING", "INT", "SHORT", "LONG", "DOUBLE", "LIST", "CLASS", "PASSWORD"}[t]
}

// ConfigSource is DescribeConfigs' ConfigSource code (Kafka's
// DescribeConfigsResponse.ConfigSource; the admin client calls 1
// DYNAMIC_TOPIC_CONFIG).
type ConfigSource int8

const (
	SourceUnknown              ConfigSource = 0
	SourceTopic                ConfigSource = 1
	SourceDynamicBroker        ConfigSource = 2
	SourceDynamicDefaultBroker ConfigSource = 3
	SourceStaticBroker         ConfigSource = 4
	SourceDefault              ConfigSource = 5
	SourceBrokerLogger         ConfigSource = 6
	SourceClientMetrics        ConfigSource = 7
	SourceGroup                ConfigSource = 8 // GROUP_CONFIG (group.go)
)

func (s ConfigSource) String() string {
	return [...]string{"UNKNOWN", "DYNAMIC_TOPIC_CONFIG", "DYNAMIC_BROKER_CONFIG",
		"DYNAMIC_DEFAULT_BROKER_CONFIG", "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG", "DYNAMIC_BROKER_LOGGER_CONFIG",
		"CLIENT_METRICS_CONFIG", "GROUP_CONFIG"}[s]
}

// UpdateMode says whether and where a broker config can change at runtime
// (Kafka's docs: read-only, per-broker, cluster-wide).
type UpdateMode int8

const (
	ReadOnly    UpdateMode = iota
	PerBroker              // dynamic, only as a per-broker override
	ClusterWide            // dynamic, per broker or as the cluster default
)

func (m UpdateMode) String() string { return [...]string{"read-only", "per-broker", "cluster-wide"}[m] }

// ValueError is a bad value for a named config.
type ValueError struct {
	Name, Value, Allowed string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("invalid value %q for %q: %s", e.Value, e.Name, e.Allowed)
}

// Notice is a non-fatal remark about the configuration (unknown or ignored
// settings) that the caller logs at startup.
type Notice struct {
	Property string
	Message  string
	// Warn marks a setting whose ignoring weakens durability or safety:
	// log it at WARN, not INFO.
	Warn bool
}

func (n Notice) String() string { return n.Property + ": " + n.Message }

// check validates a value already trimmed; it returns what is allowed on failure.
type check func(v string) (allowed string, ok bool)

func parseInt(v string, bits int) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, bits)
	return n, err == nil
}

func rangeDesc(kind string, lo, hi int64, loSet, hiSet bool) string {
	switch {
	case loSet && hiSet:
		return fmt.Sprintf("must be %s in [%d, %d]", kind, lo, hi)
	case loSet:
		return fmt.Sprintf("must be %s >= %d", kind, lo)
	case hiSet:
		return fmt.Sprintf("must be %s <= %d", kind, hi)
	}
	return "must be " + kind
}

func intCheck(bits int, lo, hi int64, loSet, hiSet bool) check {
	kind := map[int]string{16: "a short", 32: "an integer", 64: "a long"}[bits]
	desc := rangeDesc(kind, lo, hi, loSet, hiSet)
	return func(v string) (string, bool) {
		n, ok := parseInt(v, bits)
		if !ok || (loSet && n < lo) || (hiSet && n > hi) {
			return desc, false
		}
		return "", true
	}
}

func anyInt() check                 { return intCheck(32, 0, 0, false, false) }
func intAtLeast(lo int64) check     { return intCheck(32, lo, 0, true, false) }
func intBetween(lo, hi int64) check { return intCheck(32, lo, hi, true, true) }
func anyLong() check                { return intCheck(64, 0, 0, false, false) }
func longAtLeast(lo int64) check    { return intCheck(64, lo, 0, true, false) }
func shortAtLeast(lo int64) check   { return intCheck(16, lo, 0, true, false) }

func boolCheck(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "true", "false":
		return "", true
	}
	return "must be true or false", false
}

func doubleBetween(lo, hi float64) check {
	return func(v string) (string, bool) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f < lo || f > hi {
			return fmt.Sprintf("must be a number in [%g, %g]", lo, hi), false
		}
		return "", true
	}
}

func oneOf(vals ...string) check {
	return func(v string) (string, bool) {
		if slices.Contains(vals, v) {
			return "", true
		}
		return "must be one of " + strings.Join(vals, ", "), false
	}
}

// RackAwareReplicaSelector is the replica.selector.class Kafka ships, the
// only one Spool knows.
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// checkReplicaSelector refuses a replica.selector.class Spool does not
// know, naming it, as Kafka fails to start on a class it cannot load.
func checkReplicaSelector(v string) (string, bool) {
	if v == "" || v == RackAwareReplicaSelector {
		return "", true
	}
	return "class " + v + " cannot be found; Spool knows only " + RackAwareReplicaSelector, false
}

// listOf accepts a comma-separated list of distinct allowed values; empty is
// allowed only if allowEmpty.
func listOf(allowEmpty bool, vals ...string) check {
	return func(v string) (string, bool) {
		items := splitList(v)
		desc := "must be a comma-separated list of distinct values from " + strings.Join(vals, ", ")
		if len(items) == 0 && !allowEmpty {
			return desc + " (at least one)", false
		}
		seen := map[string]bool{}
		for _, it := range items {
			if !slices.Contains(vals, it) || seen[it] {
				return desc, false
			}
			seen[it] = true
		}
		return "", true
	}
}

func anyString(string) (string, bool) { return "", true }

// typeCheck is the check every value of a type must pass.
func typeCheck(t ConfigType) check {
	switch t {
	case TypeBoolean:
		return boolCheck
	case TypeInt:
		return anyInt()
	case TypeShort:
		return intCheck(16, 0, 0, false, false)
	case TypeLong:
		return anyLong()
	case TypeDouble:
		return doubleBetween(math.Inf(-1), math.Inf(1))
	}
	return anyString
}

// splitList splits a Kafka LIST value: comma-separated, items trimmed,
// empty items dropped.
func splitList(v string) []string {
	var out []string
	for _, it := range strings.Split(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// normalize trims a raw value as Kafka's ConfigDef.parseType does for every
// type but PASSWORD.
func normalize(t ConfigType, v string) string {
	if t == TypePassword {
		return v
	}
	return strings.TrimSpace(v)
}

func validateValue(name string, t ConfigType, c check, raw string) error {
	v := normalize(t, raw)
	// The specific check first: its message also states the type.
	for _, c := range []check{c, typeCheck(t)} {
		if c == nil {
			continue
		}
		if allowed, ok := c(v); !ok {
			return &ValueError{Name: name, Value: raw, Allowed: allowed}
		}
	}
	return nil
}
