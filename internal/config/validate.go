package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// validate parses the structured properties and runs Kafka's cross-field
// checks (KafkaConfig.validateValues, KRaft mode), reporting every problem
// at once. Phases run in order, since later ones use what earlier ones
// resolved (listener protocols, effective advertised listeners).
func (b *Broker) validate(r *resolver) error {
	advertised, err := b.parseStructured(r)
	if err != nil {
		return err
	}
	v := &validation{r: r}
	b.checkRolesAndQuorum(v)
	b.checkControllerListeners(v)
	b.resolveListenerProtocols(v)
	b.resolveAdvertisedListeners(v, advertised)
	if b.HasRole("broker") {
		b.resolveInterBrokerListener(v)
	}
	b.checkValues(v)
	if b.CompressionType == "producer" || b.CompressionType == "" {
		b.CompressionType = "producer"
	}
	return errors.Join(v.errs...)
}

// validation collects a configuration's problems.
type validation struct {
	r    *resolver
	errs []error
}

func (v *validation) fail(name, value, allowed string) {
	v.errs = append(v.errs, &ValueError{Name: name, Value: value, Allowed: allowed})
}

// parseStructured parses listeners, advertised.listeners,
// controller.quorum.voters and listener.security.protocol.map; the
// cross-field checks need all of them, so a parse error ends validation.
func (b *Broker) parseStructured(r *resolver) ([]Listener, error) {
	var errs []error
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
	return advertised, errors.Join(errs...)
}

// checkRolesAndQuorum checks the node's identity and roles and how it finds
// the controller quorum.
func (b *Broker) checkRolesAndQuorum(v *validation) {
	r := v.r
	if r.set("node.id") && r.set("broker.id") && r.i32("node.id") != r.i32("broker.id") {
		v.fail("broker.id", r.str("broker.id"), fmt.Sprintf("must equal node.id (%d) when both are set", r.i32("node.id")))
	}
	if len(b.ProcessRoles) == 0 {
		v.fail("process.roles", r.str("process.roles"), "must be set to broker, controller or broker,controller (ZooKeeper mode is not supported)")
	}
	if b.NodeID < 0 {
		v.fail("node.id", r.str("node.id"), "must be set to an integer >= 0 when process.roles is set")
	}
	if len(b.ControllerQuorumVoters) == 0 && len(b.ControllerQuorumBootstrap) == 0 {
		v.fail("controller.quorum.voters", r.str("controller.quorum.voters"), "either controller.quorum.voters or controller.quorum.bootstrap.servers must be set")
	}
	for _, s := range b.ControllerQuorumBootstrap {
		if _, _, e := splitHostPort(s); e != nil {
			v.fail("controller.quorum.bootstrap.servers", r.str("controller.quorum.bootstrap.servers"), fmt.Sprintf("%q must look like host:port", s))
		}
	}
	if b.HasRole("controller") && len(b.ControllerQuorumVoters) > 0 && b.NodeID >= 0 &&
		!slices.ContainsFunc(b.ControllerQuorumVoters, func(voter Voter) bool { return voter.ID == b.NodeID }) {
		v.fail("controller.quorum.voters", r.str("controller.quorum.voters"),
			fmt.Sprintf("must contain this node (node.id=%d) because process.roles contains controller", b.NodeID))
	}
}

