package server

import (
	"strconv"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/audit"
	"github.com/spool-broker/spool/protocol"
)

// The security audit log (internal/audit, spool.audit.log.*): the broker
// writes one line per authorization denial (every decision with
// spool.audit.log.allowed=true) from authorize/authorizeByResourceType,
// per authentication success or failure from the connection
// (conn_auth.go), and per ACL or SCRAM credential change from the
// CreateAcls, DeleteAcls and AlterUserScramCredentials handlers. The
// authorized_operations bit fields are computed without logging, as Kafka
// does not log them either.

// auditListener is the listener a request came in on, for the audit log.
func (rc *reqCtx) auditListener() string {
	if rc.c == nil {
		return ""
	}
	return rc.c.listener
}

// auditAuthorization logs an authorization decision: always a denial,
// an allowed one when spool.audit.log.allowed is set.
func (b *Broker) auditAuthorization(rc *reqCtx, op acl.Operation, rt acl.ResourceType, name string, d acl.Decision) {
	allowed := d.Result == acl.Allowed
	if b.audit == nil || (allowed && !b.audit.LogsAllowed()) {
		return
	}
	e := audit.Event{Event: audit.EventAuthorization, Outcome: audit.Denied, Principal: rc.principal.String(), ClientAddress: rc.host,
		Listener: rc.auditListener(), Operation: op.String(), ResourceType: rt.String(), ResourceName: name, PatternType: "LITERAL"}
	if allowed {
		e.Outcome = audit.Allowed
	}
	if d.Rule.Kind == acl.RuleACL {
		e.Detail = "matched " + d.Rule.ACL.String()
	}
	b.audit.Log(e)
}

// auditACLChange logs one ACL created or deleted (err nil) or refused.
func (b *Broker) auditACLChange(rc *reqCtx, what string, binding acl.Binding, err error) {
	if b.audit == nil {
		return
	}
	e := audit.Event{Event: audit.EventACLChange, Outcome: audit.Success, Principal: rc.principal.String(), ClientAddress: rc.host,
		Listener: rc.auditListener(), Operation: what, ResourceType: binding.Pattern.Type.String(), ResourceName: binding.Pattern.Name,
		PatternType: binding.Pattern.PatternType.String(), Detail: binding.Entry.String()}
	if err != nil {
		e.Outcome, e.Detail = audit.Failure, e.Detail+": "+err.Error()
	}
	b.audit.Log(e)
}

// auditCredentialChange logs one SCRAM credential upserted or deleted for
// user (never the salt or salted password).
func (b *Broker) auditCredentialChange(rc *reqCtx, what, user, mechanism string, code int16, msg *string) {
	if b.audit == nil {
		return
	}
	e := audit.Event{Event: audit.EventCredentialChange, Outcome: audit.Success, Principal: rc.principal.String(), ClientAddress: rc.host,
		Listener: rc.auditListener(), Operation: what, ResourceType: "USER", ResourceName: user, Mechanism: mechanism}
	if code != 0 {
		e.Outcome = audit.Failure
		e.Detail = "error " + strconv.Itoa(int(code))
		if msg != nil {
			e.Detail += ": " + *msg
		}
	}
	b.audit.Log(e)
}

// auditAuthentication logs a connection's authentication outcome.
func (c *conn) auditAuthentication(outcome, principal, mechanism, detail string) {
	a := c.s.broker.auditLog()
	if a == nil {
		return
	}
	a.Log(audit.Event{Event: audit.EventAuthentication, Outcome: outcome, Principal: principal, ClientAddress: c.host,
		Listener: c.listener, Mechanism: mechanism, Detail: detail})
}

func (b *Broker) auditLog() *audit.Logger {
	if b == nil {
		return nil
	}
	return b.audit
}

// auditScramResults logs each credential of an AlterUserScramCredentials
// request with its user's result.
func (b *Broker) auditScramResults(rc *reqCtx, req *protocol.AlterUserScramCredentialsRequest, results []controller.ScramAlterResult) {
	if b.audit == nil {
		return
	}
	byUser := map[string]controller.ScramAlterResult{}
	for _, r := range results {
		byUser[r.User] = r
	}
	mech := func(m int8) string {
		if sm := sasl.ScramMechanism(m); sm.Valid() {
			return sm.String()
		}
		return "UNKNOWN"
	}
	for _, d := range req.Deletions {
		r := byUser[d.Name]
		b.auditCredentialChange(rc, "DELETE_SCRAM_CREDENTIAL", d.Name, mech(d.Mechanism), r.ErrorCode, r.ErrorMessage)
	}
	for _, u := range req.Upsertions {
		r := byUser[u.Name]
		b.auditCredentialChange(rc, "UPSERT_SCRAM_CREDENTIAL", u.Name, mech(u.Mechanism), r.ErrorCode, r.ErrorMessage)
	}
}
