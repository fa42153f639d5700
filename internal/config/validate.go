package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// validate parses the structured properties and runs Kafka's cross-field
// checks (KafkaConfig.validateValues, KRaft mode).
func (b *Broker) validate(r *resolver) error {
	var errs []error
	fail := func(name, value, allowed string) {
		errs = append(errs, &ValueError{Name: name, Value: value, Allowed: allowed})
	}
	var err error
	if b.Listeners, err = parseListeners("listeners", r.str("listeners")); err != nil {
		errs = append(errs, err)
	}
	var advertised []Listener
	if advertised, err = parseListeners("advertised.listeners", r.str("advertised.listeners")); err != nil {
		errs = append(errs, err)
	}
	if b.ControllerQuorumVoters, err = parseVoters(r.str("controller.quorum.voters")); err != nil {
		errs = append(errs, err)
	}
	if b.ListenerSecurityProtocolMap, err = parseProtocolMap(r.str("listener.security.protocol.map")); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if r.set("node.id") && r.set("broker.id") && r.i32("node.id") != r.i32("broker.id") {
		fail("broker.id", r.str("broker.id"), fmt.Sprintf("must equal node.id (%d) when both are set", r.i32("node.id")))
	}
	roles := b.ProcessRoles
	isController, isBroker := b.HasRole("controller"), b.HasRole("broker")
	if len(roles) == 0 {
		fail("process.roles", r.str("process.roles"), "must be set to broker, controller or broker,controller (ZooKeeper mode is not supported)")
	}
	if b.NodeID < 0 {
		fail("node.id", r.str("node.id"), "must be set to an integer >= 0 when process.roles is set")
	}
	if len(b.ControllerQuorumVoters) == 0 && len(b.ControllerQuorumBootstrap) == 0 {
		fail("controller.quorum.voters", r.str("controller.quorum.voters"), "either controller.quorum.voters or controller.quorum.bootstrap.servers must be set")
	}
	for _, s := range b.ControllerQuorumBootstrap {
		if _, _, e := splitHostPort(s); e != nil {
			fail("controller.quorum.bootstrap.servers", r.str("controller.quorum.bootstrap.servers"), fmt.Sprintf("%q must look like host:port", s))
		}
	}
	if isController && len(b.ControllerQuorumVoters) > 0 && b.NodeID >= 0 &&
		!slices.ContainsFunc(b.ControllerQuorumVoters, func(v Voter) bool { return v.ID == b.NodeID }) {
		fail("controller.quorum.voters", r.str("controller.quorum.voters"),
			fmt.Sprintf("must contain this node (node.id=%d) because process.roles contains controller", b.NodeID))
	}
	if len(b.ControllerListenerNames) == 0 {
		fail("controller.listener.names", "", "must be set when process.roles is set")
	}
	listenerNames := names(b.Listeners)
	if isController && len(b.ControllerListenerNames) > 0 && !slices.Contains(listenerNames, b.ControllerListenerNames[0]) {
		fail("controller.listener.names", strings.Join(b.ControllerListenerNames, ","),
			fmt.Sprintf("the first name must appear in listeners (%s) when process.roles contains controller", strings.Join(listenerNames, ",")))
	}
	if !isController {
		for _, n := range b.ControllerListenerNames {
			if slices.Contains(listenerNames, n) {
				fail("listeners", r.str("listeners"), fmt.Sprintf("must not contain the controller listener %s when process.roles is broker only", n))
			}
		}
	}
	if isController && !isBroker {
		for _, n := range listenerNames {
			if !slices.Contains(b.ControllerListenerNames, n) {
				fail("listeners", r.str("listeners"), fmt.Sprintf("must contain only controller listeners (%s) when process.roles is controller only; found %s",
					strings.Join(b.ControllerListenerNames, ","), n))
			}
		}
	}
	// Controller listener names default to PLAINTEXT unless the map is explicit.
	if !r.set("listener.security.protocol.map") {
		for _, n := range b.ControllerListenerNames {
			if _, ok := b.ListenerSecurityProtocolMap[n]; !ok {
				b.ListenerSecurityProtocolMap[n] = "PLAINTEXT"
			}
		}
	}
	ports := map[int]string{}
	for i, l := range b.Listeners {
		proto, ok := b.ListenerSecurityProtocolMap[l.Name]
		if !ok {
			fail("listener.security.protocol.map", r.str("listener.security.protocol.map"),
				fmt.Sprintf("must map listener %s, which is in listeners", l.Name))
			continue
		}
		b.Listeners[i].SecurityProtocol = proto
		if l.Port != 0 {
			if other, dup := ports[l.Port]; dup {
				fail("listeners", r.str("listeners"), fmt.Sprintf("each listener needs its own port; %s and %s both use %d", other, l.Name, l.Port))
			}
			ports[l.Port] = l.Name
		}
	}
	for i, l := range advertised {
		proto, ok := b.ListenerSecurityProtocolMap[l.Name]
		if !ok {
			fail("listener.security.protocol.map", r.str("listener.security.protocol.map"),
				fmt.Sprintf("must map listener %s, which is in advertised.listeners", l.Name))
		}
		advertised[i].SecurityProtocol = proto
		if !slices.Contains(listenerNames, l.Name) {
			fail("advertised.listeners", r.str("advertised.listeners"), fmt.Sprintf("listener %s is not in listeners", l.Name))
		}
		if l.Host == "0.0.0.0" || l.Host == "::" {
			fail("advertised.listeners", r.str("advertised.listeners"), "cannot use the nonroutable meta-address "+l.Host+"; use a routable host name or IP")
		}
		if isBroker && !isController && slices.Contains(b.ControllerListenerNames, l.Name) {
			fail("advertised.listeners", r.str("advertised.listeners"),
				fmt.Sprintf("must not contain the controller listener %s when process.roles is broker only", l.Name))
		}
	}
	// Effective advertised listeners: explicit ones, then every bound
	// listener not advertised explicitly (Kafka falls back to listeners).
	b.AdvertisedListeners = advertised
	for _, l := range b.Listeners {
		if !slices.Contains(names(advertised), l.Name) {
			b.AdvertisedListeners = append(b.AdvertisedListeners, l)
		}
	}
	if !r.set("advertised.listeners") {
		for _, l := range b.Listeners {
			if (l.Host == "0.0.0.0" || l.Host == "::") && !slices.Contains(b.ControllerListenerNames, l.Name) {
				fail("advertised.listeners", "", fmt.Sprintf("must be set: listener %s binds the nonroutable meta-address %s and would be advertised as is", l.Name, l.Host))
			}
		}
	}
	if isBroker {
		ib := b.InterBrokerListenerName
		if ib == "" {
			if r.set("security.inter.broker.protocol") || !slices.Contains(listenerNames, "PLAINTEXT") {
				// Kafka: the listener whose name equals security.inter.broker.protocol.
				ib = r.str("security.inter.broker.protocol")
			} else {
				ib = "PLAINTEXT"
			}
		} else if r.set("security.inter.broker.protocol") {
			fail("security.inter.broker.protocol", r.str("security.inter.broker.protocol"), "only one of inter.broker.listener.name and security.inter.broker.protocol may be set")
		}
		if slices.Contains(b.ControllerListenerNames, ib) {
			fail("inter.broker.listener.name", ib, "must not be a controller listener")
		} else if !slices.Contains(listenerNames, ib) {
			fail("inter.broker.listener.name", ib, fmt.Sprintf("must be one of the listeners (%s)", strings.Join(nonController(listenerNames, b.ControllerListenerNames), ",")))
		}
		b.InterBrokerListenerName = ib
	}
	if len(b.LogDirs) == 0 {
		fail("log.dirs", r.str("log.dirs"), "must name at least one directory")
	}
	if dup := firstDuplicate(b.LogDirs); dup != "" {
		fail("log.dirs", r.str("log.dirs"), fmt.Sprintf("directory %q is listed twice", dup))
	}
	if b.GroupMinSessionTimeoutMs > b.GroupMaxSessionTimeoutMs {
		fail("group.min.session.timeout.ms", r.str("group.min.session.timeout.ms"), "must be <= group.max.session.timeout.ms")
	}
	if b.GroupConsumerMinSessionTimeoutMs > b.GroupConsumerMaxSessionTimeoutMs {
		fail("group.consumer.min.session.timeout.ms", r.str("group.consumer.min.session.timeout.ms"), "must be <= group.consumer.max.session.timeout.ms")
	}
	if t := b.GroupConsumerSessionTimeoutMs; t < b.GroupConsumerMinSessionTimeoutMs || t > b.GroupConsumerMaxSessionTimeoutMs {
		fail("group.consumer.session.timeout.ms", r.str("group.consumer.session.timeout.ms"), "must be between group.consumer.min and max.session.timeout.ms")
	}
	if b.GroupConsumerMinHeartbeatMs > b.GroupConsumerMaxHeartbeatMs {
		fail("group.consumer.min.heartbeat.interval.ms", r.str("group.consumer.min.heartbeat.interval.ms"), "must be <= group.consumer.max.heartbeat.interval.ms")
	}
	if h := b.GroupConsumerHeartbeatMs; h < b.GroupConsumerMinHeartbeatMs || h > b.GroupConsumerMaxHeartbeatMs {
		fail("group.consumer.heartbeat.interval.ms", r.str("group.consumer.heartbeat.interval.ms"), "must be between group.consumer.min and max.heartbeat.interval.ms")
	}
	if b.GroupConsumerHeartbeatMs >= b.GroupConsumerSessionTimeoutMs {
		fail("group.consumer.heartbeat.interval.ms", r.str("group.consumer.heartbeat.interval.ms"), "must be lower than group.consumer.session.timeout.ms")
	}
	if b.LogRetentionMs == 0 {
		fail(retentionSource(r), r.str(retentionSource(r)), "must not resolve to 0 ms; use -1 for unlimited retention")
	}
	if b.ReplicaFetchWaitMaxMs > int32(min(b.ReplicaLagTimeMaxMs, 1<<31-1)) {
		fail("replica.fetch.wait.max.ms", r.str("replica.fetch.wait.max.ms"), "must be <= replica.lag.time.max.ms")
	}
	if b.CompressionType == "producer" || b.CompressionType == "" {
		b.CompressionType = "producer"
	}
	errs = append(errs, validateConnectionLimits(r, b.static)...)
	return errors.Join(errs...)
}

