package server

import (
	"context"
	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DeleteAcls (key 31): versions 0-3.
//
// Behaviour:
//   - Removes the ACLs each filter matches and lists them per filter; an ACL
//     matched by several filters is listed under each and removed once; an
//     invalid filter fails alone. At most 10000 removals per request.
//   - Needs ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every
//     filter; without an authorizer, SECURITY_DISABLED.
//
// Version notes:
//   - v0: LITERAL (or ANY, read as LITERAL) patterns only; an UNKNOWN (0)
//     enum closes the connection.
//
// Where Spool differs from Kafka 4.3:
//   - A broker that is not the active controller authorizes the request
//     itself and forwards it to the active controller as the plain request
//     over the authenticated controller link; Kafka wraps it in an Envelope
//     carrying the principal and the controller authorizes it.

func (b *Broker) handleDeleteAcls(ctx context.Context, rc *reqCtx, req *protocol.DeleteAclsRequest) (*protocol.DeleteAclsResponse, error) {
	for i := range req.Filters {
		f := &req.Filters[i]
		if rc.v == 0 {
			switch pt := acl.PatternTypeFromCode(f.PatternTypeFilter); pt {
			case acl.PatternAny:
				f.PatternTypeFilter = int8(acl.PatternLiteral)
			case acl.PatternLiteral:
			default:
				return nil, fmt.Errorf("%w: DeleteAcls version 0 does not support pattern type %s (only LITERAL and ANY are supported)", errACLRequest, pt)
			}
		}
		if f.PatternTypeFilter == 0 || f.ResourceTypeFilter == 0 || f.Operation == 0 || f.PermissionType == 0 {
			return nil, fmt.Errorf("%w: Filters contain UNKNOWN elements", errACLRequest)
		}
	}
	all := func(code int16, msg string) *protocol.DeleteAclsResponse {
		resp := &protocol.DeleteAclsResponse{}
		for range req.Filters {
			m := msg
			resp.FilterResults = append(resp.FilterResults, protocol.DeleteAclsResponseDeleteAclsFilterResult{ErrorCode: code, ErrorMessage: &m})
		}
		return resp
	}
	if !b.authorizeCluster(rc, acl.OpAlter) {
		return all(errcode.ClusterAuthorizationFailed, clusterAuthzMessage), nil
	}
	if b.authz == nil {
		return all(errcode.SecurityDisabled, "No Authorizer is configured."), nil
	}
	filters := make([]acl.BindingFilter, len(req.Filters))
	for i, f := range req.Filters {
		filters[i] = acl.BindingFilter{
			Pattern: acl.PatternFilter{Type: acl.ResourceTypeFromCode(f.ResourceTypeFilter), Name: f.ResourceNameFilter,
				PatternType: acl.PatternTypeFromCode(f.PatternTypeFilter)},
			Entry: acl.EntryFilter{Principal: f.PrincipalFilter, Host: f.HostFilter,
				Operation: acl.OperationFromCode(f.Operation), Permission: acl.PermissionFromCode(f.PermissionType)},
		}
	}
	results, err := b.ctrl.DeleteACLs(ctx, filters)
	if err != nil {
		code, msg := controllerErrorCode(err)
		return all(code, msg), nil
	}
	b.syncImage()
	resp := &protocol.DeleteAclsResponse{}
	for _, r := range results {
		var fr protocol.DeleteAclsResponseDeleteAclsFilterResult
		fr.ErrorCode, fr.ErrorMessage = aclErrorFields(r.Err)
		for _, d := range r.Deleted {
			b.auditACLChange(rc, "DELETE_ACL", d, nil)
			fr.MatchingAcls = append(fr.MatchingAcls, protocol.DeleteAclsResponseDeleteAclsMatchingAcl{
				ResourceType: int8(d.Pattern.Type), ResourceName: d.Pattern.Name, PatternType: int8(d.Pattern.PatternType),
				Principal: d.Entry.Principal, Host: d.Entry.Host, Operation: int8(d.Entry.Operation), PermissionType: int8(d.Entry.Permission)})
		}
		resp.FilterResults = append(resp.FilterResults, fr)
	}
	return resp, nil
}
