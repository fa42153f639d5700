package metrics

import "strings"

// PromName is the Prometheus name Strimzi's kafka-metrics rules give the
// bean kafka.<domain>:type=<typ>,name=<name> (see the package comment):
// lower case, "<X>PerSec" → "<x>_total", "<X>Percent" → "<x>_percent".
// Keys after name= become labels and don't change the name.
func PromName(domain, typ, name string) string {
	base := "kafka_" + strings.ToLower(domain) + "_" + strings.ToLower(typ) + "_"
	if i := strings.Index(name, "PerSec"); i >= 0 {
		return base + strings.ToLower(name[:i]) + "_total"
	}
	if i := strings.Index(name, "Percent"); i >= 0 {
		return base + strings.ToLower(name[:i]) + "_percent"
	}
	return base + strings.ToLower(name)
}

// AttrName is the Prometheus name of an attribute of a Kafka metrics
// (KafkaMetric, not Yammer) bean kafka.<domain>:type=<typ> as the JMX
// exporter sanitizes it: "raft-metrics" "current-leader" →
// kafka_server_raftmetrics_current_leader when squash is set (Strimzi's
// raft rules drop the type's dashes), kafka_server_raft_metrics_... when
// not.
func AttrName(domain, typ, attr string, squash bool) string {
	t := strings.ToLower(typ)
	if squash {
		t = strings.ReplaceAll(t, "-", "")
	}
	return strings.ReplaceAll("kafka_"+strings.ToLower(domain)+"_"+t+"_"+strings.ToLower(attr), "-", "_")
}
