package controller

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// RouterConfig configures a Router.
type RouterConfig struct {
	NodeID int32
	// Local is this node's quorum member; nil on a broker-only node.
	Local *Controller
	// Metadata is this node's copy of the metadata (Local, or an
	// Observer).
	Metadata Metadata
	// Leader returns the node ID and controller-listener address of the
	// active controller as far as this node knows.
	Leader func() (id int32, addr string, ok bool)
	Logger *zap.Logger
	// Dial connects to controller listeners (nil: plain TCP).
	Dial DialFunc
	// Backoff bounds the wait between attempts (default 10 ms doubling to
	// 250 ms: finding a new controller must fit well within a broker
	// session).
	MinBackoff, MaxBackoff time.Duration
}

// Router is the Client every broker uses: reads come from the node's own
// metadata copy; each write runs on the local controller when it is the
// active one, and is otherwise sent as the Kafka RPC to the active
// controller. NOT_CONTROLLER, an unknown leader and connection failures are
// retried with bounded exponential back-off until ctx ends (30 s when ctx
// has no deadline); errors of the write itself are returned as they are.
type Router struct {
	cfg    RouterConfig
	logger *zap.Logger
	rpc    *kafkarpc.Client
	epoch  atomic.Int64 // this broker's epoch, for AllocateProducerIds
}

// errNoLeader: no controller leader is known yet.
var errNoLeader = fmt.Errorf("%w: no controller leader is known", ErrNotController)

// NewRouter returns a Router.
func NewRouter(cfg RouterConfig) *Router {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 10 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 250 * time.Millisecond
	}
	r := &Router{cfg: cfg, logger: cfg.Logger, rpc: kafkarpc.NewDialing("spool-node-"+strconv.Itoa(int(cfg.NodeID)), cfg.Dial)}
	r.epoch.Store(-1)
	return r
}

// SetBrokerEpoch records this broker's epoch once registered; forwarded
// AllocateProducerIds requests carry it.
func (r *Router) SetBrokerEpoch(epoch int64) { r.epoch.Store(epoch) }

// Close releases the Router's connections.
func (r *Router) Close() { r.rpc.Close() }

// Image implements Metadata.
func (r *Router) Image() *MetadataImage { return r.cfg.Metadata.Image() }

// Subscribe implements Metadata.
func (r *Router) Subscribe() (<-chan *MetadataImage, func()) { return r.cfg.Metadata.Subscribe() }

// local returns the local controller when it is the active one.
func (r *Router) local() *Controller {
	if l := r.cfg.Local; l != nil && l.IsActive() {
		return l
	}
	return nil
}

// send forwards req to the active controller.
func (r *Router) send(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	_, addr, ok := r.cfg.Leader()
	if !ok {
		return nil, errNoLeader
	}
	return r.rpc.Call(ctx, addr, req)
}

// catchUpTimeout bounds how long a forwarded write waits to become visible
// in this node's image.
const catchUpTimeout = 5 * time.Second

// catchUp makes a forwarded write visible here before the call returns,
// as a local write is (CatchUp). It is best effort: on any failure the
// write still succeeded, and the image follows a moment later.
func (r *Router) catchUp(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	if err := r.CatchUp(ctx); err != nil {
		r.logger.Debug("forwarded write not yet visible here", zap.Error(err))
	}
}

// CatchUp waits until this node has applied the metadata log as far as
// it was committed when the call began: it asks the active controller for
// its high watermark (DescribeQuorum; read locally when this node is the
// active controller) and waits for this node's image to reach it.
func (r *Router) CatchUp(ctx context.Context) error {
	w, ok := r.cfg.Metadata.(interface {
		WaitApplied(ctx context.Context, index uint64) error
	})
	if !ok {
		return errors.New("controller: this node's metadata cannot be waited for")
	}
	if l := r.local(); l != nil {
		return w.WaitApplied(ctx, l.raft.CommitIndex())
	}
	resp, err := r.send(ctx, describeQuorumRequest())
	if err != nil {
		return err
	}
	dq := resp.(*protocol.DescribeQuorumResponse)
	if dq.ErrorCode != 0 || len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 {
		return fmt.Errorf("controller: DescribeQuorum answered error %d", dq.ErrorCode)
	}
	p := dq.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return fmt.Errorf("controller: DescribeQuorum answered error %d for the metadata partition", p.ErrorCode)
	}
	if p.HighWatermark < 1 {
		return nil
	}
	return w.WaitApplied(ctx, uint64(p.HighWatermark-1))
}

