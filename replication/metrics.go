package replication

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spool-broker/spool/metrics"
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
	famPartitionCount = metrics.NewFamily("kafka_server_replicamanager_partitioncount",
		"Partitions hosted by this broker (ReplicaManager PartitionCount).", prometheus.GaugeValue)
	famLeaderCount = metrics.NewFamily("kafka_server_replicamanager_leadercount",
		"Partitions this broker leads (ReplicaManager LeaderCount).", prometheus.GaugeValue)
	famURP = metrics.NewFamily("kafka_server_replicamanager_underreplicatedpartitions",
		"Led partitions whose ISR is smaller than the replica set (ReplicaManager UnderReplicatedPartitions).", prometheus.GaugeValue)
	famUnderMinISR = metrics.NewFamily("kafka_server_replicamanager_underminisrpartitioncount",
		"Led partitions whose ISR is smaller than min.insync.replicas (ReplicaManager UnderMinIsrPartitionCount).", prometheus.GaugeValue)
	famAtMinISR = metrics.NewFamily("kafka_server_replicamanager_atminisrpartitioncount",
		"Led partitions whose ISR is exactly min.insync.replicas (ReplicaManager AtMinIsrPartitionCount).", prometheus.GaugeValue)
	famOffline = metrics.NewFamily("kafka_server_replicamanager_offlinereplicacount",
		"Hosted replicas on a failed log dir (ReplicaManager OfflineReplicaCount): they answer KAFKA_STORAGE_ERROR until the broker restarts.", prometheus.GaugeValue)
	famShrinks = metrics.NewFamily("kafka_server_replicamanager_isrshrinks_total",
		"ISR shrinks committed by this broker as leader (ReplicaManager IsrShrinksPerSec).", prometheus.CounterValue)
	famExpands = metrics.NewFamily("kafka_server_replicamanager_isrexpands_total",
		"ISR expansions committed by this broker as leader (ReplicaManager IsrExpandsPerSec).", prometheus.CounterValue)
	famPartitionURP = metrics.NewFamily("kafka_cluster_partition_underreplicated",
		"1 when this broker leads the partition and its ISR is smaller than the replica set (kafka.cluster:type=Partition,name=UnderReplicated).",
		prometheus.GaugeValue, "topic", "partition")
	famFetcherLag = metrics.NewFamily("kafka_server_fetcherlagmetrics_consumerlag",
		"Leader's high watermark minus this follower's log end offset after its last fetch (FetcherLagMetrics ConsumerLag).",
		prometheus.GaugeValue, "clientId", "topic", "partition")
	managerFamilies = []*metrics.Family{famPartitionCount, famLeaderCount, famURP, famUnderMinISR, famAtMinISR,
		famOffline, famShrinks, famExpands, famPartitionURP, famFetcherLag}
)

// Register adds the manager's metrics to reg (nil: none).
func (m *Manager) Register(reg prometheus.Registerer) {
	if reg != nil {
		metrics.MustRegister(reg, managerCollector{m})
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

func (c managerCollector) Families() []*metrics.Family { return managerFamilies }

func (c managerCollector) Visit(e metrics.Emitter) {
	parts := c.m.Partitions()
	self := c.m.env.nodeID
	var leaders, urp, underMin, atMin int
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
		partition := strconv.Itoa(int(p.tp.Partition))
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
			e.Emit(famFetcherLag, float64(p.fetcherLag.Load()), "ReplicaFetcherThread-0-"+strconv.Itoa(int(leader)), p.tp.Topic, partition)
		}
		e.Emit(famPartitionURP, under, p.tp.Topic, partition)
	}
	offline := 0
	if c.m.logManager != nil {
		offline = len(c.m.logManager.OfflineLogs())
	}
	e.Emit(famPartitionCount, float64(len(parts)+offline)) // Kafka counts offline partitions too
	e.Emit(famLeaderCount, float64(leaders))
	e.Emit(famURP, float64(urp))
	e.Emit(famUnderMinISR, float64(underMin))
	e.Emit(famAtMinISR, float64(atMin))
	e.Emit(famOffline, float64(offline))
	e.Emit(famShrinks, float64(c.m.env.isrShrinks.Load()))
	e.Emit(famExpands, float64(c.m.env.isrExpands.Load()))
}
