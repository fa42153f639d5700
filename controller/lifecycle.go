package controller

//lint:file-ignore ST1005 the text after each sentinel is Kafka's error message, which clients receive verbatim (see ErrorCode): Kafka capitalizes it and ends it with a full stop.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Broker lifecycle on the active controller: registration, heartbeats,
// fencing and controlled shutdown, as Kafka's ClusterControlManager,
// BrokerHeartbeatManager and ReplicationControlManager do them.
//
//	register ──► FENCED ──(caught up, wantFence=false)──► UNFENCED
//	               ▲  │                                    │  │
//	               │  └──(wantShutDown)──► SHUTDOWN_NOW ◄───┘  │ (wantShutDown, leads
//	               │                          ▲                │  partitions)
//	     session   │                          │                ▼
//	     expired ──┘                          └── CONTROLLED_SHUTDOWN
//	                                   (no leaderships left and every active
//	                                    broker has seen the change)
//
// Sessions are in-memory state of the active controller only. A controller
// that becomes active gives every unfenced broker a fresh session, so
// brokers that kept heartbeating to the old controller are not fenced
// because of the failover.

// BrokerRegistration is a broker's request to join the cluster
// (BrokerRegistrationRequest).
type BrokerRegistration struct {
	ID int32
	// ClusterID must match the cluster's; "" skips the check.
	ClusterID     string
	IncarnationID [16]byte // random per process start
	Endpoints     []Endpoint
	Features      []FeatureRange
	Rack          *string
	// LogDirs are the directory.id of each of the broker's online log
	// dirs (KIP-858).
	LogDirs []DirectoryID
	// PreviousBrokerEpoch is the broker epoch the previous incarnation
	// wrote into its clean shutdown files (KIP-966), or -1 when it cannot
	// prove a clean shutdown: a file missing, unreadable or disagreeing
	// between dirs, or a dir offline. Broker epochs are metadata offsets,
	// never 0 or negative, so the zero value also means "unknown".
	PreviousBrokerEpoch int64
}

// BrokerHeartbeat is a BrokerHeartbeatRequest.
type BrokerHeartbeat struct {
	BrokerID    int32
	BrokerEpoch int64
	// CurrentMetadataOffset is the offset of the newest metadata the
	// broker has applied (MetadataImage.Offset).
	CurrentMetadataOffset int64
	WantFence             bool
	WantShutDown          bool
	// OfflineLogDirs are the broker's log dirs that failed (KIP-858); sent
	// with every heartbeat until the broker restarts.
	OfflineLogDirs []DirectoryID
	// CordonedLogDirs are the broker's cordoned dirs (KIP-1066; nil: not
	// reported).
	CordonedLogDirs []DirectoryID
}

// BrokerHeartbeatReply is a BrokerHeartbeatResponse.
type BrokerHeartbeatReply struct {
	// IsCaughtUp: the broker has applied its own registration record.
	IsCaughtUp           bool
	IsFenced             bool
	InControlledShutdown bool
	// ShouldShutDown: the controlled shutdown is complete; the broker may
	// exit.
	ShouldShutDown bool
}

// brokerState is BrokerControlState in Kafka.
type brokerState int8

const (
	stateFenced brokerState = iota
	stateUnfenced
	stateControlledShutdown
	stateShutdownNow
)

// session is what the active controller knows of one broker's liveness.
type session struct {
	lastContact time.Time
	// heartbeated: the broker has heartbeated to this controller since it
	// became active (as opposed to the grace session every broker gets at
	// activation).
	heartbeated bool
	// metadataOffset is the offset the broker last reported.
	metadataOffset int64
	// controlledShutdownOffset is the metadata offset of the records that
	// moved its leaderships away, or -1.
	controlledShutdownOffset int64
}

// sessions are the active controller's broker sessions. Guarded by
// Controller.opMu; nil while this node is not the active controller.
type sessions map[int32]*session

// activateLocked starts sessions for the image's brokers: every unfenced
// broker gets a fresh one. The caller holds opMu.
func (c *Controller) activateLocked() {
	now := c.now()
	c.sessions = sessions{}
	for _, b := range c.Image().brokers {
		c.sessions[b.ID] = &session{lastContact: now, metadataOffset: -1, controlledShutdownOffset: -1}
	}
}

func (c *Controller) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