// checkControllerListeners checks controller.listener.names against
// listeners for the node's roles.
func (b *Broker) checkControllerListeners(v *validation) {
	r := v.r
	isController, isBroker := b.HasRole("controller"), b.HasRole("broker")
	if len(b.ControllerListenerNames) == 0 {
		v.fail("controller.listener.names", "", "must be set when process.roles is set")
	}
	listenerNames := names(b.Listeners)
	if isController && len(b.ControllerListenerNames) > 0 && !slices.Contains(listenerNames, b.ControllerListenerNames[0]) {
		v.fail("controller.listener.names", strings.Join(b.ControllerListenerNames, ","),
			fmt.Sprintf("the first name must appear in listeners (%s) when process.roles contains controller", strings.Join(listenerNames, ",")))
	}
	if !isController {
		for _, n := range b.ControllerListenerNames {
			if slices.Contains(listenerNames, n) {
				v.fail("listeners", r.str("listeners"), fmt.Sprintf("must not contain the controller listener %s when process.roles is broker only", n))
			}
		}
	}
	if isController && !isBroker {
		for _, n := range listenerNames {
			if !slices.Contains(b.ControllerListenerNames, n) {
				v.fail("listeners", r.str("listeners"), fmt.Sprintf("must contain only controller listeners (%s) when process.roles is controller only; found %s",
					strings.Join(b.ControllerListenerNames, ","), n))
			}
		}
	}
}

// resolveListenerProtocols gives each listener its security protocol from
// listener.security.protocol.map, and checks that listeners' ports differ.
func (b *Broker) resolveListenerProtocols(v *validation) {
	r := v.r
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
			v.fail("listener.security.protocol.map", r.str("listener.security.protocol.map"),
				fmt.Sprintf("must map listener %s, which is in listeners", l.Name))
			continue
		}
		b.Listeners[i].SecurityProtocol = proto
		if l.Port != 0 {
			if other, dup := ports[l.Port]; dup {
				v.fail("listeners", r.str("listeners"), fmt.Sprintf("each listener needs its own port; %s and %s both use %d", other, l.Name, l.Port))
			}
			ports[l.Port] = l.Name
		}
	}
}

// resolveAdvertisedListeners checks advertised.listeners and sets the
// effective AdvertisedListeners.
func (b *Broker) resolveAdvertisedListeners(v *validation, advertised []Listener) {
	r := v.r
	isController, isBroker := b.HasRole("controller"), b.HasRole("broker")
	listenerNames := names(b.Listeners)
	for i, l := range advertised {
		proto, ok := b.ListenerSecurityProtocolMap[l.Name]
		if !ok {
			v.fail("listener.security.protocol.map", r.str("listener.security.protocol.map"),
				fmt.Sprintf("must map listener %s, which is in advertised.listeners", l.Name))
		}
		advertised[i].SecurityProtocol = proto
		if !slices.Contains(listenerNames, l.Name) {
			v.fail("advertised.listeners", r.str("advertised.listeners"), fmt.Sprintf("listener %s is not in listeners", l.Name))
		}
		if l.Host == "0.0.0.0" || l.Host == "::" {
			v.fail("advertised.listeners", r.str("advertised.listeners"), "cannot use the nonroutable meta-address "+l.Host+"; use a routable host name or IP")
		}
		if isBroker && !isController && slices.Contains(b.ControllerListenerNames, l.Name) {
			v.fail("advertised.listeners", r.str("advertised.listeners"),
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
				v.fail("advertised.listeners", "", fmt.Sprintf("must be set: listener %s binds the nonroutable meta-address %s and would be advertised as is", l.Name, l.Host))
			}
		}
	}
}

// resolveInterBrokerListener picks a broker's inter-broker listener from
// inter.broker.listener.name or security.inter.broker.protocol, as Kafka
// does, and checks it.
func (b *Broker) resolveInterBrokerListener(v *validation) {
	r := v.r
	listenerNames := names(b.Listeners)
	ib := b.InterBrokerListenerName
	if ib == "" {
		if r.set("security.inter.broker.protocol") || !slices.Contains(listenerNames, "PLAINTEXT") {
			// Kafka: the listener whose name equals security.inter.broker.protocol.
			ib = r.str("security.inter.broker.protocol")
		} else {
			ib = "PLAINTEXT"
		}
	} else if r.set("security.inter.broker.protocol") {
		v.fail("security.inter.broker.protocol", r.str("security.inter.broker.protocol"), "only one of inter.broker.listener.name and security.inter.broker.protocol may be set")
	}
	if slices.Contains(b.ControllerListenerNames, ib) {
		v.fail("inter.broker.listener.name", ib, "must not be a controller listener")
	} else if !slices.Contains(listenerNames, ib) {
		v.fail("inter.broker.listener.name", ib, fmt.Sprintf("must be one of the listeners (%s)", strings.Join(nonController(listenerNames, b.ControllerListenerNames), ",")))
	}
	b.InterBrokerListenerName = ib
}

