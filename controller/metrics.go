package controller

import (
	"strings"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Controller metrics under the names the JMX exporter with Strimzi's
// rules gives Kafka's (docs/metrics.md): the kafka.controller:type=
// KafkaController gauges, computed from the metadata image at scrape, and
// KRaft's kafka.server:type=raft-metrics attributes from the raft state
// (Spool's metadata offset is the raft index; its epoch the raft term).
var (
	descActiveController = prometheus.NewDesc("kafka_controller_kafkacontroller_activecontrollercount",
		"1 on the active controller, 0 elsewhere (KafkaController ActiveControllerCount).", nil, nil)
	descGlobalTopics = prometheus.NewDesc("kafka_controller_kafkacontroller_globaltopiccount",
		"Topics in the cluster (KafkaController GlobalTopicCount).", nil, nil)
	descGlobalPartitions = prometheus.NewDesc("kafka_controller_kafkacontroller_globalpartitioncount",
		"Partitions in the cluster (KafkaController GlobalPartitionCount).", nil, nil)
	descOfflinePartitions = prometheus.NewDesc("kafka_controller_kafkacontroller_offlinepartitionscount",
		"Partitions without a leader (KafkaController OfflinePartitionsCount).", nil, nil)
	descImbalance = prometheus.NewDesc("kafka_controller_kafkacontroller_preferredreplicaimbalancecount",
		"Partitions whose leader is not their first replica (KafkaController PreferredReplicaImbalanceCount).", nil, nil)
	descActiveBrokers = prometheus.NewDesc("kafka_controller_kafkacontroller_activebrokercount",
		"Registered unfenced brokers (KafkaController ActiveBrokerCount).", nil, nil)
	descFencedBrokers = prometheus.NewDesc("kafka_controller_kafkacontroller_fencedbrokercount",
		"Registered fenced brokers (KafkaController FencedBrokerCount).", nil, nil)
	descLastApplied = prometheus.NewDesc("kafka_controller_kafkacontroller_lastappliedrecordoffset",
		"Offset of the last metadata record applied (KafkaController LastAppliedRecordOffset).", nil, nil)
	descLastCommitted = prometheus.NewDesc("kafka_controller_kafkacontroller_lastcommittedrecordoffset",
		"Offset of the last committed metadata record (KafkaController LastCommittedRecordOffset).", nil, nil)

	descUncleanElections = prometheus.NewDesc("kafka_controller_controllerstats_uncleanleaderelections_total",
		"Leaders elected from outside the ISR and ELR (unclean elections, and last-known-leader recoveries), counted as this controller replays the metadata log (ControllerStats UncleanLeaderElectionsPerSec).", nil, nil)
	descELRElections = prometheus.NewDesc("kafka_controller_controllerstats_electionfromeligibleleaderreplicas_total",
		"Leaders elected from the Eligible Leader Replicas (KIP-966), counted as this controller replays the metadata log (ControllerStats ElectionFromEligibleLeaderReplicasPerSec).", nil, nil)

	descRaftState = prometheus.NewDesc("kafka_server_raftmetrics_current_state",
		"1 for the quorum member's current state (raft-metrics current-state).", []string{"current_state"}, nil)
	descRaftLeader = prometheus.NewDesc("kafka_server_raftmetrics_current_leader",
		"The current quorum leader's id, -1 if unknown (raft-metrics current-leader).", nil, nil)
	descRaftEpoch = prometheus.NewDesc("kafka_server_raftmetrics_current_epoch",
		"The current quorum epoch (raft-metrics current-epoch).", nil, nil)
	descRaftHW = prometheus.NewDesc("kafka_server_raftmetrics_high_watermark",
		"The metadata log's high watermark (raft-metrics high-watermark).", nil, nil)
	descRaftLEO = prometheus.NewDesc("kafka_server_raftmetrics_log_end_offset",
		"The metadata log's end offset (raft-metrics log-end-offset).", nil, nil)
	descRaftCommitAvg = prometheus.NewDesc("kafka_server_raftmetrics_commit_latency_avg",
		"Average ms from proposing a metadata batch to its commit, on the leader, over the last 30-60 s; NaN when none (raft-metrics commit-latency-avg).", nil, nil)
	descRaftCommitMax = prometheus.NewDesc("kafka_server_raftmetrics_commit_latency_max",
		"Maximum ms from proposing a metadata batch to its commit, on the leader, over the last 30-60 s; NaN when none (raft-metrics commit-latency-max).", nil, nil)
	descRaftAppendRate = prometheus.NewDesc("kafka_server_raftmetrics_append_records_rate",
		"Metadata records appended per second by this node as leader, over the last 30-60 s (raft-metrics append-records-rate).", nil, nil)
)

// Register adds the controller's metrics to reg (nil: none).
func (c *Controller) Register(reg prometheus.Registerer) {
	if reg != nil {
		reg.MustRegister(controllerCollector{c})
	}
}

type controllerCollector struct{ c *Controller }

func (cc controllerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActiveController, descGlobalTopics, descGlobalPartitions, descOfflinePartitions,
		descImbalance, descActiveBrokers, descFencedBrokers, descLastApplied, descLastCommitted,
		descUncleanElections, descELRElections, descRaftState, descRaftLeader, descRaftEpoch, descRaftHW, descRaftLEO,
		descRaftCommitAvg, descRaftCommitMax, descRaftAppendRate} {
		ch <- d
	}
}

