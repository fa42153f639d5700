package controller

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
)

// serveRPC serves c's controller RPCs on a loopback port, one request at a
// time per connection (internal/node does the same on the CONTROLLER
// listener), and returns the address.
func serveRPC(t *testing.T, c *Controller) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[nc] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				for {
					frame, err := protocol.ReadFrame(nc, protocol.DefaultMaxRequestSize, nil)
					if err != nil {
						return
					}
					hdr, req, err := protocol.ParseRequest(frame)
					if err != nil || !Serves(hdr.RequestAPIKey, hdr.RequestAPIVersion) {
						return
					}
					out, err := protocol.AppendResponse(nil, hdr.CorrelationID, hdr.RequestAPIKey, hdr.RequestAPIVersion, c.HandleRPC(ctx, &hdr, req))
					if err != nil {
						return
					}
					if _, err := nc.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		mu.Lock()
		for nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestClientImplementations runs one body against each Client: the
// controller itself, and a Router forwarding every call as a Kafka RPC.
// A forwarded call must succeed and fail exactly like a local one.
func TestClientImplementations(t *testing.T) {
	impls := map[string]func(t *testing.T, c *Controller) Client{
		"local": func(t *testing.T, c *Controller) Client { return c },
		"forwarded": func(t *testing.T, c *Controller) Client {
			addr := serveRPC(t, c)
			r := NewRouter(RouterConfig{NodeID: 1, Metadata: c, Leader: func() (int32, string, bool) { return 1, addr, true }, Logger: testLogger(t)})
			t.Cleanup(r.Close)
			return r
		},
	}
	for name, newClient := range impls {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cfg := soleConfig(t, t.TempDir())
			cfg.ValidateConfig = func(_ int8, _ string, merged map[string]string) error {
				if merged["retention.ms"] == "-5" {
					return errors.New("Invalid value -5 for configuration retention.ms")
				}
				return nil
			}
			c := openController(t, cfg)
			cl := newClient(t, c)

			// Brokers register fenced and are unfenced once caught up.
			for _, id := range []int32{1, 2, 3} {
				epoch, err := cl.RegisterBroker(ctx, BrokerRegistration{ID: id, ClusterID: "test-cluster", IncarnationID: NewTopicID(),
					Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "h", Port: uint16(9000 + id)}}, Rack: strp("r1")})
				require.NoError(t, err)
				reply, err := cl.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
				require.NoError(t, err)
				require.True(t, reply.IsCaughtUp)
				require.False(t, reply.IsFenced)
				if r, ok := cl.(*Router); ok && id == 1 {
					r.SetBrokerEpoch(epoch)
				}
			}
			b2 := cl.Image().Broker(2)
			require.Equal(t, []Endpoint{{Name: "PLAINTEXT", Host: "h", Port: 9002}}, b2.Endpoints)
			require.Equal(t, "r1", *b2.Rack)
			_, err := cl.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 2, BrokerEpoch: b2.Epoch + 1})
			require.ErrorIs(t, err, ErrStaleBrokerEpoch)
			_, err = cl.RegisterBroker(ctx, BrokerRegistration{ID: 4, ClusterID: "wrong"})
			require.ErrorIs(t, err, ErrInconsistentClusterID)

			res := cl.CreateTopics(ctx, []CreateTopic{
				{Name: "a", NumPartitions: 3, ReplicationFactor: 3, Configs: map[string]*string{"cleanup.policy": strp("compact")}},
				{Name: "b", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {3, 1}, 1: {2, 3}}},
				{Name: "bad name!", NumPartitions: 1, ReplicationFactor: 1},
				{Name: "rf", NumPartitions: 1, ReplicationFactor: 4},
			}, false)
			require.NoError(t, res[0].Err)
			require.NotEqual(t, TopicID{}, res[0].TopicID)
			require.Equal(t, int32(3), res[0].NumPartitions)
			require.Equal(t, int16(3), res[0].ReplicationFactor)
			require.NoError(t, res[1].Err)
			require.Equal(t, int32(2), res[1].NumPartitions)
			require.ErrorIs(t, res[2].Err, ErrInvalidTopic)
			require.ErrorIs(t, res[3].Err, ErrInvalidReplicationFactor)
			code, msg := ErrorCode(res[3].Err)
			require.Equal(t, int16(38), code)
			require.Equal(t, "Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered.", msg)
			require.Equal(t, res[0].TopicID, cl.Image().Topic("a").ID, "the write is in the local image when it returns")

			res = cl.CreateTopics(ctx, []CreateTopic{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}}, false)
			require.ErrorIs(t, res[0].Err, ErrTopicExists)
			_, msg = ErrorCode(res[0].Err)
			require.Equal(t, "Topic 'a' already exists.", msg)
			res = cl.CreateTopics(ctx, []CreateTopic{{Name: "dry", NumPartitions: 2, ReplicationFactor: 1}}, true)
			require.NoError(t, res[0].Err)
			require.Nil(t, cl.Image().Topic("dry"))

			require.NoError(t, cl.CreatePartitions(ctx, "a", 4, nil, false))
			require.ErrorIs(t, cl.CreatePartitions(ctx, "a", 2, nil, false), ErrInvalidPartitions)
			require.ErrorIs(t, cl.CreatePartitions(ctx, "zz", 2, nil, false), ErrUnknownTopic)
			require.ErrorIs(t, cl.CreatePartitions(ctx, "b", 3, [][]int32{{1}}, false), ErrInvalidReplicaAssignment)
			require.NoError(t, cl.CreatePartitions(ctx, "b", 3, [][]int32{{1, 2}}, false))
			require.Len(t, cl.Image().Topic("b").Partitions, 3)

			require.NoError(t, cl.AlterConfigs(ctx, ResourceTopic, "a", []ConfigOp{{Key: "retention.ms", Value: strp("1000")}}, false))
			require.Equal(t, "1000", cl.Image().Config(ResourceTopic, "a")["retention.ms"])
			require.ErrorIs(t, cl.AlterConfigs(ctx, ResourceTopic, "a", []ConfigOp{{Key: "retention.ms", Value: strp("-5")}}, false), ErrInvalidConfig)
			require.NoError(t, cl.ReplaceConfigs(ctx, ResourceTopic, "a", map[string]string{"segment.ms": "5000"}, false))
			require.Equal(t, map[string]string{"segment.ms": "5000"}, cl.Image().Config(ResourceTopic, "a"))
			require.ErrorIs(t, cl.ReplaceConfigs(ctx, 99, "x", nil, false), ErrInvalidRequest)

			parts, errs, err := cl.ElectLeaders(ctx, ElectionPreferred, []TopicPartition{{Topic: "a", Partition: 0}, {Topic: "nope", Partition: 1}})
			require.NoError(t, err)
			require.Equal(t, []TopicPartition{{Topic: "a", Partition: 0}, {Topic: "nope", Partition: 1}}, parts)
			require.ErrorIs(t, errs[0], ErrElectionNotNeeded)
			require.ErrorIs(t, errs[1], ErrUnknownTopic)

			p1 := cl.Image().Topic("b").Partitions[1]
			rerrs, err := cl.AlterPartitionReassignments(ctx, false, []Reassignment{
				{Topic: "b", Partition: 1, Replicas: []int32{p1.Replicas[1], p1.Replicas[0]}},
				{Topic: "b", Partition: 0, Replicas: []int32{1}},
				{Topic: "b", Partition: 0, Replicas: nil},
			})
			require.NoError(t, err)
			require.NoError(t, rerrs[0])
			require.ErrorIs(t, rerrs[1], ErrInvalidReplicationFactor)
			require.ErrorIs(t, rerrs[2], ErrNoReassignmentInProgress)
			require.Equal(t, []int32{p1.Replicas[1], p1.Replicas[0]}, cl.Image().Topic("b").Partitions[1].Replicas)

			first, err := cl.AllocateProducerIDs(ctx, 1000)
			require.NoError(t, err)
			next, err := cl.AllocateProducerIDs(ctx, 1000)
			require.NoError(t, err)
			require.Equal(t, first+1000, next)

			pa := cl.Image().Topic("a").Partitions[0]
			others := without(pa.ISR, pa.Leader)
			out, err := cl.AlterPartition(ctx, pa.Leader, cl.Image().Broker(pa.Leader).Epoch, []ISRUpdate{
				{TopicID: cl.Image().Topic("a").ID, Partition: 0, LeaderEpoch: pa.LeaderEpoch, PartitionEpoch: pa.PartitionEpoch, NewISR: []int32{pa.Leader, others[0]}},
				{TopicID: cl.Image().Topic("a").ID, Partition: 1, LeaderEpoch: 0, PartitionEpoch: 99, NewISR: []int32{1}},
			})
			require.NoError(t, err)
			require.NoError(t, out[0].Err)
			require.Equal(t, []int32{pa.Leader, others[0]}, out[0].ISR)
			require.ErrorIs(t, out[1].Err, ErrNotController)
			_, err = cl.AlterPartition(ctx, 1, 424242, nil)
			require.ErrorIs(t, err, ErrStaleBrokerEpoch)

			del := cl.DeleteTopics(ctx, []TopicRef{{Name: "b"}, {Name: "nope"}, {ID: NewTopicID()}})
			require.NoError(t, del[0].Err)
			require.ErrorIs(t, del[1].Err, ErrUnknownTopic)
			require.ErrorIs(t, del[2].Err, ErrUnknownTopicID)
			require.Nil(t, cl.Image().Topic("b"))

			require.NoError(t, cl.UnregisterBroker(ctx, 3))
			require.ErrorIs(t, cl.UnregisterBroker(ctx, 3), ErrBrokerIDNotRegistered)
		})
	}
}

