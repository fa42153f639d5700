package controller

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func strPtr(s string) *string { return &s }

func addVoterReq(id int32, dir protocol.UUID, addr string) *protocol.AddRaftVoterRequest {
	host, port := splitEndpoint(addr)
	return &protocol.AddRaftVoterRequest{ClusterID: strPtr("test-cluster"), TimeoutMs: 5000, VoterID: id, VoterDirectoryID: dir,
		Listeners: []protocol.AddRaftVoterRequestListener{{Name: "CONTROLLER", Host: host, Port: uint16(port)}}}
}

func dynamicConfig(t *testing.T, id int32, dir protocol.UUID) Config {
	cfg := soleConfig(t, t.TempDir())
	cfg.NodeID, cfg.DirectoryID, cfg.DynamicQuorum = id, dir, true
	cfg.Voters[0].ID = id
	return cfg
}

// TestVoterChangeRefusals checks the refusals of AddRaftVoter,
// RemoveRaftVoter and UpdateRaftVoter against Kafka's (KafkaRaftClient,
// AddVoterHandler, RemoveVoterHandler): codes and messages.
func TestVoterChangeRefusals(t *testing.T) {
	dir1, dir2 := protocol.UUID{1: 1}, protocol.UUID{1: 2}
	static := openController(t, soleConfig(t, t.TempDir()))
	mux := newMuxStream(t)
	dcfg := dynamicConfig(t, 1, dir1)
	dcfg.Voters[0].Addr, dcfg.Stream = mux.Addr().String(), mux
	dyn := openController(t, dcfg)
	mux.ctrl.Store(dyn)
	require.Equal(t, int16(0), static.Image().Feature(KRaftVersionFeature))
	require.Equal(t, int16(1), dyn.Image().Feature(KRaftVersionFeature))
	self := dyn.cfg.Voters[0].Addr
	ctx := context.Background()

	type result struct {
		code int16
		msg  string
	}
	add := func(c *Controller, r *protocol.AddRaftVoterRequest) result {
		resp := c.handleAddRaftVoter(ctx, r)
		var m string
		if resp.ErrorMessage != nil {
			m = *resp.ErrorMessage
		}
		return result{resp.ErrorCode, m}
	}
	remove := func(c *Controller, id int32, dir protocol.UUID) result {
		resp := c.handleRemoveRaftVoter(ctx, &protocol.RemoveRaftVoterRequest{ClusterID: strPtr("test-cluster"), VoterID: id, VoterDirectoryID: dir})
		var m string
		if resp.ErrorMessage != nil {
			m = *resp.ErrorMessage
		}
		return result{resp.ErrorCode, m}
	}
	noListener := addVoterReq(2, dir2, freeAddr(t))
	noListener.Listeners[0].Name = "PLAINTEXT"
	otherCluster := addVoterReq(2, dir2, freeAddr(t))
	otherCluster.ClusterID = strPtr("elsewhere")

	for _, tc := range []struct {
		name string
		got  func() result
		want result
	}{
		{"add: other cluster", func() result { return add(dyn, otherCluster) },
			result{errcode.InconsistentClusterID, `The given id "elsewhere" doesn't match the cluster id "test-cluster"`}},
		{"add: no directory id", func() result { return add(dyn, addVoterReq(2, protocol.UUID{}, freeAddr(t))) },
			result{errcode.InvalidRequest, "Add voter request didn't include a valid voter"}},
		{"add: no controller listener", func() result { return add(dyn, noListener) },
			result{errcode.InvalidRequest, "Add voter request didn't include the endpoint (Endpoints(endpoints={PLAINTEXT=" + noListener.Listeners[0].Host + "/<unresolved>:" + strconv.Itoa(int(noListener.Listeners[0].Port)) + "})) for the default listener CONTROLLER"}},
		{"add: static quorum", func() result { return add(static, addVoterReq(2, dir2, freeAddr(t))) },
			result{errcode.UnsupportedVersion, "Cluster doesn't support adding voter because the kraft.version feature is 0"}},
		{"add: duplicate", func() result { return add(dyn, addVoterReq(1, dir1, self)) },
			result{errcode.DuplicateVoter, "The voter id for ReplicaKey(id=1, directoryId=AAEAAAAAAAAAAAAAAAAAAA) is already part of the set of voters [ReplicaKey(id=1, directoryId=AAEAAAAAAAAAAAAAAAAAAA)]."}},
		{"add: unreachable", func() result { return add(dyn, addVoterReq(2, dir2, freeAddr(t))) },
			result{errcode.RequestTimedOut, "New voter ReplicaKey(id=2, directoryId=AAIAAAAAAAAAAAAAAAAAAA) is not ready to receive requests"}},
		{"add: not an observer", func() result { return add(dyn, addVoterReq(2, dir2, self)) },
			result{errcode.RequestTimedOut, "Aborted add voter operation for ReplicaKey(id=2, directoryId=AAIAAAAAAAAAAAAAAAAAAA) since it is lagging behind"}},
		{"remove: static quorum", func() result { return remove(static, 1, dir1) },
			result{errcode.UnsupportedVersion, "Cluster doesn't support removing voter because the kraft.version feature is 0"}},
		{"remove: no directory id", func() result { return remove(dyn, 1, protocol.UUID{}) },
			result{errcode.InvalidRequest, "Remove voter request didn't include a valid voter"}},
		{"remove: unknown voter", func() result { return remove(dyn, 7, dir2) },
			result{errcode.VoterNotFound, "Cannot remove voter ReplicaKey(id=7, directoryId=AAIAAAAAAAAAAAAAAAAAAA) from the set of voters [ReplicaKey(id=1, directoryId=AAEAAAAAAAAAAAAAAAAAAA)]"}},
		{"remove: wrong directory id", func() result { return remove(dyn, 1, dir2) },
			result{errcode.VoterNotFound, "Cannot remove voter ReplicaKey(id=1, directoryId=AAIAAAAAAAAAAAAAAAAAAA) from the set of voters [ReplicaKey(id=1, directoryId=AAEAAAAAAAAAAAAAAAAAAA)]"}},
		{"remove: the last voter", func() result { return remove(dyn, 1, dir1) },
			result{errcode.VoterNotFound, "Cannot remove voter ReplicaKey(id=1, directoryId=AAEAAAAAAAAAAAAAAAAAAA) from the set of voters [ReplicaKey(id=1, directoryId=AAEAAAAAAAAAAAAAAAAAAA)]"}},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, tc.got()) })
	}

	upd := func(epoch int32, id int32, dir protocol.UUID) int16 {
		host, port := splitEndpoint(self)
		return dyn.handleUpdateRaftVoter(&protocol.UpdateRaftVoterRequest{CurrentLeaderEpoch: epoch, VoterID: id, VoterDirectoryID: dir,
			Listeners:           []protocol.UpdateRaftVoterRequestListener{{Name: "CONTROLLER", Host: host, Port: uint16(port)}},
			KRaftVersionFeature: protocol.UpdateRaftVoterRequestKRaftVersionFeature{MaxSupportedVersion: 1}}).ErrorCode
	}
	term := dyn.term()
	require.Equal(t, errcode.FencedLeaderEpoch, upd(term-1, 1, dir1))
	require.Equal(t, errcode.UnknownLeaderEpoch, upd(term+1, 1, dir1))
	require.Equal(t, errcode.VoterNotFound, upd(term, 2, dir2))
	require.Equal(t, errcode.None, upd(term, 1, dir1))

	err := dyn.UpdateFeatures(ctx, []FeatureUpdate{{Name: KRaftVersionFeature, Level: 0, Type: SafeDowngrade}}, false)
	require.ErrorIs(t, err, ErrInvalidUpdateVersion)
	require.NoError(t, static.UpdateFeatures(ctx, []FeatureUpdate{{Name: KRaftVersionFeature, Level: 1, Type: Upgrade}}, false))
	require.Equal(t, int16(1), static.Image().Feature(KRaftVersionFeature))
}

