package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Spool fails closed: a setting that asks for a protection Spool does not
// provide (TLS, SASL, client certificates, ACLs) stops startup, before any
// port is opened or any log dir is formatted, instead of serving an open
// broker to an operator who believes it is locked down. Loading such a
// configuration is fine (Load, DescribeConfigs); CheckProtections is the gate.

// protectionID names one protection a setting can ask for.
type protectionID int8

const (
	protNone protectionID = iota
	protTLS
	protSASL
	protClientCert
	protAuthorizer
	protSASLPlain
	protSASLScram256
	protSASLScram512
	protSASLOAuthBearer
	protSASLGSSAPI
	protNodeLinks
)

// protections is every protection a setting can ask for and whether Spool
// implements it. It is the one switch: when TLS, SASL or ACLs land, their
// entries become implemented, and the refusals (and the "refused" marks of
// spool serve --help) shrink to what stays unimplemented, e.g. GSSAPI.
var protections = [...]struct {
	name        string
	implemented bool
}{
	protNone:            {"", true},
	protTLS:             {"TLS encryption", true},
	protSASL:            {"SASL authentication", true},
	protClientCert:      {"TLS client certificate authentication", true},
	protAuthorizer:      {"ACL authorization", true},
	protSASLPlain:       {"SASL mechanism PLAIN", true},
	protSASLScram256:    {"SASL mechanism SCRAM-SHA-256", true},
	protSASLScram512:    {"SASL mechanism SCRAM-SHA-512", true},
	protSASLOAuthBearer: {"SASL mechanism OAUTHBEARER", true},
	protSASLGSSAPI:      {"SASL mechanism GSSAPI (Kerberos)", false},
	// Connections between nodes (raft and controller RPCs on the
	// CONTROLLER listener, replica fetches and forwarding towards the
	// inter-broker listener) are made in the clear.
	protNodeLinks: {"TLS and SASL on connections between nodes (controller listeners, the inter-broker listener of a multi-node cluster)", true},
}

// DefaultPrincipalBuilder is Kafka's principal.builder.class, the only one
// Spool implements (auth/tls, auth/sasl build principals its way).
const DefaultPrincipalBuilder = "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"

// AuthorizerClassStandard is the authorizer.class.name that selects ACLs:
// Kafka's KRaft authorizer, the only one Spool implements.
const AuthorizerClassStandard = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

// saslMechanisms maps Kafka's mechanism names to their protection. A name
// not listed (a custom mechanism) is never implemented.
var saslMechanisms = map[string]protectionID{
	"PLAIN":         protSASLPlain,
	"SCRAM-SHA-256": protSASLScram256,
	"SCRAM-SHA-512": protSASLScram512,
	"OAUTHBEARER":   protSASLOAuthBearer,
	"GSSAPI":        protSASLGSSAPI,
}

func implemented(p protectionID) bool { return protections[p].implemented }

// protocolNeeds lists what a listener security protocol asks for.
func protocolNeeds(protocol string) []protectionID {
	switch protocol {
	case "SSL":
		return []protectionID{protTLS}
	case "SASL_PLAINTEXT":
		return []protectionID{protSASL}
	case "SASL_SSL":
		return []protectionID{protTLS, protSASL}
	}
	return nil
}

// supportedProtocols lists the security protocols a listener may use.
func supportedProtocols() []string {
	var out []string
	for _, p := range []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"} {
		if !slices.ContainsFunc(protocolNeeds(p), func(id protectionID) bool { return !implemented(id) }) {
			out = append(out, p)
		}
	}
	return out
}

