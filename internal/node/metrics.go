package node

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Kafka's BrokerState values (org.apache.kafka.metadata.BrokerState).
const (
	brokerStateStarting      = 1
	brokerStateRunning       = 3
	brokerStateShuttingDown  = 7
	brokerStatePendingCtrlSD = 6
)

// registerBrokerState exports kafka.server:type=KafkaServer,name=BrokerState
// as Strimzi's rules name it: STARTING (1) until the broker serves (it
// has registered, caught up and been unfenced), RUNNING (3) while it
// serves, PENDING_CONTROLLED_SHUTDOWN (6) while the controller moves its
// leaderships away, SHUTTING_DOWN (7) after.
func (n *Node) registerBrokerState(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kafka_server_kafkaserver_brokerstate",
		Help: "The broker's state (kafka.server:type=KafkaServer,name=BrokerState): 1 starting, 3 running, 6 pending controlled shutdown, 7 shutting down.",
	}, func() float64 {
		if s := n.stopState.Load(); s != 0 {
			return float64(s)
		}
		if n.isReady() {
			return brokerStateRunning
		}
		return brokerStateStarting
	}))
}
