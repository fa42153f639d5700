package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/internal/seclink"
	"github.com/spool-broker/spool/internal/telemetry"
	"github.com/spool-broker/spool/metrics"
	"github.com/spool-broker/spool/quota"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// nodeBroker is the broker role internal/node runs: the Broker and the
// Server in front of it.
type nodeBroker struct {
	b        *Broker
	s        *Server
	shutdown bool
}

// NewNodeBroker builds the broker role of a node (node.NewBrokerFunc).
func NewNodeBroker(d node.BrokerDeps) (node.Broker, error) {
	cfg := d.Config
	b := newBroker(cfg, d.Controller, d.LogManager, d.Logger.Named("broker"))
	ib, err := seclink.NewDialer(cfg, cfg.InterBrokerListenerName, cfg.SASLInterBrokerMechanism, fmt.Sprintf("broker-%d", cfg.NodeID))
	if err != nil {
		return nil, fmt.Errorf("inter-broker listener %s: %w", cfg.InterBrokerListenerName, err)
	}
	b.interBroker = ib
	b.audit = d.Audit // the node's, shared with the controller listener
	s := NewServer(b, ServerConfig{
		MaxRequestSize:  cfg.SocketRequestMaxBytes,
		GlobalInflight:  int(cfg.QueuedMaxRequests),
		IdleTimeout:     time.Duration(cfg.ConnectionsMaxIdleMs) * time.Millisecond,
		PerConnInflight: 16,
	}, d.Registerer, d.Logger.Named("server"))
	b.metrics = s.metrics
	b.replicas.Register(d.Registerer)
	// kafka-exporter's series (exporter_metrics.go)
	metrics.MustRegister(d.Registerer, &exporterCollector{b: b, lag: metrics.NewLagHistory()})
	if d.Registerer != nil { // pushed client metrics (api_72_push_telemetry.go): an unchecked collector
		if err := d.Registerer.Register(b.telemetry); err != nil {
			return nil, fmt.Errorf("registering client telemetry metrics: %w", err)
		}
	}
	b.onBrokerConfig = s.reloadKeystores
	return &nodeBroker{b: b, s: s}, nil
}

func (nb *nodeBroker) Listen() error { return nb.s.Listen(nb.listeners()) }

func (nb *nodeBroker) Addrs() []net.Addr { return nb.s.Addrs() }

func (nb *nodeBroker) Endpoints() []controller.Endpoint {
	return nb.b.endpoints(nb.s.Addrs(), nb.listeners())
}

func (nb *nodeBroker) Start(img *controller.MetadataImage) {
	nb.b.reconcile(img)
	nb.b.start()
}

func (nb *nodeBroker) Serve(img *controller.MetadataImage) {
	nb.b.reconcile(img) // no-op unless img is newer than what the follower applied
	nb.s.Serve()
}

func (nb *nodeBroker) Shutdown(ctx context.Context) {
	nb.shutdown = true
	nb.s.Shutdown(ctx)
}

func (nb *nodeBroker) Close() {
	if !nb.shutdown { // start-up failed: release the listeners
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		nb.Shutdown(ctx)
	}
	nb.b.stop()
}

// listeners are the client listeners: every listener but the controller's.
func (nb *nodeBroker) listeners() []Listener {
	cfg := nb.b.cfg
	var out []Listener
	for _, l := range cfg.Listeners {
		if slices.Contains(cfg.ControllerListenerNames, l.Name) {
			continue
		}
		out = append(out, Listener{Name: l.Name, Addr: l.Addr()})
	}
	return out
}

