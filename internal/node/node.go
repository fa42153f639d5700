package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/storage"
)

// Node is a running Spool process: controller, storage and broker, started
// and stopped together (Kafka's combined mode).
type Node struct {
	log    *zap.Logger
	cfg    *config.Broker
	ctrl   *controller.Controller
	logs   *storage.Manager
	broker Broker
}

// metadataDirName holds the controller's raft log inside the first log dir.
// It doesn't look like <topic>-<partition>, so storage leaves it alone.
const metadataDirName = "__cluster_metadata"

// Start brings a node up and returns once it serves clients. newBroker
// builds the broker role (server.NewNodeBroker).
func Start(ctx context.Context, cfg *config.Broker, reg prometheus.Registerer, log *zap.Logger, newBroker NewBrokerFunc) (*Node, error) {
	began := time.Now()
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("log.dirs is empty: set log.dirs (or KAFKA_LOG_DIRS) to where data should live")
	}
	clusterID, err := ensureMetaProperties(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{log: log, cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			n.closeParts()
		}
	}()

	var voters []controller.Voter
	for _, v := range cfg.ControllerQuorumVoters {
		voters = append(voters, controller.Voter{ID: v.ID, Addr: net.JoinHostPort(v.Host, strconv.Itoa(v.Port))})
	}
	raftBind := ""
	for _, l := range cfg.Listeners {
		if slices.Contains(cfg.ControllerListenerNames, l.Name) {
			raftBind = l.Addr()
		}
	}
	metaDir := cfg.MetadataLogDir
	if metaDir == "" {
		metaDir = cfg.LogDirs[0]
	}
	n.ctrl, err = controller.Open(ctx, controller.Config{
		NodeID:                   cfg.NodeID,
		ClusterID:                clusterID,
		Dir:                      filepath.Join(metaDir, metadataDirName),
		RaftBind:                 raftBind,
		Voters:                   voters,
		Logger:                   log.Named("controller"),
		DefaultNumPartitions:     cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		BootstrapFeatures:        bootstrapFeatures,
		ValidateConfig:           validateResourceConfig,
	})
	if err != nil {
		return nil, fmt.Errorf("start controller: %w", err)
	}

	def, _ := cfg.LogConfigForTopic(nil, config.Dynamic{})
	n.logs, err = storage.NewManager(storage.ManagerConfig{
		Dirs:                    cfg.LogDirs,
		Default:                 def.StorageConfig(),
		RetentionCheckInterval:  time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond,
		ProducerIDExpiration:    time.Duration(cfg.ProducerIDExpirationMs) * time.Millisecond,
		CleanerEnable:           cfg.LogCleanerEnable,
		CleanerBackoff:          time.Duration(cfg.LogCleanerBackoffMs) * time.Millisecond,
		CleanerDedupeBufferSize: cfg.LogCleanerDedupeBufferSize,
	}, log.Named("storage"))
	if err != nil {
		return nil, fmt.Errorf("open log dirs: %w", err)
	}

	n.broker, err = newBroker(BrokerDeps{Config: cfg, Controller: n.ctrl, Logs: n.logs, Registerer: reg, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := n.broker.Listen(); err != nil {
		return nil, err
	}
	if err := n.register(ctx); err != nil {
		return nil, err
	}
	n.broker.Start(n.ctrl.Image())
	ok = true
	log.Info("spool is ready", zap.String("cluster_id", clusterID), zap.Int32("node_id", cfg.NodeID),
		zap.Duration("startup", time.Since(began)))
	return n, nil
}

// register announces this broker and its advertised endpoints to the
// controller.
func (n *Node) register(ctx context.Context) error {
	var inc [16]byte
	_, _ = rand.Read(inc[:])
	var rack *string
	if n.cfg.BrokerRack != "" {
		rack = &n.cfg.BrokerRack
	}
	if _, err := n.ctrl.RegisterBroker(ctx, controller.BrokerRegistration{
		ID: n.cfg.NodeID, IncarnationID: inc, Endpoints: n.broker.Endpoints(), Rack: rack,
	}); err != nil {
		return fmt.Errorf("register broker %d with the controller: %w", n.cfg.NodeID, err)
	}
	return nil
}

// Addrs are the client listeners' bound addresses.
func (n *Node) Addrs() []net.Addr { return n.broker.Addrs() }

// Broker is the broker role this node runs.
func (n *Node) Broker() Broker { return n.broker }

// Close shuts down in Kafka's order: stop taking requests and finish those
// in flight, stop the broker, flush and close the logs (writing the clean
// shutdown marker), then leave the quorum.
func (n *Node) Close(ctx context.Context) error {
	if n.broker != nil {
		n.broker.Shutdown(ctx)
	}
	return n.closeParts()
}

func (n *Node) closeParts() error {
	var errs []error
	if n.broker != nil {
		n.broker.Close()
	}
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
	}
	if n.ctrl != nil {
		errs = append(errs, n.ctrl.Close())
	}
	return errors.Join(errs...)
}

// bootstrapFeatures are the feature levels a new cluster finalizes. Only
// what this build implements is turned on: group.version 1 lets 4.x
// clients use KIP-848 consumer groups; transaction.version 2 lets them use
// KIP-890 transactions. A cluster bootstrapped before keeps the level its
// metadata log finalized.
var bootstrapFeatures = map[string]int16{
	controller.MetadataVersionFeature:    27,
	controller.GroupVersionFeature:       1,
	controller.TransactionVersionFeature: 2,
}

// validateResourceConfig is the controller's hook for AlterConfigs and
// CreateTopics: topic configs must be known and valid.
func validateResourceConfig(resourceType int8, name string, merged map[string]string) error {
	if resourceType == controller.ResourceTopic {
		return config.ValidateTopicConfigs(merged)
	}
	return config.ValidateBrokerDynamic(merged)
}
