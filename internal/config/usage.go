package config

import (
	"fmt"
	"strings"
)

// Usage lists every broker property Spool understands, grouped, with its
// default and a one-line description, for `spool serve --help`.
func Usage() string {
	var sb strings.Builder
	sb.WriteString("Broker properties (server.properties, or env KAFKA_<NAME> with '.'->'_', '_'->'__', '-'->'___'):\n")
	sb.WriteString("With none of node.id, process.roles, listeners, controller.* set, Spool runs a single node:\n")
	for _, k := range []string{"node.id", "process.roles", "listeners", "controller.listener.names", "controller.quorum.voters"} {
		fmt.Fprintf(&sb, "  %s=%s\n", k, zeroConfig[k])
	}
	group := ""
	for _, d := range brokerDefList {
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
		fmt.Fprintf(&sb, "  %-46s %-22s %s\n", d.name, def, d.doc)
	}
	sb.WriteString("\nAlso accepted: CLUSTER_ID / KAFKA_CLUSTER_ID (cluster id for a new data dir), ssl.*, sasl.*, listener.name.*.\n")
	sb.WriteString("Ignored with a warning: JVM variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, KAFKA_JMX_PORT, ...) and ZooKeeper-era properties.\n")
	return sb.String()
}
