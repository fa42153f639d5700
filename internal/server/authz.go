package server

import (
	"strconv"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/seclink"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Authorization is checked at the resource, as Kafka's AuthHelper: each
// handler asks once per resource it touches, with the request's principal
// and client host (reqCtx), and answers Kafka's code for a refusal. With no
// authorizer configured (authorizer.class.name unset) everything is
// allowed, as in Kafka. The authorizer reads the ACLs of the newest
// metadata image (applySecurityImage, from reconcile), so an ACL change
// takes effect for every connection at its next request, without
// reconnecting.

// initAuthorizer builds the authorizer authorizer.class.name asks for, with
// the ACLs of the image the broker holds. Listen calls it before accepting.
func (b *Broker) initAuthorizer() error {
	a, err := seclink.NewAuthorizer(b.cfg)
	if err != nil {
		return err
	}
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	b.authz = a
	if img := b.image.Load(); img != nil {
		b.applySecurityImageLocked(img)
	}
	return nil
}

// applySecurityImageLocked hands img's ACLs to the authorizer; the first
// image read from the metadata log completes its initial load (until then
// only super users are allowed, as Kafka's StandardAuthorizer). The caller
// holds reconcileMu.
func (b *Broker) applySecurityImageLocked(img *controller.MetadataImage) {
	if b.onBrokerConfig != nil {
		b.onBrokerConfig(img.Config(controller.ResourceBroker, strconv.Itoa(int(b.nodeID))))
	}
	if b.authz == nil {
		return
	}
	b.authz.SetSnapshot(img.ACLs())
	if img.Offset() > 0 {
		b.authz.CompleteInitialLoad()
	}
}

// imageCredentials is the SCRAM credential store of SASL listeners: the
// credentials of the newest image.
type imageCredentials struct{ b *Broker }

func (s imageCredentials) ScramCredential(m sasl.ScramMechanism, user string) (sasl.ScramCredential, bool) {
	img := s.b.image.Load()
	if img == nil {
		return sasl.ScramCredential{}, false
	}
	return img.ScramCredential(m, user)
}

func (b *Broker) scramCredentials() sasl.CredentialStore { return imageCredentials{b} }

// authorize is Kafka's AuthHelper.authorize: may the request's principal
// do op on the literal resource (rt, name)?
func (b *Broker) authorize(rc *reqCtx, op acl.Operation, rt acl.ResourceType, name string) bool {
	if b.authz == nil {
		return true
	}
	d := b.authz.Authorize(rc.principal, rc.host, op, rt, name)
	b.auditAuthorization(rc, op, rt, name, d)
	return d.Result == acl.Allowed
}

// authorizeCluster is authorize on the CLUSTER resource.
func (b *Broker) authorizeCluster(rc *reqCtx, op acl.Operation) bool {
	return b.authorize(rc, op, acl.ResourceCluster, acl.ClusterName)
}

// authorizeByResourceType is Kafka's AuthHelper.authorizeByResourceType.
func (b *Broker) authorizeByResourceType(rc *reqCtx, op acl.Operation, rt acl.ResourceType) bool {
	if b.authz == nil {
		return true
	}
	r := b.authz.AuthorizeByResourceType(rc.principal, rc.host, op, rt)
	if r != acl.Allowed {
		b.auditAuthorization(rc, op, rt, "", acl.Decision{Result: r})
	}
	return r == acl.Allowed
}

// supportedOperations are Kafka's AclEntry.supportedOperations per resource
// type (checked against Kafka 4.3.1).
var supportedOperations = map[acl.ResourceType][]acl.Operation{
	acl.ResourceTopic: {acl.OpRead, acl.OpWrite, acl.OpCreate, acl.OpDescribe, acl.OpDelete, acl.OpAlter,
		acl.OpDescribeConfigs, acl.OpAlterConfigs},
	acl.ResourceGroup: {acl.OpRead, acl.OpDescribe, acl.OpDelete, acl.OpDescribeConfigs, acl.OpAlterConfigs},
	acl.ResourceCluster: {acl.OpCreate, acl.OpClusterAction, acl.OpDescribeConfigs, acl.OpAlterConfigs,
		acl.OpIdempotentWrite, acl.OpAlter, acl.OpDescribe},
	acl.ResourceTransactionalID: {acl.OpDescribe, acl.OpWrite, acl.OpTwoPhaseCommit},
	acl.ResourceDelegationToken: {acl.OpDescribe},
	acl.ResourceUser:            {acl.OpCreateTokens, acl.OpDescribeTokens},
}

// authorizedOperations is Kafka's AuthHelper.authorizedOperations: the bit
// field (1 << operation code) of the resource type's operations the
// principal may do on the resource.
func (b *Broker) authorizedOperations(rc *reqCtx, rt acl.ResourceType, name string) int32 {
	var bits int32
	for _, op := range supportedOperations[rt] {
		if b.authz == nil || b.authz.Authorize(rc.principal, rc.host, op, rt, name).Result == acl.Allowed {
			bits |= 1 << op
		}
	}
	return bits
}

// authorizedOperationsIfDescribed is what Kafka fills into
// authorized_operations fields the client asked for: the operations when
// the principal may DESCRIBE the resource, else 0.
func (b *Broker) authorizedOperationsIfDescribed(rc *reqCtx, rt acl.ResourceType, name string) int32 {
	if !b.authorize(rc, acl.OpDescribe, rt, name) {
		return 0
	}
	return b.authorizedOperations(rc, rt, name)
}

// authorizeCoordinatorKey is FindCoordinator's check: DESCRIBE on the group
// or the transactional id the key names (0 when allowed).
func (b *Broker) authorizeCoordinatorKey(rc *reqCtx, keyType int8, key string) int16 {
	switch keyType {
	case 0:
		if !b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, key) {
			return errcode.GroupAuthorizationFailed
		}
	case 1:
		if !b.authorize(rc, acl.OpDescribe, acl.ResourceTransactionalID, key) {
			return errcode.TransactionalIDAuthorizationFailed
		}
	case 2:
		if !b.authorizeCluster(rc, acl.OpClusterAction) {
			return errcode.ClusterAuthorizationFailed
		}
	}
	return 0
}

// Config resource types (Kafka's ConfigResource.Type).
const (
	configResourceTopic         int8 = 2
	configResourceBroker        int8 = 4
	configResourceBrokerLogger  int8 = 8
	configResourceClientMetrics int8 = 16
	configResourceGroup         int8 = 32
)

// authorizeConfigResource is the check of DescribeConfigs (op
// DESCRIBE_CONFIGS) and AlterConfigs/IncrementalAlterConfigs
// (ALTER_CONFIGS) on one config resource, as Kafka's ConfigHelper: brokers
// and broker loggers on the cluster (client metrics too for describe),
// topics and groups on themselves. It returns 0 or the refusal's code; a
// resource type it does not know is left to the handler's own errors.
func (b *Broker) authorizeConfigResource(rc *reqCtx, op acl.Operation, resourceType int8, name string) int16 {
	rt, code := acl.ResourceCluster, errcode.ClusterAuthorizationFailed
	switch resourceType {
	case configResourceBroker, configResourceBrokerLogger, configResourceClientMetrics:
	case configResourceTopic:
		rt, code = acl.ResourceTopic, errcode.TopicAuthorizationFailed
	case configResourceGroup:
		rt, code = acl.ResourceGroup, errcode.GroupAuthorizationFailed
	default:
		return 0
	}
	if rt == acl.ResourceCluster {
		name = acl.ClusterName
	}
	if b.authorize(rc, op, rt, name) {
		return 0
	}
	return code
}