// checkValues runs the remaining cross-field checks: log directories,
// group session and heartbeat timeouts, retention and replica fetching.
func (b *Broker) checkValues(v *validation) {
	r := v.r
	if len(b.LogDirs) == 0 {
		v.fail("log.dirs", r.str("log.dirs"), "must name at least one directory")
	}
	if dup := firstDuplicate(b.LogDirs); dup != "" {
		v.fail("log.dirs", r.str("log.dirs"), fmt.Sprintf("directory %q is listed twice", dup))
	}
	// Kafka's KafkaConfig.validateCordonedLogDirs, with its messages.
	if slices.Contains(b.CordonedLogDirs, "*") && len(b.CordonedLogDirs) > 1 {
		v.fail("cordoned.log.dirs", r.str("cordoned.log.dirs"), "When cordoned.log.dirs is set to *, it must not contain other values")
	} else if !slices.Contains(b.CordonedLogDirs, "*") {
		var missing []string
		for _, d := range b.CordonedLogDirs {
			if !slices.Contains(b.LogDirs, d) {
				missing = append(missing, d)
			}
		}
		if len(missing) > 0 {
			v.fail("cordoned.log.dirs", r.str("cordoned.log.dirs"), "All entries in cordoned.log.dirs must be present in log.dirs or log.dir. Missing entries : "+strings.Join(missing, ","))
		}
	}
	if b.GroupMinSessionTimeoutMs > b.GroupMaxSessionTimeoutMs {
		v.fail("group.min.session.timeout.ms", r.str("group.min.session.timeout.ms"), "must be <= group.max.session.timeout.ms")
	}
	if b.GroupConsumerMinSessionTimeoutMs > b.GroupConsumerMaxSessionTimeoutMs {
		v.fail("group.consumer.min.session.timeout.ms", r.str("group.consumer.min.session.timeout.ms"), "must be <= group.consumer.max.session.timeout.ms")
	}
	if t := b.GroupConsumerSessionTimeoutMs; t < b.GroupConsumerMinSessionTimeoutMs || t > b.GroupConsumerMaxSessionTimeoutMs {
		v.fail("group.consumer.session.timeout.ms", r.str("group.consumer.session.timeout.ms"), "must be between group.consumer.min and max.session.timeout.ms")
	}
	if b.GroupConsumerMinHeartbeatMs > b.GroupConsumerMaxHeartbeatMs {
		v.fail("group.consumer.min.heartbeat.interval.ms", r.str("group.consumer.min.heartbeat.interval.ms"), "must be <= group.consumer.max.heartbeat.interval.ms")
	}
	if h := b.GroupConsumerHeartbeatMs; h < b.GroupConsumerMinHeartbeatMs || h > b.GroupConsumerMaxHeartbeatMs {
		v.fail("group.consumer.heartbeat.interval.ms", r.str("group.consumer.heartbeat.interval.ms"), "must be between group.consumer.min and max.heartbeat.interval.ms")
	}
	if b.GroupConsumerHeartbeatMs >= b.GroupConsumerSessionTimeoutMs {
		v.fail("group.consumer.heartbeat.interval.ms", r.str("group.consumer.heartbeat.interval.ms"), "must be lower than group.consumer.session.timeout.ms")
	}
	checkGroupBounds(v)
	if b.LogRetentionMs == 0 {
		v.fail(retentionSource(r), r.str(retentionSource(r)), "must not resolve to 0 ms; use -1 for unlimited retention")
	}
	if b.ReplicaFetchWaitMaxMs > int32(min(b.ReplicaLagTimeMaxMs, 1<<31-1)) {
		v.fail("replica.fetch.wait.max.ms", r.str("replica.fetch.wait.max.ms"), "must be <= replica.lag.time.max.ms")
	}
	v.errs = append(v.errs, validateConnectionLimits(r, b.static)...)
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

// groupBound is one bounded share or streams group setting: its value must
// lie within [min, max], and so must the group configs that override it
// (ValidateGroupConfigs).
type groupBound struct {
	value, min, max string
	// maxFirst phrases the upper bound as Kafka does for these: "<max>
	// must be greater than or equal to <value>".
	maxFirst bool
}

// groupBounds are the bounds Kafka 4.3.1's GroupCoordinatorConfig and
// ShareGroupConfig check at startup.
var groupBounds = []groupBound{
	{value: "group.share.session.timeout.ms", min: "group.share.min.session.timeout.ms", max: "group.share.max.session.timeout.ms"},
	{value: "group.share.heartbeat.interval.ms", min: "group.share.min.heartbeat.interval.ms", max: "group.share.max.heartbeat.interval.ms"},
	{value: "group.share.assignment.interval.ms", min: "group.share.min.assignment.interval.ms", max: "group.share.max.assignment.interval.ms"},
	{value: "group.share.record.lock.duration.ms", min: "group.share.min.record.lock.duration.ms", max: "group.share.max.record.lock.duration.ms", maxFirst: true},
	{value: "group.share.delivery.count.limit", min: "group.share.min.delivery.count.limit", max: "group.share.max.delivery.count.limit", maxFirst: true},
	{value: "group.share.partition.max.record.locks", min: "group.share.min.partition.max.record.locks", max: "group.share.max.partition.max.record.locks", maxFirst: true},
	{value: "group.streams.session.timeout.ms", min: "group.streams.min.session.timeout.ms", max: "group.streams.max.session.timeout.ms"},
	{value: "group.streams.heartbeat.interval.ms", min: "group.streams.min.heartbeat.interval.ms", max: "group.streams.max.heartbeat.interval.ms"},
	{value: "group.streams.assignment.interval.ms", min: "group.streams.min.assignment.interval.ms", max: "group.streams.max.assignment.interval.ms"},
	{value: "group.streams.num.standby.replicas", max: "group.streams.max.standby.replicas"},
	{value: "group.consumer.assignment.interval.ms", min: "group.consumer.min.assignment.interval.ms", max: "group.consumer.max.assignment.interval.ms"},
}

// checkGroupBounds refuses share and streams group settings outside their
// bounds, with Kafka's messages.
func checkGroupBounds(v *validation) {
	r := v.r
	fail := func(name, msg string) { v.fail(name, r.str(name), msg) }
	for _, gb := range groupBounds {
		val := r.i64(gb.value)
		if gb.min != "" && r.i64(gb.max) < r.i64(gb.min) {
			fail(gb.max, gb.max+" must be greater than or equal to "+gb.min)
			continue
		}
		if gb.min != "" && val < r.i64(gb.min) {
			fail(gb.value, gb.value+" must be greater than or equal to "+gb.min)
		}
		if val > r.i64(gb.max) {
			if gb.maxFirst {
				fail(gb.max, gb.max+" must be greater than or equal to "+gb.value)
			} else {
				fail(gb.value, gb.value+" must be less than or equal to "+gb.max)
			}
		}
	}
	for _, g := range []string{"share", "streams"} {
		hb, session := "group."+g+".heartbeat.interval.ms", "group."+g+".session.timeout.ms"
		if r.i64(hb) >= r.i64(session) {
			fail(hb, hb+" must be less than "+session)
		}
	}
}