// validSession reports whether broker id is unfenced with a session that
// has not expired (Kafka's hasValidSession).
func (c *Controller) validSessionLocked(img *MetadataImage, id int32) bool {
	b := img.brokers[id]
	s := c.sessions[id]
	return b != nil && !b.Fenced && s != nil && !c.now().After(s.lastContact.Add(c.cfg.SessionTimeout))
}

// RegisterBroker registers a broker, fenced, and returns its broker epoch:
// the metadata offset of its registration record, so "caught up with my
// registration" is "applied offset >= epoch". Re-registering the same
// incarnation keeps the epoch and state. A new incarnation is refused with
// ErrDuplicateBrokerRegistration while the previous one holds a session it
// renewed with this controller: two processes must not share a node.id.
// (Kafka refuses while the previous session is valid at all; the grace
// session a new controller gives every broker is not counted here, so a
// crashed single node restarts at once instead of after a session
// timeout.)
func (c *Controller) RegisterBroker(ctx context.Context, reg BrokerRegistration) (int64, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	if reg.ID < 0 {
		return 0, fmt.Errorf("%w: invalid broker id %d", ErrInvalidRequest, reg.ID)
	}
	img := c.Image()
	if reg.ClusterID != "" && reg.ClusterID != img.clusterID {
		return 0, fmt.Errorf("%w: Expected cluster ID %s, but got cluster ID %s", ErrInconsistentClusterID, img.clusterID, reg.ClusterID)
	}
	rec := &RegisterBrokerRecord{
		BrokerID: reg.ID, IncarnationID: reg.IncarnationID, BrokerEpoch: -1,
		Endpoints: slices.Clone(reg.Endpoints), Features: slices.Clone(reg.Features), Rack: reg.Rack, Fenced: true,
		LogDirs: slices.Clone(reg.LogDirs),
	}
	var records, after []Record // before and after rec
	clean := false
	old := img.brokers[reg.ID]
	switch {
	case old != nil && old.IncarnationID == reg.IncarnationID:
		rec.BrokerEpoch, rec.Fenced, rec.InControlledShutdown = old.Epoch, old.Fenced, old.InControlledShutdown
		rec.CordonedLogDirs = old.CordonedLogDirs
		if rec.LogDirs == nil && old.LogDirs != nil {
			rec.LogDirs = []DirectoryID{} // still none online, not "none registered"
		}
		// A log dir that went offline and is online again (Spool: a full
		// dir once space returns, storage/dirrecovery.go) comes back by
		// the broker amending its registration with its online dirs. Its
		// replicas there may rejoin ISRs from now on, and it leads again
		// where a partition there lost its leader.
		if returned := returnedDirs(old, reg.LogDirs); len(returned) > 0 {
			c.logger.Warn("a broker's failed log dirs are online again", zap.Int32("broker_id", reg.ID), zap.Int("dirs", len(returned)))
			if !old.Fenced && !old.InControlledShutdown {
				// Elect in the image as rec leaves it: the returned dirs
				// online (onlineAcceptor checks the replica's dir).
				now := *img
				now.brokers = maps.Clone(img.brokers)
				back := *old
				back.LogDirs = rec.LogDirs
				now.brokers[old.ID] = &back
				after = leadershipChanges(&now, -1, old.ID, func(p *PartitionImage) bool {
					return p.Leader < 0 && slices.Contains(returned, p.Directory(old.ID)) && slices.Contains(p.Replicas, old.ID)
				}, c.policyFor(img))
			}
		}
	case old != nil && c.validDuplicateLocked(img, reg.ID):
		return 0, fmt.Errorf("%w: Another broker is registered with that broker id.", ErrDuplicateBrokerRegistration)
	default:
		// A new incarnation: as Kafka's registerBroker (handleBrokerShutdown)
		// the previous one leaves every ISR and leadership before the new
		// one registers fenced. With ELR on, a broker that cannot prove a
		// clean shutdown (PreviousBrokerEpoch is not the epoch registered
		// for it) may have lost acknowledged records, so it also leaves
		// every ELR and does not join one.
		clean = old != nil && reg.PreviousBrokerEpoch == old.Epoch
		pol := c.policyFor(img)
		if pol.elr && !clean {
			records = uncleanShutdownChanges(img, reg.ID, pol)
		} else {
			records = leadershipChanges(img, reg.ID, -1, inISR(reg.ID), pol)
		}
	}
	// The elections in after assume the registration's dirs online.
	records = append(append(records, rec), after...)
	index, err := c.apply(ctx, records)
	if err != nil {
		return 0, err
	}
	epoch := rec.BrokerEpoch
	if epoch < 0 {
		epoch = int64(index)
	}
	if s := c.sessions[reg.ID]; s != nil && old != nil && old.IncarnationID == reg.IncarnationID {
		s.lastContact = c.now()
	} else {
		c.sessions[reg.ID] = &session{lastContact: c.now(), metadataOffset: -1, controlledShutdownOffset: -1}
	}
	newIncarnation := old == nil || old.IncarnationID != reg.IncarnationID
	c.logger.Info("registered broker", zap.Int32("broker_id", reg.ID), zap.Int64("broker_epoch", epoch),
		zap.Bool("new_incarnation", newIncarnation), zap.Bool("clean_shutdown", clean || !newIncarnation),
		zap.Int64("previous_broker_epoch", reg.PreviousBrokerEpoch), zap.Int("partition_changes", len(records)-1))
	return epoch, nil
}

