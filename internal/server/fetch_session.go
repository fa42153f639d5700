package server

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/replication"
)

// Incremental fetch sessions (KIP-227). A consumer or follower that fetches
// the same partitions over and over opens a session with a full fetch
// (SessionID 0, epoch 0); later fetches (epoch 1, 2, ...) send only the
// partitions that changed and name the ones to forget, and the response
// carries only partitions with news: records, a moved high watermark, log
// start offset or last stable offset, or an error.
//
//	SessionID  Epoch  meaning
//	0          -1     full fetch, no session
//	0           0     full fetch, open a new session
//	N          -1     close session N, full fetch without a session
//	N           0     close session N, full fetch opening a new one
//	N          >0     incremental fetch in session N at that epoch
//
// Reading only what changed: a session's fetch reads the partitions its
// request names, those its ChangeFeed marked since the last fetch (an
// append for a follower, a high watermark, log start, leadership or ISR
// change for anyone), and those the last response did not leave quiet
// (records still to send, an error, a diverging epoch); every partition
// only after a new metadata image (broker eligibility, ACLs and topic IDs
// live there) or when a consumer's session is used by a replica. A quiet
// partition that is not read would have answered nothing new, so the
// response is the one reading everything gives (Kafka reads every
// partition of the session and then leaves the unchanged ones out), and
// an idle follower session costs in proportion to what changed rather
// than to its size. Waiting for data parks on the feed, not on every
// partition.
const (
	fetchSessionFinalEpoch = -1
	fetchSessionInitEpoch  = 0
)

// fetchKey identifies a partition within a session: by name for versions
// before 13, by topic ID from 13.
type fetchKey struct {
	topic     string
	topicID   protocol.UUID
	partition int32
}

// fetchPartition is a session's view of one partition.
type fetchPartition struct {
	key            fetchKey
	fetchOffset    int64
	maxBytes       int32
	leaderEpoch    int32 // CurrentLeaderEpoch from the request
	lastFetchEpoch int32
	logStartOffset int64 // a follower's log start offset
	// Last values sent, to decide whether an incremental response must
	// include the partition.
	sentHW, sentLSO, sentLogStart int64

	// p is the partition this one resolved to when last read, watched by
	// the session's feed (nil before the first read or when unknown).
	p *replication.Partition
	// quiet: the last response found nothing for it: no error, no
	// records readable past fetchOffset and nothing new sent. It is read
	// again only when the feed marks it or the request names it.
	quiet bool
	// picked is the session fetch that last chose it (no duplicates);
	// removed: forgotten by the session.
	picked  uint64
	removed bool
}

type fetchSession struct {
	mu        sync.Mutex // one fetch at a time per session
	id        int32
	epoch     int32 // next expected epoch
	parts     []*fetchPartition
	index     map[fetchKey]*fetchPartition
	lastUsed  time.Time
	topicIDed bool // opened with version >= 13

	// feed watches every resolved partition, as a replica's or a
	// consumer's feed after the fetch that opened the session; set at
	// creation, safe for concurrent use.
	feed *replication.ChangeFeed

	// The rest is the fetch path's (api_01_fetch.go), under mu.
	byPartition map[*replication.Partition]*fetchPartition
	// img is the metadata image of the last fetch: another one reads
	// every partition.
	img *controller.MetadataImage
	// busy are the partitions the last response did not leave quiet.
	busy []*fetchPartition
	// fetches counts the session's fetches (fetchPartition.picked);
	// lastDrainMs is when the feed was last drained: every partition
	// quiet then and not marked had its follower at the log end.
	fetches     uint64
	lastDrainMs int64
}

// close ends the feed's subscriptions (the session was closed or evicted).
func (s *fetchSession) close() { s.feed.Close() }

// forgetLocked drops fp from the fetch path's state; mu held.
func (s *fetchSession) forgetLocked(fp *fetchPartition) {
	fp.removed = true
	if fp.p != nil {
		if s.byPartition[fp.p] == fp {
			delete(s.byPartition, fp.p)
		}
		s.feed.Unwatch(fp.p)
	}
}

type fetchSessionCache struct {
	mu       sync.Mutex
	sessions map[int32]*fetchSession
	max      int // max.incremental.fetch.session.cache.slots
}

func newFetchSessionCache(max int) *fetchSessionCache {
	if max <= 0 {
		max = 1000
	}
	return &fetchSessionCache{sessions: make(map[int32]*fetchSession), max: max}
}

// fetchPlan is what one Fetch request reads.
type fetchPlan struct {
	session     *fetchSession // nil for sessionless fetches
	incremental bool
	parts       []*fetchPartition
	sessionID   int32
	// named are the partitions an incremental request added or updated.
	named []*fetchPartition
}