// retriable errors are worth another attempt, perhaps at another node.
func retriable(err error) bool {
	return errors.Is(err, ErrNotController) || errors.Is(err, kafkarpc.ErrTransport)
}

// retry runs attempt until it succeeds, fails for good, or ctx (bounded to
// 30 s) ends; then it returns the last error.
func (r *Router) retry(ctx context.Context, op string, attempt func(ctx context.Context) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, kafkarpc.DefaultTimeout)
		defer cancel()
	}
	backoff := r.cfg.MinBackoff
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil || !retriable(err) {
			return err
		}
		if n%50 == 0 {
			r.logger.Info("controller write still waiting for an active controller", zap.String("op", op), zap.Int("attempts", n), zap.Error(err))
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(err, kafkarpc.ErrTransport) {
				return fmt.Errorf("%w: %s: %w", ErrRequestTimedOut, op, err)
			}
			return err
		case <-t.C:
		}
		backoff = min(backoff*2, r.cfg.MaxBackoff)
	}
}

// forward runs one controller operation through the Router: on the local
// controller when it is the active one, otherwise as the request req
// builds, sent to the active controller, whose answer read turns into the
// result. NOT_CONTROLLER (read returns it for an answer that says so), an
// unknown leader and connection failures are tried again as retry says;
// local and req get each attempt's context. A write (catchUp) that went to
// another node and ended for good is visible in this node's image when
// forward returns, as a local write is.
func forward[T any](ctx context.Context, r *Router, op string, catchUp bool,
	local func(context.Context, *Controller) (T, error),
	req func(context.Context) protocol.Request,
	read func(protocol.Response) (T, error),
) (T, error) {
	var out T
	remote := false
	err := r.retry(ctx, op, func(ctx context.Context) error {
		remote = false
		if l := r.local(); l != nil {
			var err error
			out, err = local(ctx, l)
			return err
		}
		remote = true
		resp, err := r.send(ctx, req(ctx))
		if err != nil {
			return err
		}
		out, err = read(resp)
		return err
	})
	if catchUp && remote && !retriable(err) {
		r.catchUp(ctx)
	}
	return out, err
}

// CreateTopics implements Client.
func (r *Router) CreateTopics(ctx context.Context, topics []CreateTopic, validateOnly bool) []CreateTopicResult {
	var out []CreateTopicResult
	remote := false
	err := r.retry(ctx, "CreateTopics", func(ctx context.Context) error {
		remote = false
		if l := r.local(); l != nil {
			out = l.CreateTopics(ctx, topics, validateOnly)
		} else {
			remote = true
			if err := forwardedQuotaCheck(ctx); err != nil {
				out = make([]CreateTopicResult, len(topics))
				for i, t := range topics {
					out[i] = CreateTopicResult{Name: t.Name, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor, Err: err}
				}
				return nil
			}
			resp, err := r.send(ctx, createTopicsRequest(ctx, topics, validateOnly))
			if err != nil {
				return err
			}
			out = createTopicsResults(topics, resp.(*protocol.CreateTopicsResponse))
			for _, res := range out {
				if res.Err == nil {
					chargeForwarded(ctx, int(res.NumPartitions))
				}
			}
		}
		for _, res := range out {
			if errors.Is(res.Err, ErrNotController) {
				return res.Err
			}
		}
		return nil
	})
	if remote && !retriable(err) {
		r.catchUp(ctx)
	}
	if err != nil {
		out = make([]CreateTopicResult, len(topics))
		for i, t := range topics {
			out[i] = CreateTopicResult{Name: t.Name, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor, Err: err}
		}
	}
	return out
}

