package node

import (
	"context"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/audit"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/storage"
)

// BrokerDeps is what the node builds for the broker role and hands to
// NewBrokerFunc.
type BrokerDeps struct {
	Config *config.Broker
	// Controller is this node's member of the metadata quorum: the image
	// it reads and the controller it writes metadata through.
	Controller controller.Client
	// LogManager holds the node's partition logs.
	LogManager *storage.Manager
	Registerer prometheus.Registerer // may be nil
	Logger     *zap.Logger
	// Audit is the node's security audit log (nil: none); the node
	// closes it after the broker.
	Audit *audit.Logger
}

// Broker is the client-facing broker role: the Kafka API over the hosted
// partitions (internal/server implements it). The node drives its life:
//
//	Listen → (registration, catch-up) → Start → (unfenced) → Serve →
//	... → Shutdown → Close
type Broker interface {
	// Listen binds the client listeners; connections wait in the backlog
	// until Serve.
	Listen() error
	// Addrs are the bound client listener addresses, in listeners order.
	Addrs() []net.Addr
	// Endpoints are the advertised endpoints to register, with the ports
	// of listeners bound to port 0 filled in.
	Endpoints() []controller.Endpoint
	// Start applies img, which holds this broker's registration, and
	// follows metadata from then on.
	Start(img *controller.MetadataImage)
	// Serve applies img if it is newer than what the broker has, then
	// accepts client connections.
	Serve(img *controller.MetadataImage)
	// Shutdown stops taking requests and finishes those in flight until
	// ctx ends.
	Shutdown(ctx context.Context)
	// Close stops the broker's goroutines and coordinators.
	Close()
}

// NewBrokerFunc builds the broker role; cmd/spool passes
// server.NewNodeBroker.
type NewBrokerFunc func(BrokerDeps) (Broker, error)