// plan resolves the request against the session cache. A non-zero code is
// the top-level error of the response (FETCH_SESSION_ID_NOT_FOUND,
// INVALID_FETCH_SESSION_EPOCH).
func (c *fetchSessionCache) plan(req *protocol.FetchRequest, v int16, replica bool) (fetchPlan, int16) {
	useIDs := v >= 13
	if req.SessionID == 0 || req.SessionEpoch <= fetchSessionInitEpoch {
		if req.SessionID != 0 {
			c.remove(req.SessionID)
		}
		parts := requestedPartitions(req, useIDs)
		pl := fetchPlan{parts: parts}
		if req.SessionEpoch == fetchSessionInitEpoch && v >= 7 {
			if s := c.create(parts, useIDs, replica); s != nil {
				pl.session = s
				pl.sessionID = s.id
			}
		}
		return pl, 0
	}
	c.mu.Lock()
	s := c.sessions[req.SessionID]
	c.mu.Unlock()
	if s == nil {
		return fetchPlan{}, errcode.FetchSessionIDNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != req.SessionEpoch || s.topicIDed != useIDs {
		return fetchPlan{}, errcode.InvalidFetchSessionEpoch
	}
	s.epoch++
	if s.epoch <= 0 {
		s.epoch = 1
	}
	s.lastUsed = time.Now()
	forgot := false
	for _, ft := range req.ForgottenTopicsData {
		for _, p := range ft.Partitions {
			k := fetchKey{partition: p}
			if useIDs {
				k.topicID = ft.TopicID
			} else {
				k.topic = string(ft.Topic)
			}
			if fp := s.index[k]; fp != nil {
				delete(s.index, k)
				s.forgetLocked(fp)
				forgot = true
			}
		}
	}
	if forgot {
		s.parts = slices.DeleteFunc(s.parts, func(fp *fetchPartition) bool { return fp.removed })
	}
	var named []*fetchPartition
	for _, np := range requestedPartitions(req, useIDs) {
		if fp := s.index[np.key]; fp != nil {
			fp.fetchOffset, fp.maxBytes = np.fetchOffset, np.maxBytes
			fp.leaderEpoch, fp.lastFetchEpoch, fp.logStartOffset = np.leaderEpoch, np.lastFetchEpoch, np.logStartOffset
			named = append(named, fp)
			continue
		}
		s.index[np.key] = np
		s.parts = append(s.parts, np)
		named = append(named, np)
	}
	return fetchPlan{session: s, incremental: true, parts: s.parts, sessionID: s.id, named: named}, 0
}

func requestedPartitions(req *protocol.FetchRequest, useIDs bool) []*fetchPartition {
	var out []*fetchPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			k := fetchKey{partition: p.Partition}
			if useIDs {
				k.topicID = t.TopicID
			} else {
				k.topic = string(t.Topic)
			}
			out = append(out, &fetchPartition{
				key: k, fetchOffset: p.FetchOffset, maxBytes: p.PartitionMaxBytes,
				leaderEpoch: p.CurrentLeaderEpoch, lastFetchEpoch: p.LastFetchedEpoch, logStartOffset: p.LogStartOffset,
				sentHW: -1, sentLSO: -1, sentLogStart: -1,
			})
		}
	}
	return out
}

// create opens a session, evicting the least recently used one when full.
func (c *fetchSessionCache) create(parts []*fetchPartition, useIDs, replica bool) *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.max {
		var oldest *fetchSession
		for _, s := range c.sessions {
			if oldest == nil || s.lastUsed.Before(oldest.lastUsed) {
				oldest = s
			}
		}
		if oldest == nil {
			return nil
		}
		delete(c.sessions, oldest.id)
		oldest.close()
	}
	id := rand.Int32N(1<<31-1) + 1
	for c.sessions[id] != nil {
		id = rand.Int32N(1<<31-1) + 1
	}
	s := &fetchSession{id: id, epoch: 1, parts: parts, index: make(map[fetchKey]*fetchPartition, len(parts)), lastUsed: time.Now(), topicIDed: useIDs,
		feed: replication.NewChangeFeed(replica), byPartition: make(map[*replication.Partition]*fetchPartition, len(parts))}
	for _, p := range parts {
		s.index[p.key] = p
	}
	c.sessions[id] = s
	return s
}

func (c *fetchSessionCache) remove(id int32) {
	c.mu.Lock()
	s := c.sessions[id]
	delete(c.sessions, id)
	c.mu.Unlock()
	if s != nil {
		s.close()
	}
}
