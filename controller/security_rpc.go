package controller

import (
	"context"
	"errors"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
)

// ACL and SCRAM credential changes as controller RPCs: Kafka's CreateAcls,
// DeleteAcls and AlterUserScramCredentials, forwarded by a Router to the
// active controller and served by HandleRPC, so a change sent to any broker
// is written by the active controller. The broker that forwards has
// authorized the request's principal (ALTER on the cluster) first; the
// controller listener serves these only to principals with CLUSTER_ACTION
// (internal/node).

// aclErrorFields turns an ACL result's error into Kafka's code and message.
func aclErrorFields(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	var ae *acl.Error
	if errors.As(err, &ae) {
		return ae.Code, &ae.Message
	}
	code, msg := ErrorCode(err)
	return code, &msg
}

// aclError reads a forwarded code and message back as an *acl.Error, which
// the broker answers as it answers a local one.
func aclError(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	m := ""
	if msg != nil {
		m = *msg
	}
	return &acl.Error{Code: code, Message: m}
}

func createAclsRequest(bindings []acl.Binding) *protocol.CreateAclsRequest {
	req := &protocol.CreateAclsRequest{}
	for _, b := range bindings {
		req.Creations = append(req.Creations, protocol.CreateAclsRequestAclCreation{
			ResourceType: int8(b.Pattern.Type), ResourceName: b.Pattern.Name, ResourcePatternType: int8(b.Pattern.PatternType),
			Principal: b.Entry.Principal, Host: b.Entry.Host, Operation: int8(b.Entry.Operation), PermissionType: int8(b.Entry.Permission)})
	}
	return req
}

func bindingsFromCreateAcls(r *protocol.CreateAclsRequest) []acl.Binding {
	out := make([]acl.Binding, len(r.Creations))
	for i, c := range r.Creations {
		out[i] = acl.Binding{
			Pattern: acl.ResourcePattern{Type: acl.ResourceTypeFromCode(c.ResourceType), Name: c.ResourceName,
				PatternType: acl.PatternTypeFromCode(c.ResourcePatternType)},
			Entry: acl.Entry{Principal: c.Principal, Host: c.Host, Operation: acl.OperationFromCode(c.Operation),
				Permission: acl.PermissionFromCode(c.PermissionType)},
		}
	}
	return out
}

func createAclsResponse(results []ACLCreateResult, err error, n int) *protocol.CreateAclsResponse {
	resp := &protocol.CreateAclsResponse{}
	if err != nil {
		code, msg := aclErrorFields(err)
		for range n {
			resp.Results = append(resp.Results, protocol.CreateAclsResponseAclCreationResult{ErrorCode: code, ErrorMessage: msg})
		}
		return resp
	}
	for _, r := range results {
		var res protocol.CreateAclsResponseAclCreationResult
		res.ErrorCode, res.ErrorMessage = aclErrorFields(r.Err)
		resp.Results = append(resp.Results, res)
	}
	return resp
}

func deleteAclsRequest(filters []acl.BindingFilter) *protocol.DeleteAclsRequest {
	req := &protocol.DeleteAclsRequest{}
	for _, f := range filters {
		req.Filters = append(req.Filters, protocol.DeleteAclsRequestDeleteAclsFilter{
			ResourceTypeFilter: int8(f.Pattern.Type), ResourceNameFilter: f.Pattern.Name, PatternTypeFilter: int8(f.Pattern.PatternType),
			PrincipalFilter: f.Entry.Principal, HostFilter: f.Entry.Host, Operation: int8(f.Entry.Operation), PermissionType: int8(f.Entry.Permission)})
	}
	return req
}

func filtersFromDeleteAcls(r *protocol.DeleteAclsRequest) []acl.BindingFilter {
	out := make([]acl.BindingFilter, len(r.Filters))
	for i, f := range r.Filters {
		out[i] = acl.BindingFilter{
			Pattern: acl.PatternFilter{Type: acl.ResourceTypeFromCode(f.ResourceTypeFilter), Name: f.ResourceNameFilter,
				PatternType: acl.PatternTypeFromCode(f.PatternTypeFilter)},
			Entry: acl.EntryFilter{Principal: f.PrincipalFilter, Host: f.HostFilter,
				Operation: acl.OperationFromCode(f.Operation), Permission: acl.PermissionFromCode(f.PermissionType)},
		}
	}
	return out
}

func deleteAclsResponse(results []ACLDeleteResult, err error, n int) *protocol.DeleteAclsResponse {
	resp := &protocol.DeleteAclsResponse{}
	if err != nil {
		code, msg := aclErrorFields(err)
		for range n {
			resp.FilterResults = append(resp.FilterResults, protocol.DeleteAclsResponseDeleteAclsFilterResult{ErrorCode: code, ErrorMessage: msg})
		}
		return resp
	}
	for _, r := range results {
		var fr protocol.DeleteAclsResponseDeleteAclsFilterResult
		fr.ErrorCode, fr.ErrorMessage = aclErrorFields(r.Err)
		for _, d := range r.Deleted {
			fr.MatchingAcls = append(fr.MatchingAcls, protocol.DeleteAclsResponseDeleteAclsMatchingAcl{
				ResourceType: int8(d.Pattern.Type), ResourceName: d.Pattern.Name, PatternType: int8(d.Pattern.PatternType),
				Principal: d.Entry.Principal, Host: d.Entry.Host, Operation: int8(d.Entry.Operation), PermissionType: int8(d.Entry.Permission)})
		}
		resp.FilterResults = append(resp.FilterResults, fr)
	}
	return resp
}

