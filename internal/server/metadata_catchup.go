package server

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
)

// Metadata catch-up for requests naming topics this broker does not know.
//
// Kafka's CreateTopics answers once the controller has committed the new
// topic's records; each broker applies them when its metadata fetch brings
// them, so for a moment after CreateTopics returns a broker that has not
// applied them answers Metadata and Produce for the topic with
// UNKNOWN_TOPIC_OR_PARTITION (KAFKA-15780: Kafka's own tests wait for every
// broker's metadata cache; franz-go's tests do the same). Clients that
// take that answer as final (kafka-go's Writer looks up partitions once)
// then fail. Spool closes the window: before a broker answers that a named
// topic is unknown, it asks the active controller how far the metadata log
// is committed and waits, bounded, until it has applied that far (and
// reconciled it). A topic whose creation was acknowledged to anyone before
// the request arrived is therefore known when it is answered.

// catchUpTimeout bounds the wait before answering that a topic is unknown;
// when the controller cannot be reached the answer is the image's.
const catchUpTimeout = time.Second

// metadataCatchUp runs at most one catch-up at a time. A request may only
// rely on a catch-up that began after it arrived (the committed offset must
// be read after the request's topic could have been acknowledged), so a
// request arriving while one runs joins the next, which starts when the
// current one ends: one running and one queued at most, however many
// requests wait.
type metadataCatchUp struct {
	mu      sync.Mutex
	running bool
	next    *catchUpRound // started when the running round ends
}

type catchUpRound struct{ done chan struct{} }

// catchUpper is the controller client's catch-up (controller.Router).
type catchUpper interface {
	CatchUp(ctx context.Context) error
}

// catchUpMetadata waits until this broker's image includes everything the metadata
// log had committed when the call began, or ctx (bounded to catchUpTimeout)
// ends. Without a controller that can tell (a test's local client) it
// returns at once.
func (b *Broker) catchUpMetadata(ctx context.Context) {
	cu, ok := b.ctrl.(catchUpper)
	if !ok {
		return
	}
	m := &b.metaCatchUp
	m.mu.Lock()
	var r *catchUpRound
	if !m.running {
		m.running = true
		r = &catchUpRound{done: make(chan struct{})}
		go b.runCatchUp(cu, r)
	} else {
		if m.next == nil {
			m.next = &catchUpRound{done: make(chan struct{})}
		}
		r = m.next
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

// runCatchUp runs round r, then the round queued meanwhile, if any.
func (b *Broker) runCatchUp(cu catchUpper, r *catchUpRound) {
	m := &b.metaCatchUp
	for r != nil {
		ctx, cancel := context.WithTimeout(b.ctx, catchUpTimeout)
		if err := cu.CatchUp(ctx); err != nil {
			b.logger.Debug("metadata catch-up failed; answering from the current image", zap.Error(err))
		} else {
			b.reconcile(b.ctrl.Image())
		}
		cancel()
		close(r.done)
		m.mu.Lock()
		r, m.next = m.next, nil
		if r == nil {
			m.running = false
		}
		m.mu.Unlock()
	}
}

// imageKnowing returns the broker's image, caught up first when it lacks
// one of topics (names; nil entries skipped).
func (b *Broker) imageKnowing(ctx context.Context, topics []string) *controller.MetadataImage {
	img := b.image.Load()
	for _, t := range topics {
		if img.Topic(t) == nil {
			b.catchUpMetadata(ctx)
			return b.image.Load()
		}
	}
	return img
}

// metadataRequestTopics are the names a Metadata request asks for (none
// when it asks for all topics or only by ID).
func metadataRequestTopics(req *protocol.MetadataRequest) []string {
	var out []string
	for _, t := range req.Topics {
		if t.Name != nil {
			out = append(out, string(*t.Name))
		}
	}
	return out
}

// catchUpForProduce catches up before a Produce names a topic (by name,
// or by ID from v13) this broker's image does not have.
func (b *Broker) catchUpForProduce(ctx context.Context, v int16, req *protocol.ProduceRequest) {
	img := b.image.Load()
	for _, td := range req.TopicData {
		known := false
		if v >= 13 {
			known = img.TopicByID(topicIDOf(td.TopicID)) != nil
		} else {
			known = img.Topic(string(td.Name)) != nil
		}
		if !known {
			b.catchUpMetadata(ctx)
			return
		}
	}
}