// DeleteTopics implements Client.
func (r *Router) DeleteTopics(ctx context.Context, refs []TopicRef) []DeleteTopicResult {
	var out []DeleteTopicResult
	remote := false
	err := r.retry(ctx, "DeleteTopics", func(ctx context.Context) error {
		remote = false
		if l := r.local(); l != nil {
			out = l.DeleteTopics(ctx, refs)
		} else {
			remote = true
			if err := forwardedQuotaCheck(ctx); err != nil {
				out = make([]DeleteTopicResult, len(refs))
				for i, ref := range refs {
					out[i] = DeleteTopicResult{Name: ref.Name, TopicID: ref.ID, Err: err}
				}
				return nil
			}
			img := r.Image()
			resp, err := r.send(ctx, deleteTopicsRequest(ctx, refs))
			if err != nil {
				return err
			}
			out = deleteTopicsResults(refs, resp.(*protocol.DeleteTopicsResponse))
			for _, res := range out {
				if t := img.TopicByID(res.TopicID); res.Err == nil && t != nil {
					chargeForwarded(ctx, len(t.Partitions))
				} else if t := img.Topic(res.Name); res.Err == nil && t != nil {
					chargeForwarded(ctx, len(t.Partitions))
				}
			}
		}
		for _, res := range out {
			if errors.Is(res.Err, ErrNotController) {
				return res.Err
			}
		}
		return nil
	})
	if remote && !retriable(err) {
		r.catchUp(ctx)
	}
	if err != nil {
		out = make([]DeleteTopicResult, len(refs))
		for i, ref := range refs {
			out[i] = DeleteTopicResult{Name: ref.Name, TopicID: ref.ID, Err: err}
		}
	}
	return out
}

// CreatePartitions implements Client.
func (r *Router) CreatePartitions(ctx context.Context, topic string, newTotal int32, assignments [][]int32, validateOnly bool) error {
	remote := false
	err := r.retry(ctx, "CreatePartitions", func(ctx context.Context) error {
		remote = false
		if l := r.local(); l != nil {
			return l.CreatePartitions(ctx, topic, newTotal, assignments, validateOnly)
		}
		t := protocol.CreatePartitionsRequestCreatePartitionsTopic{Name: protocol.TopicName(topic), Count: newTotal}
		if assignments != nil {
			t.Assignments = []protocol.CreatePartitionsRequestCreatePartitionsAssignment{}
			for _, a := range assignments {
				t.Assignments = append(t.Assignments, protocol.CreatePartitionsRequestCreatePartitionsAssignment{BrokerIDs: brokerIDs(a)})
			}
		}
		remote = true
		if err := forwardedQuotaCheck(ctx); err != nil {
			return err
		}
		before := 0
		if ti := r.Image().Topic(topic); ti != nil {
			before = len(ti.Partitions)
		}
		resp, err := r.send(ctx, &protocol.CreatePartitionsRequest{Topics: []protocol.CreatePartitionsRequestCreatePartitionsTopic{t}, TimeoutMs: timeoutMs(ctx), ValidateOnly: validateOnly})
		if err != nil {
			return err
		}
		res := resp.(*protocol.CreatePartitionsResponse).Results
		if len(res) != 1 {
			return fmt.Errorf("%w: CreatePartitions answered %d results for 1 topic", ErrUnknownServerError, len(res))
		}
		err = CodeError(res[0].ErrorCode, res[0].ErrorMessage)
		if err == nil && int(newTotal) > before {
			chargeForwarded(ctx, int(newTotal)-before)
		}
		return err
	})
	if remote && !retriable(err) {
		r.catchUp(ctx)
	}
	return err
}

// AlterConfigs implements Client.
func (r *Router) AlterConfigs(ctx context.Context, resourceType int8, name string, ops []ConfigOp, validateOnly bool) error {
	_, err := forward(ctx, r, "IncrementalAlterConfigs", true,
		func(ctx context.Context, l *Controller) (struct{}, error) {
			return struct{}{}, l.AlterConfigs(ctx, resourceType, name, ops, validateOnly)
		},
		func(context.Context) protocol.Request {
			res := protocol.IncrementalAlterConfigsRequestAlterConfigsResource{ResourceType: resourceType, ResourceName: name}
			for _, op := range ops {
				res.Configs = append(res.Configs, protocol.IncrementalAlterConfigsRequestAlterableConfig{Name: op.Key, ConfigOperation: int8(op.Op), Value: op.Value})
			}
			return &protocol.IncrementalAlterConfigsRequest{Resources: []protocol.IncrementalAlterConfigsRequestAlterConfigsResource{res}, ValidateOnly: validateOnly}
		},
		func(resp protocol.Response) (struct{}, error) {
			out := resp.(*protocol.IncrementalAlterConfigsResponse).Responses
			if len(out) != 1 {
				return struct{}{}, fmt.Errorf("%w: IncrementalAlterConfigs answered %d results for 1 resource", ErrUnknownServerError, len(out))
			}
			return struct{}{}, CodeError(out[0].ErrorCode, out[0].ErrorMessage)
		})
	return err
}

