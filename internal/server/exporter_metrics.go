package server

import (
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spool-broker/spool/metrics"
)

// kafka-exporter's (danielqsj/kafka_exporter) series, served natively and
// computed at scrape from state the broker holds anyway, so dashboards
// and alerts built for kafka-exporter work unchanged (docs/metrics.md).
// kafka-exporter is one process looking at the whole cluster; Spool's
// brokers split the work so that summing over brokers counts each series
// once:
//
//   - partition series come from the partition's leader;
//   - consumer group series from the group's coordinator; the lag where
//     the coordinator hosts a replica of the partition (its high
//     watermark; a follower's is at most one fetch behind the leader's);
//   - cluster series (kafka_brokers, kafka_broker_info,
//     kafka_topic_partitions) from the unfenced broker with the lowest id.
//
// Burrow's lag evaluation (metrics.EvaluatePartition) runs on the same
// offsets, each scrape adding the commits made since the last one to a
// window of ten per partition.
var (
	famExpBrokers    = metrics.NewFamily("kafka_brokers", "Number of Brokers in the Kafka Cluster.", prometheus.GaugeValue)
	famExpBrokerInfo = metrics.NewFamily("kafka_broker_info", "Information about the Kafka Broker.", prometheus.GaugeValue, "address", "id")
	famExpPartitions = metrics.NewFamily("kafka_topic_partitions", "Number of partitions for this Topic", prometheus.GaugeValue, "topic")
	famExpCurrent    = metrics.NewFamily("kafka_topic_partition_current_offset", "Current Offset of a Broker at Topic/Partition", prometheus.GaugeValue, "topic", "partition")
	famExpOldest     = metrics.NewFamily("kafka_topic_partition_oldest_offset", "Oldest Offset of a Broker at Topic/Partition", prometheus.GaugeValue, "topic", "partition")
	famExpISR        = metrics.NewFamily("kafka_topic_partition_in_sync_replica", "Number of In-Sync Replicas for this Topic/Partition", prometheus.GaugeValue, "topic", "partition")
	famExpLeader     = metrics.NewFamily("kafka_topic_partition_leader", "Leader Broker ID of this Topic/Partition", prometheus.GaugeValue, "topic", "partition")
	famExpPreferred  = metrics.NewFamily("kafka_topic_partition_leader_is_preferred", "1 if Topic/Partition is using the Preferred Broker", prometheus.GaugeValue, "topic", "partition")
	famExpReplicas   = metrics.NewFamily("kafka_topic_partition_replicas", "Number of Replicas for this Topic/Partition", prometheus.GaugeValue, "topic", "partition")
	famExpURP        = metrics.NewFamily("kafka_topic_partition_under_replicated_partition", "1 if Topic/Partition is under Replicated", prometheus.GaugeValue, "topic", "partition")
	famExpCGOffset   = metrics.NewFamily("kafka_consumergroup_current_offset", "Current Offset of a ConsumerGroup at Topic/Partition", prometheus.GaugeValue, "consumergroup", "topic", "partition")
	famExpCGLag      = metrics.NewFamily("kafka_consumergroup_lag", "Current Approximate Lag of a ConsumerGroup at Topic/Partition", prometheus.GaugeValue, "consumergroup", "topic", "partition")
	famExpCGOffSum   = metrics.NewFamily("kafka_consumergroup_current_offset_sum", "Current Offset of a ConsumerGroup at Topic for all partitions", prometheus.GaugeValue, "consumergroup", "topic")
	famExpCGLagSum   = metrics.NewFamily("kafka_consumergroup_lag_sum", "Current Approximate Lag of a ConsumerGroup at Topic for all partitions", prometheus.GaugeValue, "consumergroup", "topic")
	famExpCGMembers  = metrics.NewFamily("kafka_consumergroup_members", "Amount of members in a consumer group", prometheus.GaugeValue, "consumergroup")
	famBurrowGroup   = metrics.NewFamily("spool_consumergroup_status",
		"Burrow's evaluation of the group: 1 OK, 2 WARN, 3 ERR (a partition stopped, stalled or rewound).", prometheus.GaugeValue, "consumergroup")
	famBurrowPart = metrics.NewFamily("spool_consumergroup_partition_status",
		"Burrow's evaluation of the group's partition: 1 OK, 2 WARN, 4 STOP, 5 STALL, 6 REWIND.", prometheus.GaugeValue, "consumergroup", "topic", "partition")
	exporterFamilies = []*metrics.Family{famExpBrokers, famExpBrokerInfo, famExpPartitions, famExpCurrent, famExpOldest,
		famExpISR, famExpLeader, famExpPreferred, famExpReplicas, famExpURP, famExpCGOffset, famExpCGLag,
		famExpCGOffSum, famExpCGLagSum, famExpCGMembers, famBurrowGroup, famBurrowPart}
)