// returnedDirs are the dirs of registered that b, registered before, does
// not have online: dirs that failed and are back.
func returnedDirs(b *BrokerImage, registered []DirectoryID) []DirectoryID {
	if b.LogDirs == nil {
		return nil // it registered none, so every dir counted as online
	}
	var back []DirectoryID
	for _, d := range registered {
		if !slices.Contains(b.LogDirs, d) {
			back = append(back, d)
		}
	}
	return back
}

// validDuplicateLocked reports whether the registered incarnation of id
// holds a session it renewed with this controller, so a new incarnation
// must be refused. The caller holds opMu.
func (c *Controller) validDuplicateLocked(img *MetadataImage, id int32) bool {
	s := c.sessions[id]
	return s != nil && s.heartbeated && c.validSessionLocked(img, id)
}

// BrokerHeartbeat renews a broker's session and moves it through the
// lifecycle (see the diagram above).
func (c *Controller) BrokerHeartbeat(ctx context.Context, hb BrokerHeartbeat) (BrokerHeartbeatReply, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return BrokerHeartbeatReply{}, err
	}
	defer done()
	img := c.Image()
	b := img.brokers[hb.BrokerID]
	if b == nil {
		return BrokerHeartbeatReply{}, fmt.Errorf("%w: Broker %d is not currently registered", ErrBrokerIDNotRegistered, hb.BrokerID)
	}
	if b.Epoch != hb.BrokerEpoch {
		return BrokerHeartbeatReply{}, fmt.Errorf("%w: Expected broker epoch %d, but got broker epoch %d", ErrStaleBrokerEpoch, b.Epoch, hb.BrokerEpoch)
	}
	if dirRecords := offlineDirRecords(img, b, hb.OfflineLogDirs, c.policyFor(img)); dirRecords != nil {
		if _, err := c.apply(ctx, dirRecords); err != nil {
			return BrokerHeartbeatReply{}, err
		}
		c.logger.Warn("broker reported failed log dirs; its replicas in them left the ISR and leadership",
			zap.Int32("broker_id", b.ID), zap.Int("offline_dirs", len(hb.OfflineLogDirs)), zap.Int("partition_changes", len(dirRecords)-1))
		img = c.Image()
		b = img.brokers[hb.BrokerID]
	}
	if hb.CordonedLogDirs != nil && !slices.Equal(nilIfEmptyDirs(hb.CordonedLogDirs), b.CordonedLogDirs) {
		rec := &BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch, CordonedLogDirs: slices.Clone(hb.CordonedLogDirs)}
		if _, err := c.apply(ctx, []Record{rec}); err != nil {
			return BrokerHeartbeatReply{}, err
		}
		img = c.Image()
		b = img.brokers[hb.BrokerID]
	}
	s := c.sessions[hb.BrokerID]
	if s == nil {
		s = &session{metadataOffset: -1, controlledShutdownOffset: -1}
		c.sessions[hb.BrokerID] = s
	}
	cur := stateUnfenced
	switch {
	case b.Fenced:
		cur = stateFenced
	case b.InControlledShutdown:
		cur = stateControlledShutdown
	}
	next := c.nextStateLocked(img, b, cur, hb, s)
	var records []Record
	if next != cur {
		switch next {
		case stateFenced, stateShutdownNow:
			if !b.Fenced {
				records = c.fenceRecords(img, b)
			}
		case stateUnfenced:
			records = c.unfenceRecords(img, b)
		case stateControlledShutdown:
			records = c.controlledShutdownRecords(img, b)
		}
	}
	if len(records) > 0 {
		index, err := c.apply(ctx, records)
		if err != nil {
			return BrokerHeartbeatReply{}, err
		}
		if next == stateControlledShutdown {
			s.controlledShutdownOffset = int64(index)
		}
		c.logger.Info("broker state changed", zap.Int32("broker_id", b.ID), zap.String("from", cur.String()),
			zap.String("to", next.String()), zap.Int("partition_changes", len(records)-1))
	}
	s.lastContact, s.heartbeated, s.metadataOffset = c.now(), true, hb.CurrentMetadataOffset
	return BrokerHeartbeatReply{
		IsCaughtUp:           hb.CurrentMetadataOffset >= b.Epoch,
		IsFenced:             next == stateFenced || next == stateShutdownNow,
		InControlledShutdown: next == stateControlledShutdown,
		ShouldShutDown:       next == stateShutdownNow,
	}, nil
}

