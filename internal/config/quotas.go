package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Client quota windows and connection limits (Kafka's QuotaConfig and
// SocketServerConfigs). Client quotas themselves are not broker properties:
// they live in the metadata log (AlterClientQuotas).

// QuotaWindows are the sampling windows of client quota rates.
type QuotaWindows struct {
	Num                   int // quota.window.num
	SizeSeconds           int // quota.window.size.seconds
	ControllerNum         int // controller.quota.window.num
	ControllerSizeSeconds int // controller.quota.window.size.seconds
}

// QuotaWindows returns the configured quota windows (read-only configs).
func (b *Broker) QuotaWindows() QuotaWindows {
	get := func(name string) int {
		n, _ := strconv.Atoi(strings.TrimSpace(b.effective(name, Dynamic{})))
		return n
	}
	return QuotaWindows{
		Num: get("quota.window.num"), SizeSeconds: get("quota.window.size.seconds"),
		ControllerNum: get("controller.quota.window.num"), ControllerSizeSeconds: get("controller.quota.window.size.seconds"),
	}
}

// ConnectionSettings are the connection limits in force. Values are
// Kafka's: math.MaxInt32 means no limit.
type ConnectionSettings struct {
	MaxConnections            int            // max.connections
	MaxConnectionsPerIP       int            // max.connections.per.ip
	PerIPOverrides            map[string]int // max.connections.per.ip.overrides: host or IP → limit
	MaxConnectionCreationRate int            // max.connection.creation.rate
	// Listeners holds, for every client listener (upper-case name), its
	// listener.name.<listener>.max.connections and
	// .max.connection.creation.rate, which default to the broker-wide
	// values.
	Listeners map[string]ListenerConnectionSettings
}

// ListenerConnectionSettings are one listener's own limits.
type ListenerConnectionSettings struct {
	MaxConnections            int
	MaxConnectionCreationRate int
}

// ConnectionSettings resolves the connection limits: dynamic per-broker >
// dynamic cluster default > static > default, as for any broker config.
func (b *Broker) ConnectionSettings(dyn Dynamic) ConnectionSettings {
	num := func(name string) int {
		n, err := strconv.ParseInt(strings.TrimSpace(b.effective(name, dyn)), 10, 32)
		if err != nil {
			return 1<<31 - 1
		}
		return int(n)
	}
	s := ConnectionSettings{
		MaxConnections:            num("max.connections"),
		MaxConnectionsPerIP:       num("max.connections.per.ip"),
		MaxConnectionCreationRate: num("max.connection.creation.rate"),
		Listeners:                 map[string]ListenerConnectionSettings{},
	}
	s.PerIPOverrides, _ = parseIPOverrides(b.effective("max.connections.per.ip.overrides", dyn))
	for _, l := range b.Listeners {
		if containsFold(b.ControllerListenerNames, l.Name) {
			continue
		}
		s.Listeners[l.Name] = ListenerConnectionSettings{
			MaxConnections:            num(listenerPrefix(l.Name) + "max.connections"),
			MaxConnectionCreationRate: num(listenerPrefix(l.Name) + "max.connection.creation.rate"),
		}
	}
	return s
}

// listenerPrefix is Kafka's ListenerName.configPrefix.
func listenerPrefix(listener string) string {
	return "listener.name." + strings.ToLower(listener) + "."
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// effective is a broker property's value from the highest layer that sets
// it ("" if none does). A listener-prefixed connection limit that no layer
// sets is the broker-wide one, as Kafka's valuesWithPrefixOverride makes
// it.
func (b *Broker) effective(name string, dyn Dynamic) string {
	if v, ok := dyn.PerBroker[name]; ok {
		return v
	}
	if v, ok := dyn.ClusterDefault[name]; ok {
		return v
	}
	if v, ok := b.static[name]; ok {
		return v
	}
	if m := listenerLimitKey.FindStringSubmatch(name); m != nil {
		return b.effective(m[1], dyn)
	}
	v, _ := defaultValue(name)
	return v
}

// listenerLimitKey matches the per-listener connection limits.
var listenerLimitKey = regexp.MustCompile(`^listener\.name\.[^.]+\.(max\.connections|max\.connection\.creation\.rate)$`)

// checkListenerLimit validates a listener.name.<l>.max.connections or
// .max.connection.creation.rate value; ok false for other names.
func checkListenerLimit(name, value string) (error, bool) {
	if !listenerLimitKey.MatchString(name) {
		return nil, false
	}
	return validateValue(name, TypeInt, intAtLeast(0), value), true
}

// parseIPOverrides parses max.connections.per.ip.overrides as Kafka's
// Csv.parseCsvMap ("host:count,host:count", split at each entry's last
// ':' so IPv6 addresses work).
func parseIPOverrides(v string) (map[string]int, error) {
	out := map[string]int{}
	v = strings.TrimSpace(v)
	if v == "" {
		return out, nil
	}
	for _, entry := range regexp.MustCompile(`\s*,\s*`).Split(v, -1) {
		i := strings.LastIndex(entry, ":")
		if i < 0 {
			return nil, fmt.Errorf("entry %q is not host:count", entry)
		}
		host, count := strings.TrimSpace(entry[:i]), strings.TrimSpace(entry[i+1:])
		n, err := strconv.ParseInt(count, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("entry %q: count %q is not an integer", entry, count)
		}
		if !validHostPattern(host) {
			return nil, fmt.Errorf("contains invalid addresses : %s", host)
		}
		out[host] = int(n)
	}
	return out, nil
}

// validHostPattern is Kafka's Utils.validHostPattern: an IP literal or a
// name of letters, digits, '-', '.' and '_'.
func validHostPattern(host string) bool {
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	return regexp.MustCompile(`^[a-zA-Z0-9_.\-]+$`).MatchString(host)
}

func checkIPOverrides(v string) (string, bool) {
	if _, err := parseIPOverrides(v); err != nil {
		return "must be a comma-separated list of host:count (" + err.Error() + ")", false
	}
	return "", true
}

// validateConnectionLimits runs Kafka's cross-checks of the connection
// limits and validates the listener-prefixed ones, which the catalog does
// not list.
func validateConnectionLimits(r *resolver, static map[string]string) []error {
	var errs []error
	overrides, _ := parseIPOverrides(r.str("max.connections.per.ip.overrides"))
	if r.i32("max.connections.per.ip") == 0 && len(overrides) == 0 {
		errs = append(errs, &ValueError{Name: "max.connections.per.ip", Value: "0",
			Allowed: "can be set to zero only if max.connections.per.ip.overrides property is set."})
	}
	for name, v := range static {
		if err, ok := checkListenerLimit(name, v); ok && err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ReplicationThrottles are the replication quotas in force (Kafka's
// ReplicationQuotaManagerConfig and the dynamic throttle rates).
type ReplicationThrottles struct {
	WindowNum         int   // replication.quota.window.num
	WindowSizeSeconds int   // replication.quota.window.size.seconds
	LeaderRate        int64 // leader.replication.throttled.rate, bytes/s; MaxInt64: none
	FollowerRate      int64 // follower.replication.throttled.rate
}

// ReplicationThrottles resolves the replication quotas: the rates are
// dynamic per-broker > dynamic cluster default > static > default, as
// kafka-reassign-partitions.sh --throttle sets them per broker.
func (b *Broker) ReplicationThrottles(dyn Dynamic) ReplicationThrottles {
	long := func(name string) int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(b.effective(name, dyn)), 10, 64)
		if err != nil || n < 0 {
			return 1<<63 - 1
		}
		return n
	}
	num := func(name string) int {
		n, _ := strconv.Atoi(strings.TrimSpace(b.effective(name, Dynamic{})))
		return n
	}
	return ReplicationThrottles{
		WindowNum: num("replication.quota.window.num"), WindowSizeSeconds: num("replication.quota.window.size.seconds"),
		LeaderRate: long("leader.replication.throttled.rate"), FollowerRate: long("follower.replication.throttled.rate"),
	}
}

// AlterLogDirsMoveRate is replica.alter.log.dirs.io.max.bytes.per.second:
// the bound on the bytes per second AlterReplicaLogDirs copies between
// this broker's log dirs, dynamic per-broker > dynamic cluster default >
// static > default (math.MaxInt64, none).
func (b *Broker) AlterLogDirsMoveRate(dyn Dynamic) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(b.effective("replica.alter.log.dirs.io.max.bytes.per.second", dyn)), 10, 64)
	if err != nil || n < 0 {
		return 1<<63 - 1
	}
	return n
}
