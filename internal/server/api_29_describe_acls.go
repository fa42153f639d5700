package server

import (
	"context"
	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeAcls (key 29): versions 0-3.
//
// Behaviour:
//   - Lists the ACLs a filter matches (resource type and name, pattern type
//     LITERAL, PREFIXED, ANY or MATCH, principal, host, operation,
//     permission), grouped by resource pattern, from the broker's image.
//   - Needs DESCRIBE on the cluster, else CLUSTER_AUTHORIZATION_FAILED;
//     without an authorizer, SECURITY_DISABLED.
//
// Version notes:
//   - v0: LITERAL patterns only (ANY becomes LITERAL). An UNKNOWN (0) enum or
//     another pattern type in v0 closes the connection, as Kafka's request
//     parsing refuses it. v1: pattern types. v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every filter field of v0-v3 is applied and every
//     response field answered.

func (b *Broker) handleDescribeAcls(ctx context.Context, rc *reqCtx, req *protocol.DescribeAclsRequest) (*protocol.DescribeAclsResponse, error) {
	if rc.v == 0 {
		switch acl.PatternTypeFromCode(req.PatternTypeFilter) {
		case acl.PatternAny:
			req.PatternTypeFilter = int8(acl.PatternLiteral)
		case acl.PatternLiteral:
		default:
			return nil, fmt.Errorf("%w: DescribeAcls version 0 only supports literal resource pattern types", errACLRequest)
		}
	}
	if req.PatternTypeFilter == 0 || req.ResourceTypeFilter == 0 || req.PermissionType == 0 || req.Operation == 0 {
		return nil, fmt.Errorf("%w: DescribeAclsRequest contains UNKNOWN elements", errACLRequest)
	}
	if !b.authorizeCluster(rc, acl.OpDescribe) {
		msg := clusterAuthzMessage
		return &protocol.DescribeAclsResponse{ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	if b.authz == nil {
		msg := "No Authorizer is configured on the broker"
		return &protocol.DescribeAclsResponse{ErrorCode: errcode.SecurityDisabled, ErrorMessage: &msg}, nil
	}
	f := acl.BindingFilter{
		Pattern: acl.PatternFilter{Type: acl.ResourceTypeFromCode(req.ResourceTypeFilter), Name: req.ResourceNameFilter,
			PatternType: acl.PatternTypeFromCode(req.PatternTypeFilter)},
		Entry: acl.EntryFilter{Principal: req.PrincipalFilter, Host: req.HostFilter,
			Operation: acl.OperationFromCode(req.Operation), Permission: acl.PermissionFromCode(req.PermissionType)},
	}
	resp := &protocol.DescribeAclsResponse{}
	idx := map[acl.ResourcePattern]int{}
	for _, m := range b.image.Load().ACLs().Matching(f) {
		p, e := m.Binding.Pattern, m.Binding.Entry
		i, ok := idx[p]
		if !ok {
			i = len(resp.Resources)
			idx[p] = i
			resp.Resources = append(resp.Resources, protocol.DescribeAclsResponseDescribeAclsResource{
				ResourceType: int8(p.Type), ResourceName: p.Name, PatternType: int8(p.PatternType)})
		}
		resp.Resources[i].Acls = append(resp.Resources[i].Acls, protocol.DescribeAclsResponseAclDescription{
			Principal: e.Principal, Host: e.Host, Operation: int8(e.Operation), PermissionType: int8(e.Permission)})
	}
	return resp, nil
}