// nextStateLocked is Kafka's BrokerHeartbeatManager.calculateNextBrokerState.
func (c *Controller) nextStateLocked(img *MetadataImage, b *BrokerImage, cur brokerState, hb BrokerHeartbeat, s *session) brokerState {
	switch cur {
	case stateFenced:
		switch {
		case hb.WantShutDown:
			return stateShutdownNow
		case !hb.WantFence && hb.CurrentMetadataOffset >= b.Epoch:
			return stateUnfenced
		}
		return stateFenced
	case stateUnfenced:
		switch {
		case hb.WantFence && hb.WantShutDown:
			return stateShutdownNow
		case hb.WantFence:
			return stateFenced
		case hb.WantShutDown && hasLeaderships(img, b.ID):
			return stateControlledShutdown
		case hb.WantShutDown:
			return stateShutdownNow
		}
		return stateUnfenced
	case stateControlledShutdown:
		if hasLeaderships(img, b.ID) {
			return stateControlledShutdown
		}
		// Shut down once every active broker has seen the leadership
		// moves, so none keeps sending to the leaving broker.
		if s.controlledShutdownOffset <= c.lowestActiveOffsetLocked(img) {
			return stateShutdownNow
		}
		return stateControlledShutdown
	}
	return stateShutdownNow
}

// lowestActiveOffsetLocked is the lowest metadata offset reported by an
// active broker, or MaxInt64 when there is none.
func (c *Controller) lowestActiveOffsetLocked(img *MetadataImage) int64 {
	lowest := int64(math.MaxInt64)
	for id, s := range c.sessions {
		if isActive(img, id) {
			lowest = min(lowest, s.metadataOffset)
		}
	}
	return lowest
}

func (s brokerState) String() string {
	switch s {
	case stateFenced:
		return "FENCED"
	case stateUnfenced:
		return "UNFENCED"
	case stateControlledShutdown:
		return "CONTROLLED_SHUTDOWN"
	}
	return "SHUTDOWN_NOW"
}

// policyFor is the election policy of img's topics: unclean leader
// election and min.insync.replicas per topic, ELR when finalized.
func (c *Controller) policyFor(img *MetadataImage) electionPolicy {
	pol := electionPolicy{elr: elrEnabled(img)}
	if c.cfg.UncleanLeaderElection != nil {
		pol.unclean = func(topic string) bool { return c.cfg.UncleanLeaderElection(img, topic) }
	}
	if c.cfg.MinInsyncReplicas != nil {
		pol.minISR = func(topic string) int { return c.cfg.MinInsyncReplicas(img, topic) }
	}
	return pol
}

// fenceRecords fences b: it leaves every ISR it is in (unless it is the
// last member) and its leaderships move (handleBrokerFenced).
func (c *Controller) fenceRecords(img *MetadataImage, b *BrokerImage) []Record {
	recs := leadershipChanges(img, b.ID, -1, inISR(b.ID), c.policyFor(img))
	return append(recs, &BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch, Fenced: 1})
}