func newBroker(cfg *config.Broker, ctrl controller.Client, logs *storage.Manager, log *zap.Logger) *Broker {
	b := &Broker{
		nodeID:        cfg.NodeID,
		cfg:           cfg,
		logger:        log,
		ctrl:          ctrl,
		logManager:    logs,
		fetchSessions: newFetchSessionCache(1000),
		openFailed:    map[storage.TopicPartition]bool{},
		topicMetrics:  metrics.NewBrokerTopicMetrics(nil), // registered by NewServer
		telemetry: telemetry.NewManager(telemetry.Config{
			MaxBytes:           cfg.TelemetryMaxBytes,
			MaxClients:         int(cfg.ClientTelemetryMaxClients),
			MaxSeriesPerClient: int(cfg.ClientTelemetryMaxSeries),
		}),
	}
	// Until Start applies the first caught-up image: offset 0, so that
	// image always replaces it.
	b.image.Store(controller.EmptyImage())
	rt := cfg.ReplicationThrottles(config.Dynamic{})
	window := time.Duration(rt.WindowSizeSeconds) * time.Second
	b.leaderThrottle = quota.NewReplicationQuota(rt.WindowNum, window, nil)
	b.followerThrottle = quota.NewReplicationQuota(rt.WindowNum, window, nil)
	b.leaderThrottle.SetBound(rt.LeaderRate)
	b.followerThrottle.SetBound(rt.FollowerRate)
	// Config validation refused an unknown class (config.checkReplicaSelector).
	b.replicaSelector, _ = replication.NewReplicaSelector(cfg.ReplicaSelectorClass)
	b.alterPartitions = newAlterPartitionBatcher(ctrl)
	b.replicas = replication.NewManager(replication.Config{
		NodeID:            cfg.NodeID,
		ReplicaLagTimeMax: time.Duration(cfg.ReplicaLagTimeMaxMs) * time.Millisecond,
		AlterPartition:    b.alterPartitions,
		Brokers:           b.brokerLookup,
		BrokerEpoch: func() int64 {
			st, _ := b.brokerLookup(b.nodeID)
			return st.Epoch
		},
		Endpoints: replication.TCPEndpoints(replication.TCPConfig{
			NodeID:  cfg.NodeID,
			Resolve: b.interBrokerAddr,
			Timeout: time.Duration(cfg.ReplicaSocketTimeoutMs) * time.Millisecond,
			Dial:    b.dialInterBroker,
		}),
		Fetcher:          replicaFetcherConfig(cfg),
		LeaderThrottle:   b.leaderThrottle,
		FollowerThrottle: b.followerThrottle,
		ReplicatedBytes: func(_ string, n int) {
			b.topicMetrics.Add("", metrics.TopicReplicationBytesIn, uint64(n))
		},
	}, logs, log.Named("replication"))
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.handlers = b.registerHandlers()
	b.followLeadershipGains()
	return b
}

// endpoints are the advertised endpoints of the client listeners ls, bound
// at bound. A listener bound to port 0 advertises the port it got.
func (b *Broker) endpoints(bound []net.Addr, ls []Listener) []controller.Endpoint {
	var eps []controller.Endpoint
	for _, al := range b.cfg.AdvertisedListeners {
		if slices.Contains(b.cfg.ControllerListenerNames, al.Name) {
			continue
		}
		port := al.Port
		for i, l := range ls {
			if l.Name == al.Name && port == 0 {
				if ta, ok := bound[i].(*net.TCPAddr); ok {
					port = ta.Port
				}
			}
		}
		host := al.Host
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		eps = append(eps, controller.Endpoint{Name: al.Name, Host: host, Port: uint16(port), SecurityProtocol: securityProtocolCode(al.SecurityProtocol)})
	}
	return eps
}

func securityProtocolCode(p string) int16 {
	switch strings.ToUpper(p) {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}

// start follows metadata changes until stop.
func (b *Broker) start() {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.alterPartitions.run(b.ctx)
	}()
	b.replicas.Start()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.runDirAssigner(b.ctx)
	}()
	ch, cancel := b.ctrl.Subscribe()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		for {
			select {
			case <-b.ctx.Done():
				return
			case img, ok := <-ch:
				if !ok {
					return
				}
				b.reconcile(img)
			}
		}
	}()
}

func (b *Broker) stop() {
	b.cancel()
	b.wg.Wait()
	b.replicas.Close()
}
