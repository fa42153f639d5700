package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/storage"
)

// Broker owns the partitions this node hosts and answers client requests
// about them. Topic metadata comes from the controller's MetadataImage; the
// broker follows every new image (reconcile) to create and delete the
// partition logs it hosts.
type Broker struct {
	nodeID int32
	cfg    *config.Broker
	log    *zap.Logger
	ctrl   controller.Client
	logs   *storage.Manager

	handlers map[int16]apiHandler
	metrics  *serverMetrics

	// image is the newest MetadataImage the broker has reconciled.
	image atomic.Pointer[controller.MetadataImage]
	// imageMu/imageCond let a handler wait until an image at least as new
	// as a controller write it made has been reconciled.
	imageMu   sync.Mutex
	imageCond *sync.Cond
	// reconcileMu serializes reconcile.
	reconcileMu sync.Mutex

	// partitions hosted here, by topic-partition. Guarded by partMu; a
	// *Partition is safe for concurrent use once published.
	partMu     sync.RWMutex
	partitions map[storage.TopicPartition]*Partition

	fetchSessions *fetchSessionCache
	// txn is the transaction coordinator's glue (txn.go).
	txn *txnGlue
	// groupCoord is the group coordinator (groups.go); the transaction
	// glue hands it transactional offsets and their markers.
	groupCoord *group.Coordinator
	// leadershipHooks are called by reconcile (see OnLeadership).
	leadershipHooks []LeadershipHook

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// partition returns the hosted partition, or nil.
func (b *Broker) partition(topic string, p int32) *Partition {
	b.partMu.RLock()
	defer b.partMu.RUnlock()
	return b.partitions[storage.TopicPartition{Topic: topic, Partition: p}]
}

// waitForImage blocks until the reconciled image has reached offset.
func (b *Broker) waitForImage(ctx context.Context, offset uint64) error {
	stop := context.AfterFunc(ctx, func() {
		b.imageMu.Lock()
		b.imageCond.Broadcast()
		b.imageMu.Unlock()
	})
	defer stop()
	b.imageMu.Lock()
	defer b.imageMu.Unlock()
	for b.image.Load().Offset() < offset {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for metadata offset %d: %w", offset, err)
		}
		b.imageCond.Wait()
	}
	return nil
}