// TestRouterWaitsForALeader: with no leader known, a write retries until
// its context ends and fails with NOT_CONTROLLER; once a leader appears,
// the same Router succeeds.
func TestRouterWaitsForALeader(t *testing.T) {
	c := openController(t, soleConfig(t, t.TempDir()))
	addr := serveRPC(t, c)
	var mu sync.Mutex
	known := false
	r := NewRouter(RouterConfig{NodeID: 1, Metadata: c, Logger: testLogger(t), Leader: func() (int32, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if !known {
			return -1, "", false
		}
		return 1, addr, true
	}})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := r.RegisterBroker(ctx, BrokerRegistration{ID: 1})
	require.ErrorIs(t, err, ErrNotController)

	// The same call, started with no leader known, completes once one is.
	done := make(chan error, 1)
	go func() {
		_, err := r.RegisterBroker(context.Background(), BrokerRegistration{ID: 1})
		done <- err
	}()
	mu.Lock()
	known = true
	mu.Unlock()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("registration did not complete once a leader was known")
	}
	require.NotNil(t, c.Image().Broker(1))
}

// TestObserverFollowsTheLog: observers catch up from the log, and from a
// snapshot when the log has been compacted past their position, and end
// with the same image as the controller.
func TestObserverFollowsTheLog(t *testing.T) {
	ctx := context.Background()
	cfg := soleConfig(t, t.TempDir())
	cfg.TrailingLogs = 2
	c := openController(t, cfg)
	addr := serveRPC(t, c)
	registerBrokers(t, c, 1, 2)
	for _, name := range []string{"x", "y", "z"} {
		res := c.CreateTopics(ctx, []CreateTopic{{Name: name, NumPartitions: 2, ReplicationFactor: 2}}, false)
		require.NoError(t, res[0].Err)
	}
	sameImage := func(o *Observer) func() bool {
		return func() bool { return o.Image().Offset() == c.Image().Offset() }
	}

	o1, err := OpenObserver(ObserverConfig{NodeID: 7, ClusterID: "test-cluster", Voters: []Voter{{ID: 1, Addr: addr}}, Logger: testLogger(t), FetchMaxWait: 50 * time.Millisecond})
	require.NoError(t, err)
	defer o1.Close()
	require.Eventually(t, sameImage(o1), 10*time.Second, 5*time.Millisecond)
	require.Equal(t, c.Image(), o1.Image())
	id, leaderAddr, ok := o1.Leader()
	require.True(t, ok)
	require.Equal(t, int32(1), id)
	require.Equal(t, addr, leaderAddr)

	// Compact the log: a new observer must start from the snapshot.
	require.NoError(t, c.Snapshot())
	first, err := c.logs.FirstIndex()
	require.NoError(t, err)
	require.Greater(t, first, uint64(2), "the log was compacted")
	o2, err := OpenObserver(ObserverConfig{NodeID: 8, ClusterID: "test-cluster", Bootstrap: []string{addr}, Logger: testLogger(t), FetchMaxWait: 50 * time.Millisecond})
	require.NoError(t, err)
	defer o2.Close()
	require.Eventually(t, sameImage(o2), 10*time.Second, 5*time.Millisecond)
	require.Equal(t, c.Image(), o2.Image())

	// Both follow new writes, and subscribers see them.
	updates, unsubscribe := o2.Subscribe()
	defer unsubscribe()
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "later", NumPartitions: 1, ReplicationFactor: 1}}, false)
	require.NoError(t, res[0].Err)
	require.Eventually(t, func() bool { return sameImage(o1)() && sameImage(o2)() }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		select {
		case img := <-updates:
			return img.Topic("later") != nil
		default:
			return false
		}
	}, 10*time.Second, 5*time.Millisecond)

	// An observer of another cluster is refused.
	o3, err := OpenObserver(ObserverConfig{NodeID: 9, ClusterID: "other", Voters: []Voter{{ID: 1, Addr: addr}}, Logger: testLogger(t)})
	require.NoError(t, err)
	defer o3.Close()
	rpc := kafkarpc.New("t")
	defer rpc.Close()
	other := "other"
	resp, err := rpc.Call(ctx, addr, &protocol.FetchRequest{ClusterID: &other, Topics: []protocol.FetchRequestFetchTopic{{TopicID: MetadataTopicID, Partitions: []protocol.FetchRequestFetchPartition{{}}}}})
	require.NoError(t, err)
	require.True(t, errors.Is(CodeError(resp.(*protocol.FetchResponse).ErrorCode, nil), ErrInconsistentClusterID))
	require.Zero(t, o3.Image().Offset())
}