// supportedMechanisms lists the SASL mechanisms Spool implements.
func supportedMechanisms() []string {
	var out []string
	for name, id := range saslMechanisms {
		if implemented(id) && implemented(protSASL) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Refusal is one setting that asks for a protection Spool does not provide.
type Refusal struct {
	Property string // the property to change
	Value    string // its value, or what in it asks for protection
	Reason   string // what it asks for, and what is supported instead
}

func (r Refusal) String() string { return r.Property + "=" + r.Value + ": " + r.Reason }

// ErrProtectionNotImplemented marks CheckProtections' error.
var ErrProtectionNotImplemented = errors.New("protection not implemented yet")

// ProtectionError is CheckProtections' error: every refused setting.
type ProtectionError struct {
	Refusals []Refusal
}

func (e *ProtectionError) Unwrap() error { return ErrProtectionNotImplemented }

func (e *ProtectionError) Error() string {
	var sb strings.Builder
	what := "these settings ask"
	if len(e.Refusals) == 1 {
		what = "this setting asks"
	}
	fmt.Fprintf(&sb, "config: refusing to start: %s for protection that Spool does not implement yet, and without it the broker would be open to every client:", what)
	for _, r := range e.Refusals {
		sb.WriteString("\n  - ")
		sb.WriteString(r.String())
	}
	authz := "none"
	if implemented(protAuthorizer) {
		authz = "ACLs"
	}
	fmt.Fprintf(&sb, "\nSpool implements: security protocols %s; SASL mechanisms %s; authorization %s.",
		listOrNone(supportedProtocols()), listOrNone(supportedMechanisms()), authz)
	sb.WriteString("\nRemove these settings only on a trusted network: clients then connect without the protection they ask for.")
	return sb.String()
}

// Refusals lists every setting that asks for a protection Spool does not
// implement yet, in a stable order: listeners (with their inter-broker and
// controller roles), TLS client authentication, SASL mechanisms, the
// authorizer and super users.
func (b *Broker) Refusals() []Refusal {
	var out []Refusal
	add := func(prop, value, reason string) {
		out = append(out, Refusal{Property: prop, Value: value, Reason: reason})
	}
	protoOf := func(listener string) string { return b.ListenerSecurityProtocolMap[listener] }
	unimplemented := func(protocol string) []string {
		var names []string
		for _, id := range protocolNeeds(protocol) {
			if !implemented(id) {
				names = append(names, protections[id].name)
			}
		}
		return names
	}
	protoReason := func(protocol string, missing []string) string {
		return fmt.Sprintf("security protocol %s needs %s, not implemented yet; supported security protocols: %s",
			protocol, strings.Join(missing, " and "), listOrNone(supportedProtocols()))
	}

	// Connections between nodes are made in the clear: a controller
	// listener, and the inter-broker listener of a node that talks to
	// other nodes, must not ask for TLS or SASL.
	multiNode := len(b.ControllerQuorumVoters) > 1 || !b.HasRole("controller")
	nodeLink := func(listener, protocol string) []string {
		if len(protocolNeeds(protocol)) == 0 || implemented(protNodeLinks) {
			return nil
		}
		if slices.Contains(b.ControllerListenerNames, listener) || (listener == b.InterBrokerListenerName && multiNode) {
			return []string{protections[protNodeLinks].name}
		}
		return nil
	}

	// Listeners bound here, named with their role.
	bound := map[string]bool{}
	for _, l := range b.Listeners {
		bound[l.Name] = true
		missing := append(unimplemented(l.SecurityProtocol), nodeLink(l.Name, l.SecurityProtocol)...)
		if len(missing) == 0 {
			continue
		}
		var role string
		switch {
		case slices.Contains(b.ControllerListenerNames, l.Name):
			role = " (a controller listener, controller.listener.names)"
		case l.Name == b.InterBrokerListenerName:
			role = " (the inter-broker listener, " + b.interBrokerProperty() + ")"
		}
		add("listeners", l.String(), fmt.Sprintf("listener %s%s maps to %s in listener.security.protocol.map: %s",
			l.Name, role, l.SecurityProtocol, protoReason(l.SecurityProtocol, missing)))
	}
	// Controller listeners this node only connects to (not bound here).
	for _, n := range b.ControllerListenerNames {
		if bound[n] {
			continue
		}
		if missing := append(unimplemented(protoOf(n)), nodeLink(n, protoOf(n))...); len(missing) > 0 {
			add("controller.listener.names", n, fmt.Sprintf("controllers are reached with %s: %s", protoOf(n), protoReason(protoOf(n), missing)))
		}
	}

	// TLS client authentication, broker-wide and per listener.
	if !implemented(protClientCert) {
		clientAuth := map[string]string{"ssl.client.auth": strings.ToLower(b.staticOr("ssl.client.auth", "none"))}
		for k, v := range b.Security {
			if strings.HasPrefix(k, "listener.name.") && strings.HasSuffix(k, ".ssl.client.auth") {
				clientAuth[k] = strings.ToLower(strings.TrimSpace(v))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(clientAuth)) {
			if v := clientAuth[k]; v != "none" && v != "" {
				add(k, v, protections[protClientCert].name+" is not implemented yet; supported: ssl.client.auth=none")
			}
		}
	}

	// SASL mechanisms of the SASL listeners, inter-broker and controller paths.
	mechReason := func(m string) string {
		return fmt.Sprintf("SASL mechanism %s is not implemented yet; supported SASL mechanisms: %s", m, listOrNone(supportedMechanisms()))
	}
	unimplementedMechs := func(list []string) []string {
		var bad []string
		for _, m := range list {
			m = strings.ToUpper(strings.TrimSpace(m))
			if id, ok := saslMechanisms[m]; !ok || !implemented(id) || !implemented(protSASL) {
				bad = append(bad, m)
			}
		}
		return bad
	}
	isSASL := func(protocol string) bool { return strings.HasPrefix(protocol, "SASL_") }
	saslListener := false
	for _, l := range b.Listeners {
		if !isSASL(l.SecurityProtocol) {
			continue
		}
		key := "listener.name." + strings.ToLower(l.Name) + ".sasl.enabled.mechanisms"
		if v, ok := b.Security[key]; ok {
			for _, m := range unimplementedMechs(splitList(v)) {
				add(key, m, mechReason(m))
			}
		} else {
			// Only listeners without their own list use the broker-wide one.
			saslListener = true
		}
	}
	if saslListener {
		for _, m := range unimplementedMechs(b.SASLEnabledMechanisms) {
			add("sasl.enabled.mechanisms", m, mechReason(m)+b.defaultNote("sasl.enabled.mechanisms"))
		}
	}
	if isSASL(protoOf(b.InterBrokerListenerName)) {
		for _, m := range unimplementedMechs([]string{b.SASLInterBrokerMechanism}) {
			add("sasl.mechanism.inter.broker.protocol", m, mechReason(m)+b.defaultNote("sasl.mechanism.inter.broker.protocol"))
		}
	}
	if slices.ContainsFunc(b.ControllerListenerNames, func(n string) bool { return isSASL(protoOf(n)) }) {
		m := strings.TrimSpace(b.staticOr("sasl.mechanism.controller.protocol", brokerDefs["sasl.mechanism.controller.protocol"].def))
		for _, m := range unimplementedMechs([]string{m}) {
			add("sasl.mechanism.controller.protocol", m, mechReason(m)+b.defaultNote("sasl.mechanism.controller.protocol"))
		}
	}

	// A custom principal builder decides who every connection is, and so
	// what ACLs and super.users mean: Spool cannot run one, and ignoring it
	// would authorize other principals than the operator's.
	if v := b.staticOr("principal.builder.class", DefaultPrincipalBuilder); v != DefaultPrincipalBuilder && v != "" {
		add("principal.builder.class", v, "custom principal builders are not implemented yet; supported: "+DefaultPrincipalBuilder+
			" (User:<SASL name>, or User:<certificate subject> after ssl.principal.mapping.rules)")
	}

	// Settings Spool does not act on whose ignoring would weaken security
	// (brokerDef.refuse).
	for _, name := range brokerDefNames {
		d := brokerDefs[name]
		v, ok := b.static[name]
		if d.refuse == "" || !ok {
			continue
		}
		if def, hasDef := defaultValue(name); (hasDef && normalize(d.typ, v) == normalize(d.typ, def)) || (!hasDef && strings.TrimSpace(v) == "") {
			continue // Kafka's default: nothing is asked for
		}
		val := strings.TrimSpace(v)
		if d.typ == TypePassword {
			val = "(a password)"
		}
		add(name, val, d.refuse)
	}

	// Authorization.
	if implemented(protAuthorizer) && b.AuthorizerClassName != "" && strings.TrimSpace(b.AuthorizerClassName) != AuthorizerClassStandard {
		add("authorizer.class.name", b.AuthorizerClassName, "this authorizer is not implemented yet; supported: "+AuthorizerClassStandard+
			" (ACLs in the metadata log) or no authorizer")
	}
	if !implemented(protAuthorizer) {
		if b.AuthorizerClassName != "" {
			add("authorizer.class.name", b.AuthorizerClassName, protections[protAuthorizer].name+
				" is not implemented yet, and every client could read and write everything; supported: no authorizer (leave authorizer.class.name empty)")
		}
		if len(b.SuperUsers) > 0 {
			add("super.users", strings.Join(b.SuperUsers, ";"), "super users bypass ACLs, and "+protections[protAuthorizer].name+
				" is not implemented yet; supported: no super.users")
		}
	}
	return out
}

// CheckProtections refuses a configuration that asks for protection Spool
// does not provide yet. cmd/spool calls it right after Load and node.Start
// calls it before it touches a log dir or opens a port, so a broker that
// should be locked down never serves in the clear. The error names every
// such property, what it asks for and what is supported.
func (b *Broker) CheckProtections() error {
	if rs := b.Refusals(); len(rs) > 0 {
		return &ProtectionError{Refusals: rs}
	}
	return nil
}

// interBrokerProperty names the property that chose the inter-broker
// listener.
func (b *Broker) interBrokerProperty() string {
	if _, ok := b.static["security.inter.broker.protocol"]; ok {
		return "security.inter.broker.protocol"
	}
	return "inter.broker.listener.name"
}

// staticOr is the property's configured value, or def when it is unset.
func (b *Broker) staticOr(name, def string) string {
	if v, ok := b.static[name]; ok {
		return strings.TrimSpace(v)
	}
	return def
}

// defaultNote says a refused value is Kafka's default, not something the
// operator wrote.
func (b *Broker) defaultNote(name string) string {
	if _, ok := b.static[name]; ok {
		return ""
	}
	return " (" + name + " is unset and Kafka's default is " + brokerDefs[name].def + ")"
}