// ReplaceConfigs implements Client.
func (r *Router) ReplaceConfigs(ctx context.Context, resourceType int8, name string, configs map[string]string, validateOnly bool) error {
	_, err := forward(ctx, r, "AlterConfigs", true,
		func(ctx context.Context, l *Controller) (struct{}, error) {
			return struct{}{}, l.ReplaceConfigs(ctx, resourceType, name, configs, validateOnly)
		},
		func(context.Context) protocol.Request {
			res := protocol.AlterConfigsRequestAlterConfigsResource{ResourceType: resourceType, ResourceName: name, Configs: []protocol.AlterConfigsRequestAlterableConfig{}}
			for _, k := range sortedKeys(configs) {
				v := configs[k]
				res.Configs = append(res.Configs, protocol.AlterConfigsRequestAlterableConfig{Name: k, Value: &v})
			}
			return &protocol.AlterConfigsRequest{Resources: []protocol.AlterConfigsRequestAlterConfigsResource{res}, ValidateOnly: validateOnly}
		},
		func(resp protocol.Response) (struct{}, error) {
			out := resp.(*protocol.AlterConfigsResponse).Responses
			if len(out) != 1 {
				return struct{}{}, fmt.Errorf("%w: AlterConfigs answered %d results for 1 resource", ErrUnknownServerError, len(out))
			}
			return struct{}{}, CodeError(out[0].ErrorCode, out[0].ErrorMessage)
		})
	return err
}

// ElectLeaders implements Client.
func (r *Router) ElectLeaders(ctx context.Context, election Election, parts []TopicPartition) ([]TopicPartition, []error, error) {
	type elected struct {
		parts []TopicPartition
		errs  []error
	}
	out, err := forward(ctx, r, "ElectLeaders", true,
		func(ctx context.Context, l *Controller) (elected, error) {
			outParts, errs, err := l.ElectLeaders(ctx, election, parts)
			return elected{outParts, errs}, err
		},
		func(ctx context.Context) protocol.Request { return electLeadersRequest(ctx, election, parts) },
		func(resp protocol.Response) (elected, error) {
			outParts, errs, err := electLeadersResults(resp.(*protocol.ElectLeadersResponse))
			return elected{outParts, errs}, err
		})
	return out.parts, out.errs, err
}

// AlterPartitionReassignments implements Client.
func (r *Router) AlterPartitionReassignments(ctx context.Context, allowRFChange bool, reqs []Reassignment) ([]error, error) {
	return forward(ctx, r, "AlterPartitionReassignments", true,
		func(ctx context.Context, l *Controller) ([]error, error) {
			return l.AlterPartitionReassignments(ctx, allowRFChange, reqs)
		},
		func(ctx context.Context) protocol.Request { return reassignmentsRequest(ctx, allowRFChange, reqs) },
		func(resp protocol.Response) ([]error, error) {
			return reassignmentsResults(len(reqs), resp.(*protocol.AlterPartitionReassignmentsResponse))
		})
}

