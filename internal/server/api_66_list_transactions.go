package server

import (
	"context"
	"regexp"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ListTransactions (key 66): versions 0-2.
//
// Behaviour:
//   - Lists the transactions this broker coordinates (clients ask every
//     broker), filtered by state, producer id, duration and id pattern.
//     Unknown state names come back in UnknownStateFilters; if only unknown
//     states were given, nothing matches.
//   - The pattern is a Go (RE2) regular expression; one that does not
//     compile is INVALID_REGULAR_EXPRESSION.
//   - Authorization (authz.go): only transactional ids the principal may
//     DESCRIBE are listed.
//
// Version notes:
//   - v1: DurationFilter, transactions open longer than it (KIP-994). v2:
//     TransactionalIdPattern (KIP-1152).
//
// Where Spool differs from Kafka 4.3:
//   - TransactionalIdPattern is compiled as a Go RE2 expression and
//     matched anywhere in the id (regexp.MatchString); Kafka compiles a
//     java.util.regex.Pattern, whose syntax differs (RE2 has no
//     lookaround or backreferences). Whether Kafka needs the whole id to
//     match was not compared.

func (th *txnHandlers) handleListTransactions(ctx context.Context, rc *reqCtx, req *protocol.ListTransactionsRequest) (*protocol.ListTransactionsResponse, error) {
	resp := &protocol.ListTransactionsResponse{}
	var f txn.Filter
	for _, s := range req.StateFilters {
		if st, ok := txn.ParseState(s); ok {
			f.States = append(f.States, st)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	if len(req.StateFilters) > 0 && len(f.States) == 0 {
		return resp, nil // only unknown states: nothing can match
	}
	for _, p := range req.ProducerIDFilters {
		f.ProducerIDs = append(f.ProducerIDs, int64(p))
	}
	if rc.v >= 1 && req.DurationFilter > 0 {
		f.MinDuration = time.Duration(req.DurationFilter) * time.Millisecond
	}
	var re *regexp.Regexp
	if rc.v >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		var err error
		if re, err = regexp.Compile(*req.TransactionalIDPattern); err != nil {
			resp.ErrorCode = errcode.InvalidRegularExpression
			return resp, nil
		}
	}
	for _, m := range th.coord.List(f) {
		if re != nil && !re.MatchString(m.TransactionalID) {
			continue
		}
		if !th.b.authorize(rc, acl.OpDescribe, acl.ResourceTransactionalID, m.TransactionalID) { // authz.go
			continue
		}
		resp.TransactionStates = append(resp.TransactionStates, protocol.ListTransactionsResponseTransactionState{
			TransactionalID: protocol.TransactionalID(m.TransactionalID), ProducerID: protocol.ProducerID(m.ProducerID),
			TransactionState: m.State.String(),
		})
	}
	return resp, nil
}