// unfenceRecords unfences b and elects it where partitions it is an ISR
// member of have no leader (handleBrokerUnfenced).
func (c *Controller) unfenceRecords(img *MetadataImage, b *BrokerImage) []Record {
	recs := []Record{&BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch, Fenced: -1}}
	return append(recs, leadershipChanges(img, -1, b.ID, leaderless, c.policyFor(img))...)
}

// controlledShutdownRecords marks b shutting down, takes it out of every
// ISR it is in and moves its leaderships (handleBrokerInControlledShutdown).
func (c *Controller) controlledShutdownRecords(img *MetadataImage, b *BrokerImage) []Record {
	var recs []Record
	if !b.InControlledShutdown {
		recs = append(recs, &BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch, InControlledShutdown: 1})
	}
	return append(recs, leadershipChanges(img, b.ID, -1, inISR(b.ID), c.policyFor(img))...)
}

// UnregisterBroker removes a broker registration after taking it out of
// every ISR and leadership.
func (c *Controller) UnregisterBroker(ctx context.Context, id int32) error {
	done, err := c.beginOp(ctx)
	if err != nil {
		return err
	}
	defer done()
	img := c.Image()
	b := img.brokers[id]
	if b == nil {
		return fmt.Errorf("%w: Broker ID %d is not currently registered", ErrBrokerIDNotRegistered, id)
	}
	recs := leadershipChanges(img, id, -1, inISR(id), c.policyFor(img))
	recs = append(recs, &UnregisterBrokerRecord{BrokerID: id, BrokerEpoch: b.Epoch})
	if _, err := c.apply(ctx, recs); err != nil {
		return err
	}
	delete(c.sessions, id)
	return nil
}

// SetBrokerFenced fences or unfences a broker registration of the given
// epoch, moving leaderships as a heartbeat-driven change would.
func (c *Controller) SetBrokerFenced(ctx context.Context, id int32, epoch int64, fenced bool) error {
	done, err := c.beginOp(ctx)
	if err != nil {
		return err
	}
	defer done()
	img := c.Image()
	b := img.brokers[id]
	if b == nil {
		return fmt.Errorf("%w: broker %d", ErrBrokerIDNotRegistered, id)
	}
	if b.Epoch != epoch {
		return fmt.Errorf("%w: broker %d has epoch %d, not %d", ErrStaleBrokerEpoch, id, b.Epoch, epoch)
	}
	if b.Fenced == fenced {
		return nil
	}
	recs := c.unfenceRecords(img, b)
	if fenced {
		recs = c.fenceRecords(img, b)
	}
	_, err = c.apply(ctx, recs)
	return err
}

// fenceStaleBrokers runs while the node lives: on the active controller it
// fences, one at a time, every unfenced broker whose session expired
// (Kafka's maybeFenceOneStaleBroker).
func (c *Controller) fenceStaleBrokers(ctx context.Context) {
	defer c.wg.Done()
	tick := min(max(c.cfg.SessionTimeout/10, 5*time.Millisecond), 500*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for c.ready.Load() && c.fenceOneStaleBroker(ctx) {
		}
	}
}

// fenceOneStaleBroker fences the stale broker that was silent the longest,
// and reports whether it fenced one.
func (c *Controller) fenceOneStaleBroker(ctx context.Context) bool {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if !c.ready.Load() || c.sessions == nil {
		return false
	}
	img := c.Image()
	now := c.now()
	var stale *BrokerImage
	var oldest time.Time
	for id, s := range c.sessions {
		b := img.brokers[id]
		if b == nil || b.Fenced || !now.After(s.lastContact.Add(c.cfg.SessionTimeout)) {
			continue
		}
		if stale == nil || s.lastContact.Before(oldest) {
			stale, oldest = b, s.lastContact
		}
	}
	if stale == nil {
		return false
	}
	recs := c.fenceRecords(img, stale)
	c.logger.Info("fencing broker because its session has timed out", zap.Int32("broker_id", stale.ID),
		zap.Duration("silent_for", now.Sub(oldest)), zap.Int("partition_changes", len(recs)-1))
	actx, cancel := context.WithTimeout(ctx, c.cfg.ApplyTimeout)
	defer cancel()
	if _, err := c.apply(actx, recs); err != nil {
		c.logger.Warn("cannot fence broker", zap.Int32("broker_id", stale.ID), zap.Error(err))
		return false
	}
	return true
}