// AllocateProducerIDs implements Client. A forwarded call reserves Kafka's
// block of 1000 whatever n is; n must be 1000 there.
func (r *Router) AllocateProducerIDs(ctx context.Context, n int32) (int64, error) {
	var first int64
	err := r.retry(ctx, "AllocateProducerIds", func(ctx context.Context) error {
		if l := r.local(); l != nil {
			var err error
			first, err = l.AllocateProducerIDs(ctx, n)
			return err
		}
		if n != producerIDBlock {
			return fmt.Errorf("%w: a forwarded producer id block is %d ids, not %d", ErrInvalidRequest, producerIDBlock, n)
		}
		resp, err := r.send(ctx, &protocol.AllocateProducerIdsRequest{BrokerID: protocol.BrokerID(r.cfg.NodeID), BrokerEpoch: r.epoch.Load()})
		if err != nil {
			return err
		}
		out := resp.(*protocol.AllocateProducerIdsResponse)
		if err := CodeError(out.ErrorCode, nil); err != nil {
			return err
		}
		first = int64(out.ProducerIDStart)
		return nil
	})
	return first, err
}

// RegisterBroker implements Client.
func (r *Router) RegisterBroker(ctx context.Context, reg BrokerRegistration) (int64, error) {
	return forward(ctx, r, "BrokerRegistration", false,
		func(ctx context.Context, l *Controller) (int64, error) { return l.RegisterBroker(ctx, reg) },
		func(context.Context) protocol.Request { return registrationRequest(reg) },
		func(resp protocol.Response) (int64, error) {
			out := resp.(*protocol.BrokerRegistrationResponse)
			return out.BrokerEpoch, CodeError(out.ErrorCode, nil)
		})
}

// BrokerHeartbeat implements Client.
func (r *Router) BrokerHeartbeat(ctx context.Context, hb BrokerHeartbeat) (BrokerHeartbeatReply, error) {
	return forward(ctx, r, "BrokerHeartbeat", false,
		func(ctx context.Context, l *Controller) (BrokerHeartbeatReply, error) {
			return l.BrokerHeartbeat(ctx, hb)
		},
		func(context.Context) protocol.Request {
			req := &protocol.BrokerHeartbeatRequest{
				BrokerID: protocol.BrokerID(hb.BrokerID), BrokerEpoch: hb.BrokerEpoch, CurrentMetadataOffset: hb.CurrentMetadataOffset,
				WantFence: hb.WantFence, WantShutDown: hb.WantShutDown, OfflineLogDirs: []protocol.UUID{},
			}
			for _, d := range hb.OfflineLogDirs {
				req.OfflineLogDirs = append(req.OfflineLogDirs, protocol.UUID(d))
			}
			if hb.CordonedLogDirs != nil {
				req.CordonedLogDirs = []protocol.UUID{}
				for _, d := range hb.CordonedLogDirs {
					req.CordonedLogDirs = append(req.CordonedLogDirs, protocol.UUID(d))
				}
			}
			return req
		},
		func(resp protocol.Response) (BrokerHeartbeatReply, error) {
			out := resp.(*protocol.BrokerHeartbeatResponse)
			reply := BrokerHeartbeatReply{IsCaughtUp: out.IsCaughtUp, IsFenced: out.IsFenced, ShouldShutDown: out.ShouldShutDown}
			return reply, CodeError(out.ErrorCode, nil)
		})
}

// UnregisterBroker implements Client.
func (r *Router) UnregisterBroker(ctx context.Context, id int32) error {
	_, err := forward(ctx, r, "UnregisterBroker", false,
		func(ctx context.Context, l *Controller) (struct{}, error) {
			return struct{}{}, l.UnregisterBroker(ctx, id)
		},
		func(context.Context) protocol.Request {
			return &protocol.UnregisterBrokerRequest{BrokerID: protocol.BrokerID(id)}
		},
		func(resp protocol.Response) (struct{}, error) {
			out := resp.(*protocol.UnregisterBrokerResponse)
			return struct{}{}, CodeError(out.ErrorCode, out.ErrorMessage)
		})
	return err
}

// AlterPartition implements Client.
func (r *Router) AlterPartition(ctx context.Context, brokerID int32, brokerEpoch int64, updates []ISRUpdate) ([]ISRUpdateResult, error) {
	return forward(ctx, r, "AlterPartition", false,
		func(ctx context.Context, l *Controller) ([]ISRUpdateResult, error) {
			return l.AlterPartition(ctx, brokerID, brokerEpoch, updates)
		},
		func(context.Context) protocol.Request { return alterPartitionRequest(brokerID, brokerEpoch, updates) },
		func(resp protocol.Response) ([]ISRUpdateResult, error) {
			return alterPartitionResults(len(updates), resp.(*protocol.AlterPartitionResponse))
		})
}

