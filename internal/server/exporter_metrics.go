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
	descExpBrokers    = prometheus.NewDesc("kafka_brokers", "Number of Brokers in the Kafka Cluster.", nil, nil)
	descExpBrokerInfo = prometheus.NewDesc("kafka_broker_info", "Information about the Kafka Broker.", []string{"address", "id"}, nil)
	descExpPartitions = prometheus.NewDesc("kafka_topic_partitions", "Number of partitions for this Topic", []string{"topic"}, nil)
	tpLabels          = []string{"topic", "partition"}
	descExpCurrent    = prometheus.NewDesc("kafka_topic_partition_current_offset", "Current Offset of a Broker at Topic/Partition", tpLabels, nil)
	descExpOldest     = prometheus.NewDesc("kafka_topic_partition_oldest_offset", "Oldest Offset of a Broker at Topic/Partition", tpLabels, nil)
	descExpISR        = prometheus.NewDesc("kafka_topic_partition_in_sync_replica", "Number of In-Sync Replicas for this Topic/Partition", tpLabels, nil)
	descExpLeader     = prometheus.NewDesc("kafka_topic_partition_leader", "Leader Broker ID of this Topic/Partition", tpLabels, nil)
	descExpPreferred  = prometheus.NewDesc("kafka_topic_partition_leader_is_preferred", "1 if Topic/Partition is using the Preferred Broker", tpLabels, nil)
	descExpReplicas   = prometheus.NewDesc("kafka_topic_partition_replicas", "Number of Replicas for this Topic/Partition", tpLabels, nil)
	descExpURP        = prometheus.NewDesc("kafka_topic_partition_under_replicated_partition", "1 if Topic/Partition is under Replicated", tpLabels, nil)
	cgLabels          = []string{"consumergroup", "topic", "partition"}
	descExpCGOffset   = prometheus.NewDesc("kafka_consumergroup_current_offset", "Current Offset of a ConsumerGroup at Topic/Partition", cgLabels, nil)
	descExpCGLag      = prometheus.NewDesc("kafka_consumergroup_lag", "Current Approximate Lag of a ConsumerGroup at Topic/Partition", cgLabels, nil)
	descExpCGOffSum   = prometheus.NewDesc("kafka_consumergroup_current_offset_sum", "Current Offset of a ConsumerGroup at Topic for all partitions", []string{"consumergroup", "topic"}, nil)
	descExpCGLagSum   = prometheus.NewDesc("kafka_consumergroup_lag_sum", "Current Approximate Lag of a ConsumerGroup at Topic for all partitions", []string{"consumergroup", "topic"}, nil)
	descExpCGMembers  = prometheus.NewDesc("kafka_consumergroup_members", "Amount of members in a consumer group", []string{"consumergroup"}, nil)
	descBurrowGroup   = prometheus.NewDesc("spool_consumergroup_status",
		"Burrow's evaluation of the group: 1 OK, 2 WARN, 3 ERR (a partition stopped, stalled or rewound).", []string{"consumergroup"}, nil)
	descBurrowPart = prometheus.NewDesc("spool_consumergroup_partition_status",
		"Burrow's evaluation of the group's partition: 1 OK, 2 WARN, 4 STOP, 5 STALL, 6 REWIND.", cgLabels, nil)
)

type exporterCollector struct {
	b   *Broker
	lag *metrics.LagHistory
}

func (c *exporterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descExpBrokers, descExpBrokerInfo, descExpPartitions, descExpCurrent, descExpOldest,
		descExpISR, descExpLeader, descExpPreferred, descExpReplicas, descExpURP, descExpCGOffset, descExpCGLag,
		descExpCGOffSum, descExpCGLagSum, descExpCGMembers, descBurrowGroup, descBurrowPart} {
		ch <- d
	}
}

func (c *exporterCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.b
	img := b.image.Load()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
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
		gauge(descExpBrokers, float64(len(brokers)))
		for _, br := range brokers {
			addr := ""
			if len(br.Endpoints) > 0 {
				addr = net.JoinHostPort(br.Endpoints[0].Host, strconv.Itoa(int(br.Endpoints[0].Port)))
			}
			gauge(descExpBrokerInfo, 1, addr, strconv.Itoa(int(br.ID)))
		}
		for _, t := range topics {
			gauge(descExpPartitions, float64(len(t.Partitions)), t.Name)
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
			gauge(descExpCurrent, float64(l.HighWatermark()), t.Name, part)
			gauge(descExpOldest, float64(l.LogStartOffset()), t.Name, part)
			gauge(descExpISR, float64(len(pi.ISR)), t.Name, part)
			gauge(descExpLeader, float64(pi.Leader), t.Name, part)
			gauge(descExpPreferred, bool01(len(pi.Replicas) > 0 && pi.Replicas[0] == pi.Leader), t.Name, part)
			gauge(descExpReplicas, float64(len(pi.Replicas)), t.Name, part)
			gauge(descExpURP, bool01(len(pi.ISR) < len(pi.Replicas)), t.Name, part)
		}
	}
	if b.groupHandlers == nil || b.groupHandlers.coord == nil {
		return
	}
	groups, offsets := b.groupHandlers.coord.Snapshot()
	for _, g := range groups {
		gauge(descExpCGMembers, float64(g.Members), g.Group)
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
		gauge(descExpCGOffset, float64(o.Offset), o.Group, o.Topic, part)
		offSum[k] += float64(o.Offset)
		p := b.partition(o.Topic, o.Partition)
		if p == nil {
			continue
		}
		hw := p.Log().HighWatermark()
		lag := hw - o.Offset
		gauge(descExpCGLag, float64(lag), o.Group, o.Topic, part)
		lagSum[k] += float64(lag)
		hasLag[k] = true
		st := c.lag.Observe(metrics.LagKey{Group: o.Group, Topic: o.Topic, Partition: o.Partition}, o.Offset,
			time.UnixMilli(o.CommitTimestamp), max(lag, 0), hw, now)
		statuses[o.Group] = append(statuses[o.Group], st)
		gauge(descBurrowPart, float64(st), o.Group, o.Topic, part)
	}
	c.lag.End()
	for k, v := range offSum {
		gauge(descExpCGOffSum, v, k.group, k.topic)
		if hasLag[k] {
			gauge(descExpCGLagSum, lagSum[k], k.group, k.topic)
		}
	}
	for g, st := range statuses {
		gauge(descBurrowGroup, float64(metrics.EvaluateGroup(st)), g)
	}
}