// ImageCounts are the cluster-wide counts the KafkaController gauges
// report.
type ImageCounts struct {
	Topics, Partitions, Offline, Imbalanced, ActiveBrokers, FencedBrokers int
}

// Counts walks the image once.
func (m *MetadataImage) Counts() ImageCounts {
	var n ImageCounts
	for _, t := range m.topics {
		n.Topics++
		for _, p := range t.Partitions {
			n.Partitions++
			if p.Leader < 0 {
				n.Offline++
			} else if len(p.Replicas) > 0 && p.Leader != p.Replicas[0] {
				n.Imbalanced++
			}
		}
	}
	for _, b := range m.brokers {
		if b.Fenced {
			n.FencedBrokers++
		} else {
			n.ActiveBrokers++
		}
	}
	return n
}

func (cc controllerCollector) Collect(ch chan<- prometheus.Metric) {
	c := cc.c
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	active := 0.0
	if c.IsActive() {
		active = 1
	}
	img := c.Image()
	n := img.Counts()
	gauge(descActiveController, active)
	gauge(descGlobalTopics, float64(n.Topics))
	gauge(descGlobalPartitions, float64(n.Partitions))
	gauge(descOfflinePartitions, float64(n.Offline))
	gauge(descImbalance, float64(n.Imbalanced))
	gauge(descActiveBrokers, float64(n.ActiveBrokers))
	gauge(descFencedBrokers, float64(n.FencedBrokers))
	gauge(descLastApplied, float64(img.Offset()))
	gauge(descLastCommitted, float64(c.raft.CommitIndex()))
	ch <- prometheus.MustNewConstMetric(descUncleanElections, prometheus.CounterValue, float64(c.fsm.uncleanElections.Load()))
	ch <- prometheus.MustNewConstMetric(descELRElections, prometheus.CounterValue, float64(c.fsm.elrElections.Load()))

	state := c.raft.State()
	name := strings.ToLower(state.String())
	if state == raft.Shutdown {
		name = "resigned"
	}
	gauge(descRaftState, 1, name)
	leader, ok := c.LeaderID()
	if !ok {
		leader = -1
	}
	gauge(descRaftLeader, float64(leader))
	gauge(descRaftEpoch, float64(c.raft.CurrentTerm()))
	gauge(descRaftHW, float64(c.raft.CommitIndex()))
	gauge(descRaftLEO, float64(c.raft.LastIndex()))
	avg, mx, rate := c.stats.read()
	gauge(descRaftCommitAvg, avg)
	gauge(descRaftCommitMax, mx)
	gauge(descRaftAppendRate, rate)
}