// ChangeRaftVoters implements Client: an AddRaftVoter or RemoveRaftVoter
// request a broker received goes to the quorum leader (Kafka's brokers
// forward both), asked again while the node asked turns out not to lead.
func (r *Router) ChangeRaftVoters(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	return forward(ctx, r, "ChangeRaftVoters", false,
		func(ctx context.Context, l *Controller) (protocol.Response, error) {
			return l.ChangeRaftVoters(ctx, req)
		},
		func(context.Context) protocol.Request { return req },
		func(resp protocol.Response) (protocol.Response, error) {
			if raftVoterErrorCode(resp) == errcode.NotLeaderOrFollower {
				return resp, fmt.Errorf("%w: the quorum leader moved", ErrNotController)
			}
			return resp, nil
		})
}

func raftVoterErrorCode(resp protocol.Response) int16 {
	switch r := resp.(type) {
	case *protocol.AddRaftVoterResponse:
		return r.ErrorCode
	case *protocol.RemoveRaftVoterResponse:
		return r.ErrorCode
	}
	return 0
}

// AssignReplicasToDirs implements Client.
func (r *Router) AssignReplicasToDirs(ctx context.Context, brokerID int32, brokerEpoch int64, as []DirAssignment) ([]error, error) {
	return forward(ctx, r, "AssignReplicasToDirs", false,
		func(ctx context.Context, l *Controller) ([]error, error) {
			return l.AssignReplicasToDirs(ctx, brokerID, brokerEpoch, as)
		},
		func(context.Context) protocol.Request { return assignReplicasToDirsRequest(brokerID, brokerEpoch, as) },
		func(resp protocol.Response) ([]error, error) {
			return assignResults(as, resp.(*protocol.AssignReplicasToDirsResponse))
		})
}

// DescribeQuorum implements Client: the leader's answer, asked again while
// the node asked turns out not to lead.
func (r *Router) DescribeQuorum(ctx context.Context) (*protocol.DescribeQuorumResponse, error) {
	var out *protocol.DescribeQuorumResponse
	err := r.retry(ctx, "DescribeQuorum", func(ctx context.Context) error {
		if l := r.local(); l != nil {
			out, _ = l.DescribeQuorum(ctx)
		} else {
			resp, err := r.send(ctx, describeQuorumRequest())
			if err != nil {
				return err
			}
			out = resp.(*protocol.DescribeQuorumResponse)
		}
		if len(out.Topics) == 1 && len(out.Topics[0].Partitions) == 1 && out.Topics[0].Partitions[0].ErrorCode == errcode.NotLeaderOrFollower {
			return fmt.Errorf("%w: the quorum leader moved", ErrNotController)
		}
		return nil
	})
	return out, err
}

// UpdateFeatures implements Client.
func (r *Router) UpdateFeatures(ctx context.Context, updates []FeatureUpdate, validateOnly bool) error {
	_, err := forward(ctx, r, "UpdateFeatures", false,
		func(ctx context.Context, l *Controller) (struct{}, error) {
			return struct{}{}, l.UpdateFeatures(ctx, updates, validateOnly)
		},
		func(ctx context.Context) protocol.Request {
			req := &protocol.UpdateFeaturesRequest{TimeoutMs: timeoutMs(ctx), ValidateOnly: validateOnly}
			for _, u := range updates {
				req.FeatureUpdates = append(req.FeatureUpdates, protocol.UpdateFeaturesRequestFeatureUpdateKey{
					Feature: u.Name, MaxVersionLevel: u.Level, UpgradeType: int8(u.Type), AllowDowngrade: u.Type != Upgrade,
				})
			}
			return req
		},
		func(resp protocol.Response) (struct{}, error) {
			out := resp.(*protocol.UpdateFeaturesResponse)
			return struct{}{}, CodeError(out.ErrorCode, out.ErrorMessage)
		})
	return err
}

// DialFunc connects to a controller listener and runs its security as a
// client (internal/node passes the seclink.Dialer of
// sasl.mechanism.controller.protocol); nil dials plain TCP.
type DialFunc = kafkarpc.DialFunc
