package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// CreateAcls (key 30): versions 0-3.
//
// Behaviour:
//   - Adds ACLs to the metadata log, each with a fresh ID, as Kafka's
//     AclControlManager: each creation is validated on its own
//     (INVALID_REQUEST with Kafka's messages); one that exists already, or
//     repeats an earlier one of the request, succeeds without a new record.
//     The change applies to every open connection at its next request.
//   - Needs ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every
//     creation; without an authorizer, SECURITY_DISABLED "No Authorizer is
//     configured.".
//
// Version notes:
//   - v0: LITERAL patterns only; another pattern type or an UNKNOWN (0) enum
//     closes the connection, as Kafka's request parsing refuses it.
//
// Where Spool differs from Kafka 4.3:
//   - A broker that is not the active controller authorizes the request
//     itself and forwards it to the active controller as the plain request
//     over the authenticated controller link; Kafka wraps it in an Envelope
//     carrying the principal and the controller authorizes it.

// errACLRequest is a request Kafka refuses while parsing it: the
// connection closes.
var errACLRequest = errors.New("invalid ACL request")

// clusterAuthzMessage is the message of a refused cluster operation.
var clusterAuthzMessage = errcode.Message(errcode.ClusterAuthorizationFailed)

func (b *Broker) handleCreateAcls(ctx context.Context, rc *reqCtx, req *protocol.CreateAclsRequest) (*protocol.CreateAclsResponse, error) {
	for _, c := range req.Creations {
		if rc.v == 0 && c.ResourcePatternType != int8(acl.PatternLiteral) {
			return nil, fmt.Errorf("%w: CreateAcls version 0 only supports literal resource pattern types", errACLRequest)
		}
		if c.ResourcePatternType == 0 || c.ResourceType == 0 || c.PermissionType == 0 || c.Operation == 0 {
			return nil, fmt.Errorf("%w: CreatableAcls contain unknown elements", errACLRequest)
		}
	}
	all := func(code int16, msg string) *protocol.CreateAclsResponse {
		resp := &protocol.CreateAclsResponse{}
		for range req.Creations {
			m := msg
			resp.Results = append(resp.Results, protocol.CreateAclsResponseAclCreationResult{ErrorCode: code, ErrorMessage: &m})
		}
		return resp
	}
	if !b.authorizeCluster(rc, acl.OpAlter) {
		return all(errcode.ClusterAuthorizationFailed, clusterAuthzMessage), nil
	}
	if b.authz == nil {
		return all(errcode.SecurityDisabled, "No Authorizer is configured."), nil
	}
	bindings := make([]acl.Binding, len(req.Creations))
	for i, c := range req.Creations {
		bindings[i] = acl.Binding{
			Pattern: acl.ResourcePattern{Type: acl.ResourceTypeFromCode(c.ResourceType), Name: c.ResourceName,
				PatternType: acl.PatternTypeFromCode(c.ResourcePatternType)},
			Entry: acl.Entry{Principal: c.Principal, Host: c.Host, Operation: acl.OperationFromCode(c.Operation),
				Permission: acl.PermissionFromCode(c.PermissionType)},
		}
	}
	results, err := b.ctrl.CreateACLs(ctx, bindings)
	if err != nil {
		code, msg := controllerErrorCode(err)
		return all(code, msg), nil
	}
	b.syncImage()
	resp := &protocol.CreateAclsResponse{}
	for i, r := range results {
		if i < len(bindings) {
			b.auditACLChange(rc, "CREATE_ACL", bindings[i], r.Err)
		}
		var res protocol.CreateAclsResponseAclCreationResult
		res.ErrorCode, res.ErrorMessage = aclErrorFields(r.Err)
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
