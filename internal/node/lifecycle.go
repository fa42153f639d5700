package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
)

// lifecycle is the broker side of broker liveness, as Kafka's
// BrokerLifecycleManager: it registers the broker with the active
// controller (retrying with bounded back-off until a controller exists),
// then heartbeats. States:
//
//	STARTING   registered, catching up: heartbeats every 10 ms until the
//	           controller answers IsCaughtUp (this broker applied its own
//	           registration record) → caughtUp closes
//	RECOVERY   wants to be unfenced once the node calls setReadyToUnfence;
//	           the first unfenced answer closes unfenced
//	RUNNING    heartbeats every broker.heartbeat.interval.ms
//	PENDING_CONTROLLED_SHUTDOWN
//	           beginControlledShutdown: heartbeats with WantShutDown until
//	           the controller answers ShouldShutDown → shutdownDone closes
//
// One goroutine (run) owns the state; the node talks to it through the
// channels and the guarded flags.
type lifecycle struct {
	logger    *zap.Logger
	client    controller.Client
	router    *controller.Router
	meta      controller.Metadata
	reg       controller.BrokerRegistration
	interval  time.Duration
	endpoints func() []controller.Endpoint

	caughtUp     chan struct{} // closed once the controller says caught up
	unfenced     chan struct{} // closed once unfenced after readyToUnfence
	shutdownDone chan struct{} // closed when the controller lets us go
	wake         chan struct{} // 1-buffered: heartbeat now

	// dirFailureTimeout is log.dir.failure.timeout.ms: how long a failed
	// log dir may go unreported to the controller before onFatal.
	dirFailureTimeout time.Duration
	onFatal           func(error)
	// cordonedDirs returns the online dirs cordoned now (cordoned.log.dirs,
	// KIP-1066, which AlterConfigs may change without a restart), sent
	// with every heartbeat (empty, not nil, when none); nil: none.
	cordonedDirs func() []controller.DirectoryID

	mu             sync.Mutex // guards the fields below
	epoch          int64
	readyToUnfence bool
	wantShutDown   bool
	// offlineDirs are the failed log dirs, sent with every heartbeat
	// (OfflineLogDirs); unreportedSince is when the oldest of them not yet
	// acknowledged by a heartbeat failed (zero: all acknowledged).
	offlineDirs     []controller.DirectoryID
	unreportedSince time.Time
	// onlineDirs replace reg.LogDirs when amend is set: a failed dir came
	// back online (a full dir with space again), and the next heartbeat is
	// preceded by a registration amended with them, which tells the
	// controller (see controller.RegisterBroker).
	onlineDirs []controller.DirectoryID
	amend      bool
	// dirsForgotten counts the heartbeats in a row after which the
	// metadata still lacked one of onlineDirs (checkRegisteredDirs).
	dirsForgotten int

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newLifecycle(client controller.Client, router *controller.Router, meta controller.Metadata,
	reg controller.BrokerRegistration, interval time.Duration, log *zap.Logger) *lifecycle {
	_, _ = rand.Read(reg.IncarnationID[:])
	return &lifecycle{
		logger: log, client: client, router: router, meta: meta, reg: reg, interval: interval,
		caughtUp: make(chan struct{}), unfenced: make(chan struct{}), shutdownDone: make(chan struct{}),
		wake: make(chan struct{}, 1), epoch: -1,
	}
}

func (l *lifecycle) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(1)
	go l.run(ctx)
}

// stop ends heartbeats (the controller fences the broker when its session
// runs out, unless a controlled shutdown finished first).
func (l *lifecycle) stop() {
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
	}
}

func (l *lifecycle) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// setReadyToUnfence asks the controller to unfence this broker from the
// next heartbeat on (sent at once).
func (l *lifecycle) setReadyToUnfence() {
	l.mu.Lock()
	l.readyToUnfence = true
	l.mu.Unlock()
	l.poke()
}

// beginControlledShutdown asks the controller to move this broker's
// leaderships away; shutdownDone closes when it has.
func (l *lifecycle) beginControlledShutdown() {
	l.mu.Lock()
	l.wantShutDown = true
	l.mu.Unlock()
	l.poke()
}

// dirFailed adds a failed log dir to the heartbeats and sends one at once.
func (l *lifecycle) dirFailed(id controller.DirectoryID) {
	l.mu.Lock()
	if l.onlineDirs != nil {
		l.onlineDirs = slices.DeleteFunc(l.onlineDirs, func(d controller.DirectoryID) bool { return d == id })
	}
	if !slices.Contains(l.offlineDirs, id) {
		l.offlineDirs = append(l.offlineDirs, id)
		if l.unreportedSince.IsZero() {
			l.unreportedSince = time.Now()
		}
	}
	l.mu.Unlock()
	l.poke()
}

// dirOnline drops a failed log dir that is back online from the heartbeats
// and amends the registration with online, every online dir, at once.
func (l *lifecycle) dirOnline(id controller.DirectoryID, online []controller.DirectoryID) {
	l.mu.Lock()
	l.offlineDirs = slices.DeleteFunc(l.offlineDirs, func(d controller.DirectoryID) bool { return d == id })
	if len(l.offlineDirs) == 0 {
		l.unreportedSince = time.Time{}
	}
	l.onlineDirs, l.amend = slices.Clone(online), true
	l.mu.Unlock()
	l.poke()
}

