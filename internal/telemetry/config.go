package telemetry

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Client-metrics config resources (ConfigResource type CLIENT_METRICS, 16):
// Kafka's ClientMetricsConfigs.
const (
	ConfigMetrics    = "metrics"     // LIST of metric name prefixes; "*" (or one empty prefix) is every metric
	ConfigIntervalMs = "interval.ms" // INT, push interval, 100..3600000
	ConfigMatch      = "match"       // LIST of <selector>=<regex>, all of which must match the client

	DefaultIntervalMs = 5 * 60 * 1000
	minIntervalMs     = 100
	maxIntervalMs     = 3600000

	// AllMetrics in a subscription's metrics subscribes to every metric.
	AllMetrics = "*"
)

// The client selectors a match pattern may name (ClientMetricsConfigs).
const (
	SelectorInstanceID      = "client_instance_id"
	SelectorClientID        = "client_id"
	SelectorSoftwareName    = "client_software_name"
	SelectorSoftwareVersion = "client_software_version"
	SelectorSourceAddress   = "client_source_address"
	SelectorSourcePort      = "client_source_port"
)

var selectors = []string{SelectorInstanceID, SelectorClientID, SelectorSoftwareName, SelectorSoftwareVersion, SelectorSourceAddress, SelectorSourcePort}

// ErrInvalidRequest and ErrInvalidConfig tell which Kafka error a bad
// client-metrics config gets: INVALID_REQUEST for an empty name, an
// unknown key or an interval out of range, INVALID_CONFIG for a bad match
// pattern or a value that does not parse (Kafka's ConfigException).
var (
	ErrInvalidRequest = errors.New("telemetry: invalid request")
	ErrInvalidConfig  = errors.New("telemetry: invalid config")
)

// ConfigNames are the client-metrics config keys, in Kafka's order.
var ConfigNames = []string{ConfigMetrics, ConfigIntervalMs, ConfigMatch}

// Subscription is one client-metrics resource, parsed.
type Subscription struct {
	Name       string
	Metrics    []string
	IntervalMs int32
	// Match: every selector's regular expression must match the whole
	// attribute (Java's Matcher.matches); none: every client.
	Match map[string]*regexp.Regexp
}

// ValidateConfig checks a client-metrics resource's merged configs as
// Kafka's ClientMetricsConfigs.validate does, with its messages.
func ValidateConfig(name string, cfg map[string]string) error {
	_, err := ParseSubscription(name, cfg)
	return err
}

// ParseSubscription validates and parses a client-metrics resource.
func ParseSubscription(name string, cfg map[string]string) (Subscription, error) {
	if name == "" {
		return Subscription{}, fmt.Errorf("%w: Subscription name can't be empty", ErrInvalidRequest)
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(ConfigNames, k) {
			return Subscription{}, fmt.Errorf("%w: Unknown client metrics configuration: %s", ErrInvalidRequest, k)
		}
	}
	s := Subscription{Name: name, IntervalMs: DefaultIntervalMs}
	if v, ok := cfg[ConfigIntervalMs]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return Subscription{}, fmt.Errorf("%w: Invalid value %s for configuration %s: Not a number of type INT", ErrInvalidConfig, v, ConfigIntervalMs)
		}
		if n < minIntervalMs || n > maxIntervalMs {
			return Subscription{}, fmt.Errorf("%w: Invalid value %d for %s, interval must be between 100 and 3600000 (1 hour)", ErrInvalidRequest, n, ConfigIntervalMs)
		}
		s.IntervalMs = int32(n)
	}
	s.Metrics = parseList(cfg[ConfigMetrics])
	if v, ok := cfg[ConfigMatch]; ok {
		m, err := parseMatch(parseList(v))
		if err != nil {
			return Subscription{}, err
		}
		s.Match = m
	}
	return s, nil
}

// parseList splits a Kafka LIST value: comma-separated, each item trimmed,
// an empty value is the empty list.
func parseList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// parseMatch parses <selector>=<regex> patterns: exactly one '=', a known
// selector, a valid expression, anchored to match the whole value.
func parseMatch(patterns []string) (map[string]*regexp.Regexp, error) {
	out := map[string]*regexp.Regexp{}
	for _, p := range patterns {
		name, value, ok := strings.Cut(p, "=")
		if !ok || value == "" || strings.Contains(value, "=") {
			return nil, fmt.Errorf("%w: Illegal client matching pattern: %s", ErrInvalidConfig, p)
		}
		name = strings.TrimSpace(name)
		if !slices.Contains(selectors, name) {
			return nil, fmt.Errorf("%w: Illegal client matching pattern: %s", ErrInvalidConfig, p)
		}
		re, err := regexp.Compile(`^(?:` + strings.TrimSpace(value) + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%w: Illegal client matching pattern: %s", ErrInvalidConfig, p)
		}
		out[name] = re
	}
	return out, nil
}

// matches reports whether a client's attributes satisfy every pattern.
func (s *Subscription) matches(attrs map[string]string) bool {
	for sel, re := range s.Match {
		v, ok := attrs[sel]
		if !ok || !re.MatchString(v) {
			return false
		}
	}
	return true
}