// TestJoinAndLeaveQuorum grows a dynamic sole voter to two voters with a
// controller that started outside the voter set (it observes, catches up,
// is added and then applies through raft), then removes the leader itself,
// which steps down so the new voter leads alone and keeps the metadata.
func TestJoinAndLeaveQuorum(t *testing.T) {
	dir1, dir2 := protocol.UUID{1: 1}, protocol.UUID{1: 2}
	m1, m2 := newMuxStream(t), newMuxStream(t)
	cfg1 := dynamicConfig(t, 1, dir1)
	cfg1.Voters[0].Addr, cfg1.Stream = m1.Addr().String(), m1
	// Both voters elect with the same timing: a sole voter's 50 ms would
	// campaign too eagerly once it has a peer.
	cfg1.HeartbeatTimeout, cfg1.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
	c1 := openController(t, cfg1)
	m1.ctrl.Store(c1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	registerBrokers(t, c1, 1)

	addr2 := m2.Addr().String()
	cfg2 := Config{NodeID: 2, ClusterID: "test-cluster", Dir: t.TempDir(), DirectoryID: dir2, Advertise: addr2, Stream: m2,
		Bootstrap: []string{c1.cfg.Voters[0].Addr}, Logger: testLogger(t), FetchTimeout: 2 * time.Second,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond}
	c2 := openController(t, cfg2)
	m2.ctrl.Store(c2)
	require.False(t, c2.IsVoter())
	require.Eventually(t, func() bool { return len(c2.Image().Brokers()) == 1 }, 10*time.Second, 10*time.Millisecond, "the observer applies the log")
	require.Eventually(t, func() bool { return c1.observerCaughtUp(2, dir2, time.Now()) }, 10*time.Second, 10*time.Millisecond)

	resp := c1.handleAddRaftVoter(ctx, addVoterReq(2, dir2, addr2))
	require.Equal(t, errcode.None, resp.ErrorCode, "%v", resp.ErrorMessage)
	require.Equal(t, []int32{1, 2}, c1.voterIDs())
	require.Eventually(t, c2.IsVoter, 10*time.Second, 10*time.Millisecond)
	registerBrokers(t, c1, 3)
	require.Eventually(t, func() bool { return len(c2.Image().Brokers()) == 2 }, 10*time.Second, 10*time.Millisecond, "raft replicates to the new voter")

	rr := c1.handleRemoveRaftVoter(ctx, &protocol.RemoveRaftVoterRequest{ClusterID: strPtr("test-cluster"), VoterID: 1, VoterDirectoryID: dir1})
	require.Equal(t, errcode.None, rr.ErrorCode, "%v", rr.ErrorMessage)
	require.Eventually(t, c2.IsActive, 20*time.Second, 10*time.Millisecond, "the remaining voter leads")
	require.Equal(t, []int32{2}, c2.voterIDs())
	require.False(t, c1.IsVoter())
	registerBrokers(t, c2, 4)
	require.Len(t, c2.Image().Brokers(), 3)
	require.Eventually(t, func() bool { return len(c1.Image().Brokers()) == 3 }, 10*time.Second, 10*time.Millisecond, "the removed voter observes")
}

// muxStream is a test CONTROLLER listener: one port for raft (connections
// opening with muxPreamble) and the Kafka controller RPCs, as
// internal/node's listener multiplexes them.
type muxStream struct {
	ln    net.Listener
	raftC chan net.Conn
	ctrl  atomic.Pointer[Controller]
	done  chan struct{}
	wg    sync.WaitGroup
}

const muxPreamble = "MUXRAFT001"

func newMuxStream(t *testing.T) *muxStream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	m := &muxStream{ln: ln, raftC: make(chan net.Conn), done: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			m.wg.Add(1)
			go m.serve(nc)
		}
	}()
	t.Cleanup(func() {
		close(m.done)
		ln.Close()
		m.wg.Wait()
	})
	return m
}