type exporterCollector struct {
	b   *Broker
	lag *metrics.LagHistory
}

func (c *exporterCollector) Families() []*metrics.Family { return exporterFamilies }

func (c *exporterCollector) Visit(e metrics.Emitter) {
	b := c.b
	img := b.image.Load()
	gauge := e.Emit
	bool01 := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	brokers := img.Brokers()
	reporter := int32(-1)
	for _, br := range brokers {
		if !br.Fenced {
			reporter = br.ID
			break
		}
	}
	topics := img.Topics()
	if reporter == b.nodeID {
		gauge(famExpBrokers, float64(len(brokers)))
		for _, br := range brokers {
			addr := ""
			if len(br.Endpoints) > 0 {
				addr = net.JoinHostPort(br.Endpoints[0].Host, strconv.Itoa(int(br.Endpoints[0].Port)))
			}
			gauge(famExpBrokerInfo, 1, addr, strconv.Itoa(int(br.ID)))
		}
		for _, t := range topics {
			gauge(famExpPartitions, float64(len(t.Partitions)), t.Name)
		}
	}
	for _, t := range topics {
		for i, pi := range t.Partitions {
			if pi.Leader != b.nodeID {
				continue
			}
			p := b.partition(t.Name, int32(i))
			if p == nil {
				continue
			}
			part := strconv.Itoa(i)
			l := p.Log()
			gauge(famExpCurrent, float64(l.HighWatermark()), t.Name, part)
			gauge(famExpOldest, float64(l.LogStartOffset()), t.Name, part)
			gauge(famExpISR, float64(len(pi.ISR)), t.Name, part)
			gauge(famExpLeader, float64(pi.Leader), t.Name, part)
			gauge(famExpPreferred, bool01(len(pi.Replicas) > 0 && pi.Replicas[0] == pi.Leader), t.Name, part)
			gauge(famExpReplicas, float64(len(pi.Replicas)), t.Name, part)
			gauge(famExpURP, bool01(len(pi.ISR) < len(pi.Replicas)), t.Name, part)
		}
	}
	if b.groupHandlers == nil || b.groupHandlers.coord == nil {
		return
	}
	groups, offsets := b.groupHandlers.coord.Snapshot()
	for _, g := range groups {
		gauge(famExpCGMembers, float64(g.Members), g.Group)
	}
	type gt struct{ group, topic string }
	offSum, lagSum := map[gt]float64{}, map[gt]float64{}
	hasLag := map[gt]bool{}
	statuses := map[string][]metrics.LagStatus{}
	now := time.Now()
	c.lag.Begin()
	for _, o := range offsets {
		part := strconv.Itoa(int(o.Partition))
		k := gt{o.Group, o.Topic}
		gauge(famExpCGOffset, float64(o.Offset), o.Group, o.Topic, part)
		offSum[k] += float64(o.Offset)
		p := b.partition(o.Topic, o.Partition)
		if p == nil {
			continue
		}
		hw := p.Log().HighWatermark()
		lag := hw - o.Offset
		gauge(famExpCGLag, float64(lag), o.Group, o.Topic, part)
		lagSum[k] += float64(lag)
		hasLag[k] = true
		st := c.lag.Observe(metrics.LagKey{Group: o.Group, Topic: o.Topic, Partition: o.Partition}, o.Offset,
			time.UnixMilli(o.CommitTimestamp), max(lag, 0), hw, now)
		statuses[o.Group] = append(statuses[o.Group], st)
		gauge(famBurrowPart, float64(st), o.Group, o.Topic, part)
	}
	c.lag.End()
	for k, v := range offSum {
		gauge(famExpCGOffSum, v, k.group, k.topic)
		if hasLag[k] {
			gauge(famExpCGLagSum, lagSum[k], k.group, k.topic)
		}
	}
	for g, st := range statuses {
		gauge(famBurrowGroup, float64(metrics.EvaluateGroup(st)), g)
	}
}
