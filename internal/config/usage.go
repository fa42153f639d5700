package config

import (
	"fmt"
	"slices"
	"strings"
)

// Usage lists every broker property Spool understands, grouped, with its
// default, whether Spool honours it, and a one-line description, for
// `spool serve --help`.
func Usage() string {
	var sb strings.Builder
	sb.WriteString("Broker properties (server.properties, or env KAFKA_<NAME> with '.'->'_', '_'->'__', '-'->'___'):\n")
	sb.WriteString("With none of node.id, process.roles, listeners, controller.* set, Spool runs a single node:\n")
	for _, k := range []string{"node.id", "process.roles", "listeners", "controller.listener.names", "controller.quorum.voters"} {
		fmt.Fprintf(&sb, "  %s=%s\n", k, zeroConfig[k])
	}
	sb.WriteString(`
Each property is marked:
  supported   honoured as Kafka honours it
  ignored     accepted (DescribeConfigs shows it) but changes nothing; "instead:" says what Spool does.
              Set to a value other than the default, it is logged at startup, at WARN when
              ignoring it weakens durability or safety.
  refused     configures a protection Spool does not implement yet, or something Spool does not
              do whose ignoring would weaken security; a setting that asks for it stops startup
              (see Security below)
`)
	// Each group once, in the order groups first appear.
	var groups []string
	for i := range brokerDefList {
		if !slices.Contains(groups, brokerDefList[i].group) {
			groups = append(groups, brokerDefList[i].group)
		}
	}
	var ordered []*brokerDef
	for _, g := range groups {
		for i := range brokerDefList {
			if brokerDefList[i].group == g {
				ordered = append(ordered, &brokerDefList[i])
			}
		}
	}
	group := ""
	for _, d := range ordered {
		if d.group != group {
			group = d.group
			fmt.Fprintf(&sb, "\n%s:\n", group)
		}
		def, ok := defaultValue(d.name)
		switch {
		case !ok:
			def = "(none)"
		case def == "":
			def = `""`
		}
		s, explain := d.support()
		doc := d.doc
		if s == Ignored {
			doc = strings.TrimSuffix(doc, ".") + "; instead: " + explain
		}
		if s == Refused && d.refuse != "" {
			doc = strings.TrimSuffix(doc, ".") + "; " + d.refuse
		}
		fmt.Fprintf(&sb, "  %-46s %-22s %-9s %s\n", d.name, def, s, doc)
	}
	sb.WriteString("\nSecurity: Spool fails closed. It refuses to start, before opening any port or formatting any\n")
	sb.WriteString("log dir, when a setting asks for a protection it does not implement yet:\n")
	for id, p := range protections {
		if protectionID(id) == protNone {
			continue
		}
		state := "not implemented yet"
		if p.implemented {
			state = "implemented"
		}
		fmt.Fprintf(&sb, "  %-46s %s\n", p.name, state)
	}
	fmt.Fprintf(&sb, "Supported security protocols: %s; SASL mechanisms: %s; authorizer.class.name=%s.\n",
		listOrNone(supportedProtocols()), listOrNone(supportedMechanisms()), AuthorizerClassStandard)
	sb.WriteString("Refused: unimplemented SASL mechanisms (sasl.enabled.mechanisms, listener.name.<l>.sasl.enabled.mechanisms,\n")
	sb.WriteString("sasl.mechanism.* where used), any other authorizer, and dynamic updates of ssl.* and sasl.*\n")
	sb.WriteString("other than a listener's keystore (listener.name.<l>.ssl.keystore.*, ssl.key.password: reloaded for new\n")
	sb.WriteString("connections): set them in server.properties and restart.\n")
	sb.WriteString("Between nodes: the inter-broker and CONTROLLER listeners may be SSL or SASL_SSL; a node dials them with\n")
	sb.WriteString("sasl.mechanism.inter.broker.protocol / sasl.mechanism.controller.protocol (PLAIN, SCRAM-SHA-*) and the\n")
	sb.WriteString("username/password of listener.name.<l>.<mechanism>.sasl.jaas.config, TLS from listener.name.<l>.ssl.*.\n")
	sb.WriteString("SCRAM users: kafka-configs.sh --alter --entity-type users, or for the first admin of a new cluster\n")
	sb.WriteString("spool format --add-scram 'SCRAM-SHA-512=[name=admin,password=...]' (containers: SPOOL_ADD_SCRAM).\n")
	sb.WriteString("PLAIN users: listener.name.<l>.plain.sasl.jaas.config (user_<name>=\"<password>\").\n")
	sb.WriteString("\nAlso accepted: CLUSTER_ID / KAFKA_CLUSTER_ID (cluster id for a new data dir). Stored but ignored\n")
	sb.WriteString("(logged at startup; quota.* at WARN: Kafka 4 has no static client quotas): any other property starting with\n")
	prefixes := make([]string, len(passthroughPrefixes))
	for i, p := range passthroughPrefixes {
		if prefixes[i] = p; strings.HasSuffix(p, ".") {
			prefixes[i] += "*"
		}
	}
	sb.WriteString("  " + strings.Join(prefixes, ", ") + "\n")
	sb.WriteString("Ignored with a notice: JVM variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, KAFKA_JMX_PORT, ...) and ZooKeeper-era properties.\n")
	return sb.String()
}
