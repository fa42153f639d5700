package replication

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Replica manager metrics under the names the JMX exporter with Strimzi's
// rules gives Kafka's beans (docs/metrics.md):
//
//	kafka.server:type=ReplicaManager,name=PartitionCount          → kafka_server_replicamanager_partitioncount
//	kafka.server:type=ReplicaManager,name=LeaderCount             → kafka_server_replicamanager_leadercount
//	kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions → kafka_server_replicamanager_underreplicatedpartitions
//	kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount → kafka_server_replicamanager_underminisrpartitioncount
//	kafka.server:type=ReplicaManager,name=AtMinIsrPartitionCount  → kafka_server_replicamanager_atminisrpartitioncount
//	kafka.server:type=ReplicaManager,name=OfflineReplicaCount     → kafka_server_replicamanager_offlinereplicacount
//	kafka.server:type=ReplicaManager,name=IsrShrinksPerSec        → kafka_server_replicamanager_isrshrinks_total
//	kafka.server:type=ReplicaManager,name=IsrExpandsPerSec        → kafka_server_replicamanager_isrexpands_total
//	kafka.cluster:type=Partition,name=UnderReplicated,topic,partition → kafka_cluster_partition_underreplicated
//	kafka.server:type=FetcherLagMetrics,name=ConsumerLag,clientId,topic,partition → kafka_server_fetcherlagmetrics_consumerlag
//
// Everything is computed at scrape from the partitions' state (one read
// lock per partition), so nothing is kept up to date on the data path.
var (
	descPartitionCount = prometheus.NewDesc("kafka_server_replicamanager_partitioncount",
		"Partitions hosted by this broker (ReplicaManager PartitionCount).", nil, nil)
	descLeaderCount = prometheus.NewDesc("kafka_server_replicamanager_leadercount",
		"Partitions this broker leads (ReplicaManager LeaderCount).", nil, nil)
	descURP = prometheus.NewDesc("kafka_server_replicamanager_underreplicatedpartitions",
		"Led partitions whose ISR is smaller than the replica set (ReplicaManager UnderReplicatedPartitions).", nil, nil)
	descUnderMinISR = prometheus.NewDesc("kafka_server_replicamanager_underminisrpartitioncount",
		"Led partitions whose ISR is smaller than min.insync.replicas (ReplicaManager UnderMinIsrPartitionCount).", nil, nil)
	descAtMinISR = prometheus.NewDesc("kafka_server_replicamanager_atminisrpartitioncount",
		"Led partitions whose ISR is exactly min.insync.replicas (ReplicaManager AtMinIsrPartitionCount).", nil, nil)
	descOffline = prometheus.NewDesc("kafka_server_replicamanager_offlinereplicacount",
		"Hosted replicas on a failed log dir (ReplicaManager OfflineReplicaCount); Spool stops on a log dir failure, so 0.", nil, nil)
	descShrinks = prometheus.NewDesc("kafka_server_replicamanager_isrshrinks_total",
		"ISR shrinks committed by this broker as leader (ReplicaManager IsrShrinksPerSec).", nil, nil)
	descExpands = prometheus.NewDesc("kafka_server_replicamanager_isrexpands_total",
		"ISR expansions committed by this broker as leader (ReplicaManager IsrExpandsPerSec).", nil, nil)
	descPartitionURP = prometheus.NewDesc("kafka_cluster_partition_underreplicated",
		"1 when this broker leads the partition and its ISR is smaller than the replica set (kafka.cluster:type=Partition,name=UnderReplicated).",
		[]string{"topic", "partition"}, nil)
	descFetcherLag = prometheus.NewDesc("kafka_server_fetcherlagmetrics_consumerlag",
		"Leader's high watermark minus this follower's log end offset after its last fetch (FetcherLagMetrics ConsumerLag).",
		[]string{"clientId", "topic", "partition"}, nil)
)

// Register adds the manager's metrics to reg (nil: none).
func (m *Manager) Register(reg prometheus.Registerer) {
	if reg != nil {
		reg.MustRegister(managerCollector{m})
	}
}

func (e *env) countISRChange(expand bool) {
	if expand {
		e.isrExpands.Add(1)
	} else {
		e.isrShrinks.Add(1)
	}
}

type managerCollector struct{ m *Manager }

func (c managerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartitionCount, descLeaderCount, descURP, descUnderMinISR, descAtMinISR,
		descOffline, descShrinks, descExpands, descPartitionURP, descFetcherLag} {
		ch <- d
	}
}

func (c managerCollector) Collect(ch chan<- prometheus.Metric) {
	parts := c.m.Partitions()
	self := c.m.env.nodeID
	var leaders, urp, underMin, atMin int
	var buf []byte
	for _, p := range parts {
		p.mu.RLock()
		removed, leader, nReplicas, nISR := p.removed, p.leader, len(p.replicas), len(p.isr.isr)
		minISR := 0
		if leader == self && !removed {
			minISR = p.effectiveMinISRLocked()
		}
		p.mu.RUnlock()
		if removed {
			continue
		}
		buf = strconv.AppendInt(buf[:0], int64(p.tp.Partition), 10)
		partition := string(buf)
		under := 0.0
		switch {
		case leader == self:
			leaders++
			if nISR < nReplicas {
				urp++
				under = 1
			}
			if nISR < minISR {
				underMin++
			} else if nISR == minISR {
				atMin++
			}
		case leader >= 0:
			// Kafka's clientId is the fetcher thread's name:
			// ReplicaFetcherThread-<fetcherId>-<leaderId>.
			ch <- prometheus.MustNewConstMetric(descFetcherLag, prometheus.GaugeValue, float64(p.fetcherLag.Load()),
				"ReplicaFetcherThread-0-"+strconv.Itoa(int(leader)), p.tp.Topic, partition)
		}
		ch <- prometheus.MustNewConstMetric(descPartitionURP, prometheus.GaugeValue, under, p.tp.Topic, partition)
	}
	ch <- prometheus.MustNewConstMetric(descPartitionCount, prometheus.GaugeValue, float64(len(parts)))
	ch <- prometheus.MustNewConstMetric(descLeaderCount, prometheus.GaugeValue, float64(leaders))
	ch <- prometheus.MustNewConstMetric(descURP, prometheus.GaugeValue, float64(urp))
	ch <- prometheus.MustNewConstMetric(descUnderMinISR, prometheus.GaugeValue, float64(underMin))
	ch <- prometheus.MustNewConstMetric(descAtMinISR, prometheus.GaugeValue, float64(atMin))
	ch <- prometheus.MustNewConstMetric(descOffline, prometheus.GaugeValue, 0)
	ch <- prometheus.MustNewConstMetric(descShrinks, prometheus.CounterValue, float64(c.m.env.isrShrinks.Load()))
	ch <- prometheus.MustNewConstMetric(descExpands, prometheus.CounterValue, float64(c.m.env.isrExpands.Load()))
}
