package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeUserScramCredentials (key 50): version 0.
//
// Behaviour:
//   - Lists users' SCRAM mechanisms and iteration counts (never salts or
//     keys) from the metadata image, as Kafka's ScramImage.describe: no users
//     named lists every user; a user named twice is DUPLICATE_RESOURCE, one
//     without credentials RESOURCE_NOT_FOUND.
//   - Needs DESCRIBE on the cluster, else CLUSTER_AUTHORIZATION_FAILED at the
//     top and for every user named.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the versions served is read and
//     answered.

func (b *Broker) handleDescribeUserScramCredentials(ctx context.Context, rc *reqCtx, req *protocol.DescribeUserScramCredentialsRequest) (*protocol.DescribeUserScramCredentialsResponse, error) {
	resp := &protocol.DescribeUserScramCredentialsResponse{}
	if !b.authorizeCluster(rc, acl.OpDescribe) {
		msg := errcode.Message(errcode.ClusterAuthorizationFailed)
		resp.ErrorCode, resp.ErrorMessage = errcode.ClusterAuthorizationFailed, &msg
		for range req.Users {
			resp.Results = append(resp.Results, protocol.DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult{
				ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg})
		}
		return resp, nil
	}
	img := b.image.Load()
	var users []string
	dup := map[string]bool{}
	if len(req.Users) == 0 {
		users = img.ScramUsers()
	} else {
		seen := map[string]bool{}
		for _, u := range req.Users {
			if seen[u.Name] {
				dup[u.Name] = true
				continue
			}
			seen[u.Name] = true
			users = append(users, u.Name)
		}
	}
	for _, u := range users {
		res := protocol.DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult{User: u}
		switch infos := img.ScramCredentialInfos(u); {
		case dup[u]:
			msg := "Cannot describe SCRAM credentials for the same user twice in a single request: " + u
			res.ErrorCode, res.ErrorMessage = errcode.DuplicateResource, &msg
		case len(infos) == 0:
			msg := "Attempt to describe a user credential that does not exist: " + u
			res.ErrorCode, res.ErrorMessage = errcode.ResourceNotFound, &msg
		default:
			for _, in := range infos {
				res.CredentialInfos = append(res.CredentialInfos, protocol.DescribeUserScramCredentialsResponseCredentialInfo{
					Mechanism: int8(in.Mechanism), Iterations: in.Iterations})
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
