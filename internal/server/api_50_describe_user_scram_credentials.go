package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeUserScramCredentials (key 50): version 0.
//
// Behaviour:
//   - Answers as Kafka's ScramImage.describe does for a cluster without
//     SCRAM credentials, which Spool's metadata log cannot hold yet: every
//     named user is RESOURCE_NOT_FOUND ("Attempt to describe a user
//     credential that does not exist: <user>"), DUPLICATE_RESOURCE when
//     named twice, and a request for all users gets none.
//     kafka-configs.sh --describe --entity-type users asks for it after
//     the user's quotas.
//
// Where Spool differs from Kafka 4.3:
//   - No credential store: the SCRAM work replaces this with the
//     credentials in the metadata log.

func (b *Broker) handleDescribeUserScramCredentials(ctx context.Context, rc *reqCtx, req *protocol.DescribeUserScramCredentialsRequest) (*protocol.DescribeUserScramCredentialsResponse, error) {
	resp := &protocol.DescribeUserScramCredentialsResponse{}
	count := map[string]int{}
	var order []string
	for _, u := range req.Users {
		if count[u.Name] == 0 {
			order = append(order, u.Name)
		}
		count[u.Name]++
	}
	for _, name := range order {
		r := protocol.DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult{User: name}
		msg := "Attempt to describe a user credential that does not exist: " + name
		r.ErrorCode = errcode.ResourceNotFound
		if count[name] > 1 {
			msg = "Cannot describe SCRAM credentials for the same user twice in a single request: " + name
			r.ErrorCode = errcode.DuplicateResource
		}
		r.ErrorMessage = &msg
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}