// checkRegisteredDirs amends the registration again when, three
// heartbeats after a dir came back, the metadata still does not list every
// dir back online: a heartbeat that reported the dir failed and that the
// controller handled only after the amendment (it had timed out here) took
// it offline again there.
func (l *lifecycle) checkRegisteredDirs() {
	b := l.meta.Image().Broker(l.reg.ID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if b == nil || b.Epoch != l.epoch || b.LogDirs == nil || l.onlineDirs == nil || l.amend {
		l.dirsForgotten = 0
		return
	}
	for _, d := range l.onlineDirs {
		if !slices.Contains(b.LogDirs, d) {
			if l.dirsForgotten++; l.dirsForgotten >= 3 {
				l.logger.Warn("the metadata lacks a log dir that is online again; amending the registration again")
				l.amend, l.dirsForgotten = true, 0
			}
			return
		}
	}
	l.dirsForgotten = 0
}

// checkDirFailureTimeout calls onFatal once a failed dir has gone
// unacknowledged for dirFailureTimeout (Kafka's log.dir.failure.timeout.ms).
func (l *lifecycle) checkDirFailureTimeout() {
	l.mu.Lock()
	since := l.unreportedSince
	l.mu.Unlock()
	if !since.IsZero() && l.dirFailureTimeout > 0 && time.Since(since) > l.dirFailureTimeout && l.onFatal != nil {
		l.onFatal(fmt.Errorf("the controller was not told of a failed log dir within log.dir.failure.timeout.ms (%v)", l.dirFailureTimeout))
	}
}

// brokerEpoch is the epoch of this incarnation's registration, or -1.
func (l *lifecycle) brokerEpoch() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (l *lifecycle) run(ctx context.Context) {
	defer l.wg.Done()
	if !l.register(ctx) {
		return
	}
	var (
		failures        int
		shutdownAnswers int
		delay           time.Duration // 0: heartbeat at once
	)
	for {
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-l.wake:
				t.Stop()
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		amend := l.amend
		if amend {
			l.reg.LogDirs, l.amend = l.onlineDirs, false
		}
		l.mu.Unlock()
		if amend {
			l.logger.Info("amending the broker registration: a failed log dir is online again", zap.Int("online_dirs", len(l.reg.LogDirs)))
			if !l.register(ctx) {
				return
			}
		}
		var cordoned []controller.DirectoryID
		if l.cordonedDirs != nil {
			cordoned = l.cordonedDirs()
		}
		l.mu.Lock()
		hb := controller.BrokerHeartbeat{
			BrokerID: l.reg.ID, BrokerEpoch: l.epoch, CurrentMetadataOffset: int64(l.meta.Image().Offset()),
			WantFence: !l.readyToUnfence, WantShutDown: l.wantShutDown, OfflineLogDirs: slices.Clone(l.offlineDirs),
			CordonedLogDirs: cordoned,
		}
		l.mu.Unlock()
		hctx, cancel := context.WithTimeout(ctx, max(l.interval, time.Second))
		reply, err := l.client.BrokerHeartbeat(hctx, hb)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, controller.ErrBrokerIDNotRegistered) {
				// Unregistered behind our back (UnregisterBroker): register
				// again, as Kafka's broker does when its registration
				// disappears from the metadata.
				l.logger.Warn("this broker is no longer registered; registering again")
				if !l.register(ctx) {
					return
				}
				delay = 0
				continue
			}
			l.checkDirFailureTimeout()
			failures++
			if failures == 1 || failures%10 == 0 {
				l.logger.Warn("broker heartbeat failed; retrying", zap.Int("failures", failures), zap.Error(err))
			}
			delay = backoff(failures, l.interval)
			continue
		}
		failures = 0
		delay = l.interval
		l.checkRegisteredDirs()
		l.mu.Lock()
		if len(hb.OfflineLogDirs) == len(l.offlineDirs) {
			l.unreportedSince = time.Time{}
		}
		l.mu.Unlock()
		select {
		case <-l.caughtUp:
		default:
			if reply.IsCaughtUp {
				l.logger.Info("the broker has caught up with the metadata log", zap.Int64("offset", hb.CurrentMetadataOffset))
				closeOnce(l.caughtUp)
			} else {
				delay = 10 * time.Millisecond
			}
		}
		if !hb.WantFence && !reply.IsFenced {
			select {
			case <-l.unfenced:
			default:
				l.logger.Info("the broker has been unfenced")
				closeOnce(l.unfenced)
			}
		} else if !hb.WantFence {
			delay = min(delay, 50*time.Millisecond)
		}
		if hb.WantShutDown {
			if reply.ShouldShutDown {
				l.logger.Info("the controller has let this broker shut down")
				closeOnce(l.shutdownDone)
				return
			}
			shutdownAnswers++
			if shutdownAnswers == 1 {
				delay = 50 * time.Millisecond
			} else {
				delay = min(delay, 200*time.Millisecond)
			}
		}
	}
}

// register retries until the active controller accepts this broker.
func (l *lifecycle) register(ctx context.Context) bool {
	reg := l.reg
	reg.Endpoints = l.endpoints()
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		epoch, err := l.client.RegisterBroker(rctx, reg)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.epoch = epoch
			l.mu.Unlock()
			if l.router != nil {
				l.router.SetBrokerEpoch(epoch)
			}
			l.logger.Info("registered with the controller", zap.Int64("broker_epoch", epoch), zap.Int("attempts", attempt))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if attempt == 1 || attempt%10 == 0 || !errors.Is(err, controller.ErrNotController) {
			l.logger.Info("broker registration not accepted yet; retrying", zap.Int("attempt", attempt), zap.Error(err))
		}
		t := time.NewTimer(backoff(attempt, l.interval))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// backoff is the wait after the n-th consecutive failure: 50 ms doubling,
// capped at the heartbeat interval (and 2 s).
func backoff(n int, interval time.Duration) time.Duration {
	d := 50 * time.Millisecond
	for i := 1; i < n && d < 2*time.Second; i++ {
		d *= 2
	}
	return min(d, max(interval, 50*time.Millisecond), 2*time.Second)
}
