package server

import (
	"context"
	"slices"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// AlterUserScramCredentials (key 51): version 0.
//
// Behaviour:
//   - Creates, replaces and deletes SCRAM credentials in the metadata log
//     (kafka-configs.sh --alter --entity-type users --add-config
//     'SCRAM-SHA-512=[iterations=8192,password=...]'). The client sends
//     salted passwords; only the derived keys are stored.
//   - Kafka's ScramControlManager rules: a user named twice in the request
//     is DUPLICATE_RESOURCE, deleting a missing credential
//     RESOURCE_NOT_FOUND, iterations outside 4096..16384 or an empty name
//     UNACCEPTABLE_CREDENTIAL, an unknown mechanism UNSUPPORTED_SASL_MECHANISM;
//     the valid changes are written in one batch.
//   - Needs ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every
//     user named, sorted.
//
// Where Spool differs from Kafka 4.3:
//   - A broker that is not the active controller authorizes the request
//     itself and forwards it to the active controller as the plain request
//     over the authenticated controller link; Kafka wraps it in an Envelope
//     carrying the principal and the controller authorizes it.

func (b *Broker) handleAlterUserScramCredentials(ctx context.Context, rc *reqCtx, req *protocol.AlterUserScramCredentialsRequest) (*protocol.AlterUserScramCredentialsResponse, error) {
	if !b.authorizeCluster(rc, acl.OpAlter) {
		return alterScramError(req, errcode.ClusterAuthorizationFailed, errcode.Message(errcode.ClusterAuthorizationFailed)), nil
	}
	dels := make([]controller.ScramDeletion, len(req.Deletions))
	for i, d := range req.Deletions {
		dels[i] = controller.ScramDeletion{Name: d.Name, Mechanism: d.Mechanism}
	}
	ups := make([]controller.ScramUpsertion, len(req.Upsertions))
	for i, u := range req.Upsertions {
		ups[i] = controller.ScramUpsertion{Name: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations, Salt: u.Salt, SaltedPassword: u.SaltedPassword}
	}
	results, err := b.ctrl.AlterUserScramCredentials(ctx, dels, ups)
	if err != nil {
		code, msg := controllerErrorCode(err)
		return alterScramError(req, code, msg), nil
	}
	b.syncImage()
	b.auditScramResults(rc, req, results)
	resp := &protocol.AlterUserScramCredentialsResponse{}
	for _, r := range results {
		resp.Results = append(resp.Results, protocol.AlterUserScramCredentialsResponseAlterUserScramCredentialsResult{
			User: r.User, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage})
	}
	return resp, nil
}

// alterScramError is Kafka's AlterUserScramCredentialsRequest error
// response: every user named once, sorted.
func alterScramError(req *protocol.AlterUserScramCredentialsRequest, code int16, msg string) *protocol.AlterUserScramCredentialsResponse {
	var users []string
	for _, d := range req.Deletions {
		users = append(users, d.Name)
	}
	for _, u := range req.Upsertions {
		users = append(users, u.Name)
	}
	slices.Sort(users)
	users = slices.Compact(users)
	resp := &protocol.AlterUserScramCredentialsResponse{}
	for _, u := range users {
		resp.Results = append(resp.Results, protocol.AlterUserScramCredentialsResponseAlterUserScramCredentialsResult{
			User: u, ErrorCode: code, ErrorMessage: &msg})
	}
	return resp
}
