package controller

import (
	"context"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
)

// Metadata is a node's own, read-only copy of the cluster metadata: the
// image of a quorum member (Controller) or of an observer (Observer).
type Metadata interface {
	// Image returns the newest applied image. It never blocks.
	Image() *MetadataImage
	// Subscribe returns a channel that always holds the newest image (see
	// Controller.Subscribe) and a func to unsubscribe.
	Subscribe() (<-chan *MetadataImage, func())
}

// Client is how a broker reads and changes cluster metadata. Reads come
// from this node's own copy (Metadata); every write goes to the active
// controller and fails with ErrNotController only when none could be
// reached in time. Errors are this package's sentinels, wherever the write
// ran. Implementations: *Controller (this node's quorum member, used when
// it is the active controller) and *Router (the local controller when
// active, else the Kafka RPC to whichever node is).
type Client interface {
	Metadata

	CreateTopics(ctx context.Context, topics []CreateTopic, validateOnly bool) []CreateTopicResult
	DeleteTopics(ctx context.Context, refs []TopicRef) []DeleteTopicResult
	CreatePartitions(ctx context.Context, topic string, newTotal int32, assignments [][]int32, validateOnly bool) error
	AlterConfigs(ctx context.Context, resourceType int8, name string, ops []ConfigOp, validateOnly bool) error
	ReplaceConfigs(ctx context.Context, resourceType int8, name string, configs map[string]string, validateOnly bool) error
	ElectLeaders(ctx context.Context, election Election, parts []TopicPartition) ([]TopicPartition, []error, error)
	AlterPartitionReassignments(ctx context.Context, allowRFChange bool, reqs []Reassignment) ([]error, error)
	AllocateProducerIDs(ctx context.Context, n int32) (int64, error)
	AlterClientQuotas(ctx context.Context, alterations []QuotaAlteration, validateOnly bool) []QuotaAlterationResult
	UpdateFeatures(ctx context.Context, updates []FeatureUpdate, validateOnly bool) error

	RegisterBroker(ctx context.Context, reg BrokerRegistration) (int64, error)
	BrokerHeartbeat(ctx context.Context, hb BrokerHeartbeat) (BrokerHeartbeatReply, error)
	UnregisterBroker(ctx context.Context, id int32) error
	AlterPartition(ctx context.Context, brokerID int32, brokerEpoch int64, updates []ISRUpdate) ([]ISRUpdateResult, error)
	// AssignReplicasToDirs records which log dir holds each of the
	// broker's replicas (KIP-858; dirs.go).
	AssignReplicasToDirs(ctx context.Context, brokerID int32, brokerEpoch int64, as []DirAssignment) ([]error, error)

	// ChangeRaftVoters answers an AddRaftVoter or RemoveRaftVoter request
	// at the quorum leader (KIP-853), as Kafka's brokers forward them.
	ChangeRaftVoters(ctx context.Context, req protocol.Request) (protocol.Response, error)

	// DescribeQuorum is the active controller's view of the metadata
	// quorum, as Kafka's DescribeQuorum answers it.
	DescribeQuorum(ctx context.Context) (*protocol.DescribeQuorumResponse, error)

	// Security metadata (security_ops.go, forwarded by security_rpc.go).
	AlterUserScramCredentials(ctx context.Context, deletions []ScramDeletion, upsertions []ScramUpsertion) ([]ScramAlterResult, error)
	CreateACLs(ctx context.Context, bindings []acl.Binding) ([]ACLCreateResult, error)
	DeleteACLs(ctx context.Context, filters []acl.BindingFilter) ([]ACLDeleteResult, error)

	// Delegation tokens (tokens.go) on behalf of the principal that sent
	// the request from host, forwarded in an Envelope (envelope.go).
	CreateDelegationToken(ctx context.Context, requester auth.Principal, host string, req *protocol.CreateDelegationTokenRequest) (*protocol.CreateDelegationTokenResponse, error)
	RenewDelegationToken(ctx context.Context, principal auth.Principal, host string, req *protocol.RenewDelegationTokenRequest) (*protocol.RenewDelegationTokenResponse, error)
	ExpireDelegationToken(ctx context.Context, principal auth.Principal, host string, req *protocol.ExpireDelegationTokenRequest) (*protocol.ExpireDelegationTokenResponse, error)
}

var (
	_ Client = (*Controller)(nil)
	_ Client = (*Router)(nil)
)