func deleteResultsFromResponse(resp *protocol.DeleteAclsResponse) []ACLDeleteResult {
	out := make([]ACLDeleteResult, len(resp.FilterResults))
	for i, fr := range resp.FilterResults {
		out[i].Err = aclError(fr.ErrorCode, fr.ErrorMessage)
		for _, m := range fr.MatchingAcls {
			out[i].Deleted = append(out[i].Deleted, acl.Binding{
				Pattern: acl.ResourcePattern{Type: acl.ResourceTypeFromCode(m.ResourceType), Name: m.ResourceName, PatternType: acl.PatternTypeFromCode(m.PatternType)},
				Entry: acl.Entry{Principal: m.Principal, Host: m.Host, Operation: acl.OperationFromCode(m.Operation),
					Permission: acl.PermissionFromCode(m.PermissionType)},
			})
		}
	}
	return out
}

func alterScramRequest(dels []ScramDeletion, ups []ScramUpsertion) *protocol.AlterUserScramCredentialsRequest {
	req := &protocol.AlterUserScramCredentialsRequest{}
	for _, d := range dels {
		req.Deletions = append(req.Deletions, protocol.AlterUserScramCredentialsRequestScramCredentialDeletion{Name: d.Name, Mechanism: d.Mechanism})
	}
	for _, u := range ups {
		req.Upsertions = append(req.Upsertions, protocol.AlterUserScramCredentialsRequestScramCredentialUpsertion{
			Name: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations, Salt: u.Salt, SaltedPassword: u.SaltedPassword})
	}
	return req
}

func scramOpsFromRequest(r *protocol.AlterUserScramCredentialsRequest) ([]ScramDeletion, []ScramUpsertion) {
	dels := make([]ScramDeletion, len(r.Deletions))
	for i, d := range r.Deletions {
		dels[i] = ScramDeletion{Name: d.Name, Mechanism: d.Mechanism}
	}
	ups := make([]ScramUpsertion, len(r.Upsertions))
	for i, u := range r.Upsertions {
		ups[i] = ScramUpsertion{Name: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations, Salt: u.Salt, SaltedPassword: u.SaltedPassword}
	}
	return dels, ups
}

func alterScramResponse(results []ScramAlterResult, err error, r *protocol.AlterUserScramCredentialsRequest) *protocol.AlterUserScramCredentialsResponse {
	resp := &protocol.AlterUserScramCredentialsResponse{}
	if err != nil {
		code, msg := ErrorCode(err)
		seen := map[string]bool{}
		add := func(user string) {
			if !seen[user] {
				seen[user] = true
				m := msg
				resp.Results = append(resp.Results, protocol.AlterUserScramCredentialsResponseAlterUserScramCredentialsResult{User: user, ErrorCode: code, ErrorMessage: &m})
			}
		}
		for _, d := range r.Deletions {
			add(d.Name)
		}
		for _, u := range r.Upsertions {
			add(u.Name)
		}
		return resp
	}
	for _, res := range results {
		resp.Results = append(resp.Results, protocol.AlterUserScramCredentialsResponseAlterUserScramCredentialsResult{
			User: res.User, ErrorCode: res.ErrorCode, ErrorMessage: res.ErrorMessage})
	}
	return resp
}

// AlterUserScramCredentials implements Client.
func (r *Router) AlterUserScramCredentials(ctx context.Context, deletions []ScramDeletion, upsertions []ScramUpsertion) ([]ScramAlterResult, error) {
	return forward(ctx, r, "AlterUserScramCredentials", true,
		func(ctx context.Context, l *Controller) ([]ScramAlterResult, error) {
			return l.AlterUserScramCredentials(ctx, deletions, upsertions)
		},
		func(context.Context) protocol.Request { return alterScramRequest(deletions, upsertions) },
		func(resp protocol.Response) ([]ScramAlterResult, error) {
			var out []ScramAlterResult
			for _, res := range resp.(*protocol.AlterUserScramCredentialsResponse).Results {
				if err := CodeError(res.ErrorCode, res.ErrorMessage); retriable(err) {
					return nil, err
				}
				out = append(out, ScramAlterResult{User: res.User, ErrorCode: res.ErrorCode, ErrorMessage: res.ErrorMessage})
			}
			return out, nil
		})
}

// CreateACLs implements Client.
func (r *Router) CreateACLs(ctx context.Context, bindings []acl.Binding) ([]ACLCreateResult, error) {
	return forward(ctx, r, "CreateAcls", true,
		func(ctx context.Context, l *Controller) ([]ACLCreateResult, error) {
			return l.CreateACLs(ctx, bindings)
		},
		func(context.Context) protocol.Request { return createAclsRequest(bindings) },
		func(resp protocol.Response) ([]ACLCreateResult, error) {
			var out []ACLCreateResult
			for _, res := range resp.(*protocol.CreateAclsResponse).Results {
				if err := CodeError(res.ErrorCode, res.ErrorMessage); retriable(err) {
					return nil, err
				}
				out = append(out, ACLCreateResult{Err: aclError(res.ErrorCode, res.ErrorMessage)})
			}
			return out, nil
		})
}

// DeleteACLs implements Client.
func (r *Router) DeleteACLs(ctx context.Context, filters []acl.BindingFilter) ([]ACLDeleteResult, error) {
	return forward(ctx, r, "DeleteAcls", true,
		func(ctx context.Context, l *Controller) ([]ACLDeleteResult, error) { return l.DeleteACLs(ctx, filters) },
		func(context.Context) protocol.Request { return deleteAclsRequest(filters) },
		func(resp protocol.Response) ([]ACLDeleteResult, error) {
			dr := resp.(*protocol.DeleteAclsResponse)
			for _, fr := range dr.FilterResults {
				if err := CodeError(fr.ErrorCode, fr.ErrorMessage); retriable(err) {
					return nil, err
				}
			}
			return deleteResultsFromResponse(dr), nil
		})
}
