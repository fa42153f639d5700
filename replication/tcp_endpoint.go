package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/storage"
)

// TCPConfig configures the LeaderEndpoints a broker's replica fetchers
// reach their leaders through over Kafka's wire protocol.
type TCPConfig struct {
	// NodeID is this broker's id (the requests' replica id).
	NodeID int32
	// Resolve returns the host:port of broker id's inter-broker listener
	// (inter.broker.listener.name, or the listener of
	// security.inter.broker.protocol) from the current metadata. It is
	// asked again on every reconnect, so a broker that re-registered at
	// another address is found.
	Resolve func(id int32) (string, error)
	// Timeout is replica.socket.timeout.ms (30s): how long a request may
	// take beyond a fetch's own wait before the connection is dropped.
	Timeout time.Duration
	// MaxResponseBytes bounds a response frame (a fetch answer may exceed
	// replica.fetch.response.max.bytes by one batch); 0 is 100 MiB.
	MaxResponseBytes int32
	// Dial connects to a leader's inter-broker listener and runs its
	// security as a client (TLS, SASL with
	// sasl.mechanism.inter.broker.protocol); nil: plain TCP.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// TCPEndpoints returns the EndpointFactory of real brokers: each replica
// fetcher gets its own connection to its leader (Kafka's per-fetcher
// NetworkClient), opened on first use and after any error.
func TCPEndpoints(cfg TCPConfig) EndpointFactory {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = protocol.DefaultMaxRequestSize
	}
	return func(leader int32) LeaderEndpoint {
		return &tcpEndpoint{cfg: cfg, leader: leader, clientID: fmt.Sprintf("broker-%d-fetcher", cfg.NodeID)}
	}
}

// The versions a follower sends: the newest Spool serves (both ends are
// Spool). Fetch v15+ carries the replica id and broker epoch in
// ReplicaState and names topics by ID (v13+); v12+ carries
// LastFetchedEpoch and answers DivergingEpoch.
var (
	fetchVersion       = protocol.LookupAPI(protocol.KeyFetch).MaxStableVersion()
	epochsVersion      = protocol.LookupAPI(protocol.KeyOffsetForLeaderEpoch).MaxStableVersion()
	listOffsetsVersion = protocol.LookupAPI(protocol.KeyListOffsets).MaxStableVersion()
)

// tcpEndpoint is one fetcher's connection to its leader. Not safe for
// concurrent use: its fetcher goroutine is its only user.
type tcpEndpoint struct {
	cfg      TCPConfig
	leader   int32
	clientID string

	nc   net.Conn
	br   *bufio.Reader
	addr string
	corr int32

	// The incremental fetch session (KIP-227) with the leader, as Kafka's
	// FetchSessionHandler keeps it: sessionID 0 means none (the next fetch
	// is full and asks for one); sent is what the leader's session holds
	// for each partition, so a fetch carries only the partitions whose
	// state changed and forgets those no longer fetched, and the answer
	// carries only the partitions with news. Without it every fetch named
	// and answered every partition the follower shares with this leader:
	// with thousands of idle partitions, each acks=all produce waited for
	// round trips of megabytes.
	sessionID    int32
	sessionEpoch int32
	// sent is what the leader's session holds, in the order of the last
	// request; pos finds a partition in it.
	sent []FetchPartition
	pos  map[topicPartitionID]int
}

var _ LeaderEndpoint = (*tcpEndpoint)(nil)

// Close drops the connection; the fetcher calls it when it stops.
func (e *tcpEndpoint) Close() error {
	if e.nc == nil {
		return nil
	}
	err := e.nc.Close()
	e.nc, e.br = nil, nil
	return err
}