func (m *muxStream) serve(nc net.Conn) {
	defer m.wg.Done()
	br := bufio.NewReader(nc)
	head, err := br.Peek(len(muxPreamble))
	if err != nil {
		nc.Close()
		return
	}
	if string(head) == muxPreamble {
		_, _ = br.Discard(len(muxPreamble))
		select {
		case m.raftC <- &peekedConn{Conn: nc, r: br}:
		case <-m.done:
			nc.Close()
		}
		return
	}
	defer nc.Close()
	closed := make(chan struct{})
	defer close(closed)
	go func() {
		select {
		case <-m.done:
			nc.Close()
		case <-closed:
		}
	}()
	for {
		frame, err := protocol.ReadFrame(br, protocol.DefaultMaxRequestSize, nil)
		if err != nil {
			return
		}
		hdr, req, err := protocol.ParseRequest(frame)
		c := m.ctrl.Load()
		if err != nil || c == nil || !Serves(hdr.RequestAPIKey, hdr.RequestAPIVersion) {
			return
		}
		out, err := protocol.AppendResponse(nil, hdr.CorrelationID, hdr.RequestAPIKey, hdr.RequestAPIVersion, c.HandleRPC(context.Background(), &hdr, req))
		if err != nil {
			return
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (m *muxStream) Accept() (net.Conn, error) {
	select {
	case nc := <-m.raftC:
		return nc, nil
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *muxStream) Close() error   { return nil }
func (m *muxStream) Addr() net.Addr { return m.ln.Addr() }

func (m *muxStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write([]byte(muxPreamble)); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}