func retentionSource(r *resolver) string {
	switch {
	case r.set("log.retention.ms"):
		return "log.retention.ms"
	case r.set("log.retention.minutes"):
		return "log.retention.minutes"
	}
	return "log.retention.hours"
}

// noticeNonroutable reports controller listeners that bind 0.0.0.0 and are not
// advertised explicitly. Kafka 3.9+ rejects that (it advertises the bind
// address to other controllers); Spool accepts it so the common quickstart
// compose file starts, and advertises the node's own address instead.
func (b *Broker) noticeNonroutable(notices *[]Notice) {
	if _, set := b.static["advertised.listeners"]; !set {
		return
	}
	for _, l := range b.AdvertisedListeners {
		if (l.Host == "0.0.0.0" || l.Host == "::") && slices.Contains(b.ControllerListenerNames, l.Name) {
			*notices = append(*notices, Notice{Property: "advertised.listeners",
				Message: fmt.Sprintf("controller listener %s binds %s and is not advertised; Kafka 3.9+ would refuse to start, Spool advertises a routable local address", l.Name, l.Host)})
		}
	}
}

func names(ls []Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

func nonController(all, ctrl []string) []string {
	var out []string
	for _, n := range all {
		if !slices.Contains(ctrl, n) {
			out = append(out, n)
		}
	}
	return out
}

func firstDuplicate(s []string) string {
	seen := map[string]bool{}
	for _, x := range s {
		if seen[x] {
			return x
		}
		seen[x] = true
	}
	return ""
}

func splitHostPort(s string) (string, string, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return "", "", errors.New("missing port")
	}
	return s[:i], s[i+1:], nil
}