func (e *tcpEndpoint) connect(ctx context.Context) error {
	if e.nc != nil {
		return nil
	}
	addr, err := e.cfg.Resolve(e.leader)
	if err != nil {
		return fmt.Errorf("broker %d: %w: %w", e.leader, ErrUnreachable, err)
	}
	var nc net.Conn
	if e.cfg.Dial != nil {
		nc, err = e.cfg.Dial(ctx, addr)
	} else {
		d := net.Dialer{Timeout: 10 * time.Second}
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("broker %d at %s: %w: %w", e.leader, addr, ErrUnreachable, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	e.nc, e.br, e.addr = nc, bufio.NewReaderSize(nc, 64<<10), addr
	return nil
}

// roundTrip sends req at version v and reads its response. Any failure
// below the Kafka protocol drops the connection and is ErrUnreachable. A
// connection kept from earlier requests that fails before any answer is
// dialled again once: a fetcher idle while its leader restarted holds a
// dead connection, and failing on it would back every partition it just
// got off for replica.fetch.backoff.ms (a second of acks=all stall after
// a leadership moved to the restarted broker). A follower's requests
// (Fetch, OffsetForLeaderEpoch, ListOffsets) are reads, safe to repeat.
func (e *tcpEndpoint) roundTrip(ctx context.Context, req protocol.Request, v int16, wait time.Duration) (protocol.Response, error) {
	reused := e.nc != nil
	resp, err := e.roundTripOnce(ctx, req, v, wait)
	if err != nil && reused && ctx.Err() == nil && errors.Is(err, errConnLost) && closedByPeer(err) {
		resp, err = e.roundTripOnce(ctx, req, v, wait)
	}
	return resp, err
}

// errConnLost marks a send or read failure of roundTripOnce: the
// connection broke before an answer arrived.
var errConnLost = errors.New("connection lost")

// closedByPeer reports whether err says the other end closed or reset the
// connection (what a dead connection gives at once), as opposed to a
// timeout, which is not worth doubling.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (e *tcpEndpoint) roundTripOnce(ctx context.Context, req protocol.Request, v int16, wait time.Duration) (protocol.Response, error) {
	if err := e.connect(ctx); err != nil {
		return nil, err
	}
	e.corr++
	hdr := protocol.RequestHeader{RequestAPIKey: req.APIKey(), RequestAPIVersion: v, CorrelationID: e.corr, ClientID: &e.clientID}
	frame, err := protocol.AppendRequest(nil, &hdr, req)
	if err != nil {
		return nil, fmt.Errorf("replication: encode request %d v%d: %w", req.APIKey(), v, err)
	}
	fail := func(what string, err error) error {
		_ = e.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("broker %d at %s: %s: %w: %w", e.leader, e.addr, what, ErrUnreachable, err)
	}
	nc := e.nc // fail closes and forgets e.nc; the AfterFunc may still run
	_ = nc.SetDeadline(time.Now().Add(wait + e.cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := nc.Write(frame); err != nil {
		return nil, fail("send", fmt.Errorf("%w: %w", errConnLost, err))
	}
	respFrame, err := protocol.ReadFrame(e.br, e.cfg.MaxResponseBytes, nil)
	if err != nil {
		return nil, fail("read", fmt.Errorf("%w: %w", errConnLost, err))
	}
	rh, resp, err := protocol.DecodeResponse(respFrame, req.APIKey(), v)
	if err == nil && rh.CorrelationID != hdr.CorrelationID {
		err = fmt.Errorf("correlation id %d, want %d", rh.CorrelationID, hdr.CorrelationID)
	}
	if err != nil {
		return nil, fail("decode", err)
	}
	return resp, nil
}

// codeError maps a Kafka error code in a leader's answer back to this
// package's and storage's errors, so the fetcher treats a TCP leader as it
// treats an in-process one.
func codeError(code int16) error {
	switch code {
	case errcode.None:
		return nil
	case errcode.NotLeaderOrFollower:
		return ErrNotLeader
	case errcode.FencedLeaderEpoch:
		return ErrFencedLeaderEpoch
	case errcode.UnknownLeaderEpoch:
		return ErrUnknownLeaderEpoch
	case errcode.OffsetOutOfRange:
		return storage.ErrOffsetOutOfRange
	case errcode.UnknownTopicOrPartition, errcode.UnknownTopicID, errcode.InconsistentTopicID:
		return ErrUnknownTopicOrPartition
	}
	return fmt.Errorf("replication: leader answered %s (%d)", errcode.Name(code), code)
}

type topicPartitionID struct {
	id        [16]byte
	partition int32
}

// resetSession forgets the fetch session: the next fetch is full.
func (e *tcpEndpoint) resetSession() {
	e.sessionID, e.sessionEpoch, e.sent, e.pos = 0, 0, nil, nil
}

// Fetch sends the replica state in the fetch session with the leader:
// a full fetch opening one when there is none, else an incremental fetch
// with the partitions that changed. A partition the leader's incremental
// answer leaves out had no news and comes back Unchanged. An answer saying
// the session is gone (evicted, or the leader restarted) is followed at
// once by a full fetch opening a new one.
func (e *tcpEndpoint) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	resp, code, err := e.fetchInSession(ctx, req)
	if err == nil && (code == errcode.FetchSessionIDNotFound || code == errcode.InvalidFetchSessionEpoch || code == errcode.FetchSessionTopicIDError) {
		e.resetSession()
		resp, _, err = e.fetchInSession(ctx, req)
	}
	return resp, err
}

func (e *tcpEndpoint) fetchInSession(ctx context.Context, req *FetchRequest) (*FetchResponse, int16, error) {
	var r protocol.FetchRequest
	r.Default()
	r.ReplicaID = protocol.BrokerID(req.ReplicaID)
	r.ReplicaState.ReplicaID, r.ReplicaState.ReplicaEpoch = protocol.BrokerID(req.ReplicaID), req.BrokerEpoch
	r.MaxWaitMs = int32(req.MaxWait / time.Millisecond)
	r.MinBytes, r.MaxBytes = int32(req.MinBytes), int32(req.MaxBytes)
	full := e.sessionID == 0
	if full {
		r.SessionID, r.SessionEpoch = 0, 0 // full, opening a session
	} else {
		r.SessionID, r.SessionEpoch = e.sessionID, e.sessionEpoch
	}
	// What to send: everything for a full fetch; with the caller's word
	// that only some entries changed (req.Changed), those of them that
	// did; else every entry the session does not hold as it is, and the
	// partitions it holds that the request no longer names are forgotten.
	hinted := !full && req.Changed != nil && len(req.Partitions) == len(e.sent)
	pos := e.pos
	var include []int
	var forgotten []topicPartitionID
	switch {
	case hinted:
		for _, i := range req.Changed {
			if i >= 0 && i < len(e.sent) && !sameSessionState(e.sent[i], req.Partitions[i]) {
				include = append(include, i)
			}
		}
	default:
		pos = make(map[topicPartitionID]int, len(req.Partitions))
		for i, fp := range req.Partitions {
			key := topicPartitionID{fp.TopicID, fp.TopicPartition.Partition}
			pos[key] = i
			if j, ok := e.pos[key]; !full && ok && sameSessionState(e.sent[j], fp) {
				continue
			}
			include = append(include, i)
		}
		if !full {
			for key := range e.pos {
				if _, ok := pos[key]; !ok {
					forgotten = append(forgotten, key)
				}
			}
		}
	}
	send := make([]FetchPartition, 0, len(include))
	for _, i := range include {
		send = append(send, req.Partitions[i])
	}
	r.Topics = groupByTopic(send, func(fp FetchPartition) [16]byte { return fp.TopicID },
		func(fp FetchPartition) protocol.FetchRequestFetchTopic {
			return protocol.FetchRequestFetchTopic{Topic: protocol.TopicName(fp.TopicPartition.Topic), TopicID: protocol.UUID(fp.TopicID)}
		},
		func(t *protocol.FetchRequestFetchTopic, fp FetchPartition) {
			var p protocol.FetchRequestFetchPartition
			p.Default()
			p.Partition, p.CurrentLeaderEpoch, p.FetchOffset = fp.TopicPartition.Partition, fp.CurrentLeaderEpoch, fp.FetchOffset
			p.LastFetchedEpoch, p.LogStartOffset, p.PartitionMaxBytes = fp.LastFetchedEpoch, fp.LogStartOffset, int32(fp.MaxBytes)
			t.Partitions = append(t.Partitions, p)
		})
	if len(forgotten) > 0 {
		r.ForgottenTopicsData = groupByTopic(forgotten, func(key topicPartitionID) [16]byte { return key.id },
			func(key topicPartitionID) protocol.FetchRequestForgottenTopic {
				return protocol.FetchRequestForgottenTopic{TopicID: protocol.UUID(key.id)}
			},
			func(t *protocol.FetchRequestForgottenTopic, key topicPartitionID) {
				t.Partitions = append(t.Partitions, key.partition)
			})
	}
	raw, err := e.roundTrip(ctx, &r, fetchVersion, req.MaxWait)
	if err != nil {
		e.resetSession() // a new connection may meet a restarted leader
		return nil, 0, err
	}
	fr := raw.(*protocol.FetchResponse)
	switch {
	case fr.ErrorCode != 0:
		e.resetSession()
	case full && fr.SessionID != 0:
		e.sessionID, e.sessionEpoch = fr.SessionID, 1
		e.sent, e.pos = slices.Clone(req.Partitions), pos
	case !full:
		e.sessionEpoch++
		if e.sessionEpoch <= 0 { // wraps to 1, as Kafka's nextEpoch
			e.sessionEpoch = 1
		}
		if hinted {
			for _, i := range include {
				e.sent[i] = req.Partitions[i]
			}
		} else {
			// Reuse the last copy's array: while the fetched set churns (a
			// restarted follower catching up on 100k partitions), a fresh
			// clone per round was the follower's largest allocation.
			e.sent, e.pos = append(e.sent[:0], req.Partitions...), pos
		}
	}
	if req.Sparse && !full && fr.ErrorCode == 0 {
		out := &FetchResponse{Sparse: true}
		for _, t := range fr.Responses {
			for _, pd := range t.Partitions {
				i, ok := pos[topicPartitionID{[16]byte(t.TopicID), pd.PartitionIndex}]
				if !ok {
					continue
				}
				out.Partitions = append(out.Partitions, partitionAnswer(req.Partitions[i].TopicPartition, i, &pd))
			}
		}
		return out, 0, nil
	}
	out := &FetchResponse{Partitions: make([]FetchPartitionResponse, len(req.Partitions))}
	seen := make([]bool, len(req.Partitions))
	for i, fp := range req.Partitions {
		out.Partitions[i] = FetchPartitionResponse{TopicPartition: fp.TopicPartition, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, Index: i}
		if fr.ErrorCode != 0 {
			out.Partitions[i].Err = codeError(fr.ErrorCode)
			seen[i] = true
		}
	}
	for _, t := range fr.Responses {
		for _, pd := range t.Partitions {
			i, ok := pos[topicPartitionID{[16]byte(t.TopicID), pd.PartitionIndex}]
			if !ok || seen[i] {
				continue
			}
			seen[i] = true
			out.Partitions[i] = partitionAnswer(req.Partitions[i].TopicPartition, i, &pd)
		}
	}
	for i := range seen {
		switch {
		case seen[i]:
		case !full && fr.ErrorCode == 0:
			out.Partitions[i].Unchanged = true // no news in the session
		default:
			out.Partitions[i].Err = e.missing(req.Partitions[i].TopicPartition, "fetch answer")
		}
	}
	return out, fr.ErrorCode, nil
}

// partitionAnswer is one partition of a leader's fetch answer, request
// entry i.
func partitionAnswer(tp storage.TopicPartition, i int, pd *protocol.FetchResponsePartitionData) FetchPartitionResponse {
	pr := FetchPartitionResponse{TopicPartition: tp, Index: i, Err: codeError(pd.ErrorCode),
		HighWatermark: pd.HighWatermark, LastStableOffset: pd.LastStableOffset, LogStartOffset: pd.LogStartOffset, Records: pd.Records}
	if pd.DivergingEpoch.EndOffset >= 0 && pd.DivergingEpoch.Epoch >= 0 {
		pr.DivergingEpoch = &EpochEndOffset{Epoch: pd.DivergingEpoch.Epoch, EndOffset: pd.DivergingEpoch.EndOffset}
	}
	return pr
}

// sameSessionState reports whether the leader's session already holds fp
// (so an incremental fetch leaves it out).
func sameSessionState(a, b FetchPartition) bool {
	return a.FetchOffset == b.FetchOffset && a.LogStartOffset == b.LogStartOffset && a.CurrentLeaderEpoch == b.CurrentLeaderEpoch &&
		a.LastFetchedEpoch == b.LastFetchedEpoch && a.MaxBytes == b.MaxBytes && a.TopicPartition == b.TopicPartition
}

// OffsetForLeaderEpoch asks for the end offsets of the follower's epochs.
func (e *tcpEndpoint) OffsetForLeaderEpoch(ctx context.Context, req *OffsetForLeaderEpochRequest) (*OffsetForLeaderEpochResponse, error) {
	r := &protocol.OffsetForLeaderEpochRequest{ReplicaID: protocol.BrokerID(req.ReplicaID)}
	r.Topics = groupByTopic(req.Partitions, func(p OffsetForLeaderEpochPartition) string { return p.TopicPartition.Topic },
		func(p OffsetForLeaderEpochPartition) protocol.OffsetForLeaderEpochRequestOffsetForLeaderTopic {
			return protocol.OffsetForLeaderEpochRequestOffsetForLeaderTopic{Topic: protocol.TopicName(p.TopicPartition.Topic)}
		},
		func(t *protocol.OffsetForLeaderEpochRequestOffsetForLeaderTopic, p OffsetForLeaderEpochPartition) {
			t.Partitions = append(t.Partitions, protocol.OffsetForLeaderEpochRequestOffsetForLeaderPartition{
				Partition: p.TopicPartition.Partition, CurrentLeaderEpoch: p.CurrentLeaderEpoch, LeaderEpoch: p.LeaderEpoch,
			})
		})
	raw, err := e.roundTrip(ctx, r, epochsVersion, 0)
	if err != nil {
		return nil, err
	}
	answers := collectAnswers(raw.(*protocol.OffsetForLeaderEpochResponse).Topics,
		func(t protocol.OffsetForLeaderEpochResponseOffsetForLeaderTopicResult) (string, []protocol.OffsetForLeaderEpochResponseEpochEndOffset) {
			return string(t.Topic), t.Partitions
		},
		func(p protocol.OffsetForLeaderEpochResponseEpochEndOffset) int32 { return p.Partition })
	out := &OffsetForLeaderEpochResponse{Partitions: make([]OffsetForLeaderEpochPartitionResponse, len(req.Partitions))}
	for i, p := range req.Partitions {
		pr := &out.Partitions[i]
		pr.TopicPartition, pr.EpochEndOffset = p.TopicPartition, EpochEndOffset{Epoch: -1, EndOffset: -1}
		a, ok := answers[p.TopicPartition]
		if !ok {
			pr.Err = e.missing(p.TopicPartition, "answer")
			continue
		}
		pr.Err = codeError(a.ErrorCode)
		pr.EpochEndOffset = EpochEndOffset{Epoch: a.LeaderEpoch, EndOffset: a.EndOffset}
	}
	return out, nil
}

// ListOffsets asks for the leader's log start or end offsets as a replica
// (the log end, not the high watermark, for LatestTimestamp).
func (e *tcpEndpoint) ListOffsets(ctx context.Context, req *ListOffsetsRequest) (*ListOffsetsResponse, error) {
	r := &protocol.ListOffsetsRequest{ReplicaID: protocol.BrokerID(req.ReplicaID), TimeoutMs: int32(e.cfg.Timeout / time.Millisecond)}
	r.Topics = groupByTopic(req.Partitions, func(p ListOffsetsPartition) string { return p.TopicPartition.Topic },
		func(p ListOffsetsPartition) protocol.ListOffsetsRequestListOffsetsTopic {
			return protocol.ListOffsetsRequestListOffsetsTopic{Name: protocol.TopicName(p.TopicPartition.Topic)}
		},
		func(t *protocol.ListOffsetsRequestListOffsetsTopic, p ListOffsetsPartition) {
			t.Partitions = append(t.Partitions, protocol.ListOffsetsRequestListOffsetsPartition{
				PartitionIndex: p.TopicPartition.Partition, CurrentLeaderEpoch: p.CurrentLeaderEpoch, Timestamp: p.Timestamp, MaxNumOffsets: 1,
			})
		})
	raw, err := e.roundTrip(ctx, r, listOffsetsVersion, 0)
	if err != nil {
		return nil, err
	}
	answers := collectAnswers(raw.(*protocol.ListOffsetsResponse).Topics,
		func(t protocol.ListOffsetsResponseListOffsetsTopicResponse) (string, []protocol.ListOffsetsResponseListOffsetsPartitionResponse) {
			return string(t.Name), t.Partitions
		},
		func(p protocol.ListOffsetsResponseListOffsetsPartitionResponse) int32 { return p.PartitionIndex })
	out := &ListOffsetsResponse{Partitions: make([]ListOffsetsPartitionResponse, len(req.Partitions))}
	for i, p := range req.Partitions {
		pr := &out.Partitions[i]
		pr.TopicPartition, pr.Offset, pr.LeaderEpoch = p.TopicPartition, -1, -1
		a, ok := answers[p.TopicPartition]
		if !ok {
			pr.Err = e.missing(p.TopicPartition, "answer")
			continue
		}
		pr.Err = codeError(a.ErrorCode)
		pr.Offset, pr.LeaderEpoch = a.Offset, a.LeaderEpoch
	}
	return out, nil
}

// groupByTopic builds a request's topic array from partitions in
// first-seen topic order, as Kafka's request builders do: key names a
// partition's topic, newTopic makes the entry of a topic seen first, and
// add appends a partition to its topic's entry.
func groupByTopic[K comparable, P, T any](parts []P, key func(P) K, newTopic func(P) T, add func(*T, P)) []T {
	var out []T
	at := map[K]int{}
	for _, p := range parts {
		k := key(p)
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, newTopic(p))
		}
		add(&out[i], p)
	}
	return out
}

// collectAnswers indexes a response's per-partition answers by topic and
// partition: partitionsOf reads a topic's name and answers, index an
// answer's partition. A partition answered twice keeps its last answer.
func collectAnswers[T, A any](topics []T, partitionsOf func(T) (string, []A), index func(A) int32) map[storage.TopicPartition]A {
	out := map[storage.TopicPartition]A{}
	for _, t := range topics {
		name, parts := partitionsOf(t)
		for _, a := range parts {
			out[storage.TopicPartition{Topic: name, Partition: index(a)}] = a
		}
	}
	return out
}

// missing is the error of a partition asked for that the leader's answer
// (what) leaves out.
func (e *tcpEndpoint) missing(tp storage.TopicPartition, what string) error {
	return fmt.Errorf("%s: missing from broker %d's %s: %w", tp, e.leader, what, ErrUnknownTopicOrPartition)
}
