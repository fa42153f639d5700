// Package auth owns who a connection is and what it may do: the principal
// type, the connection's authentication state (Session), and, in
// subpackages, TLS (auth/tls), SASL mechanisms (auth/sasl) and the ACL
// authorizer (auth/acl). Everything here is library code with no network
// I/O; the connection loop, the handlers and the controller call it.
//
// Security is decided before dispatch and checked at the resource: the
// connection knows its Session and refuses anything but ApiVersions,
// SaslHandshake and SaslAuthenticate until the Session is authenticated;
// each handler asks the authorizer once per resource it touches.
//
// # Integration contract
//
// Wired in internal/server (security.go, conn_auth.go, authz.go,
// authz_txn.go, api_17/29/30/31/36/50/51) and controller (security.go,
// security_ops.go, bootstrap.go), internal/seclink (listener setup, the
// CONTROLLER listener's handshake, the Dialer of inter-node links) and
// internal/audit, as follows; not wired yet: re-authentication beyond
// connections.max.reauth.ms, delegation tokens (TokenStore).
//
// Composition root (internal/node), per listener:
//
//	props := tls.ServerProps(cfg.Security, l.Name, l.SecurityProtocol)
//	SSL, SASL_SSL:    srv, err := tls.NewServer(props); pb, err := tls.NewPrincipalBuilder(props)
//	SASL_*:          SASLConfig{
//	                   Mechanisms: from listener.name.<l>.sasl.enabled.mechanisms or sasl.enabled.mechanisms:
//	                     PLAIN        sasl.NewPlainFromJAAS(sasl.ParseServerJAAS(listener.name.<l>.plain.sasl.jaas.config))
//	                     SCRAM-SHA-*  sasl.NewScram(mech, <controller's CredentialStore>, sasl.WithTokens(<TokenStore>))
//	                     OAUTHBEARER  sasl.NewOAuthBearer(UnsecuredValidator from the JAAS options, or
//	                                  sasl.NewJWKSValidator when ...oauthbearer.sasl.server.callback.handler.class
//	                                  is OAuthBearerValidatorCallbackHandler; Close it on shutdown)
//	                   MaxReceiveSize: sasl.server.max.receive.size (default 524288)
//	                   MaxReauth: [listener.name.<l>.<mech>.]connections.max.reauth.ms
//	                   FailedAuthenticationDelay: connection.failed.authentication.delay.ms (default 100 ms)}
//	authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer:
//	                 acl.NewAuthorizer(acl.Config{SuperUsers: ParseSuperUsers(super.users),
//	                   AllowEveryoneIfNoACLFound: allow.everyone.if.no.acl.found})
//	then flip the matching `implemented` flags in internal/config/protections.go.
//
// Connection loop (internal/server), per connection:
//
//	accept:  PLAINTEXT       s := NewAuthenticatedSession(Anonymous)
//	         SSL             TLS handshake with srv.Config() before reading any frame (with a deadline);
//	                         p, err := pb.Principal(conn.ConnectionState()) (err: close);
//	                         s := NewAuthenticatedSession(p)
//	         SASL_PLAINTEXT  s := NewSASLSession(cfg)
//	         SASL_SSL        TLS handshake, then s := NewSASLSession(cfg)
//	per frame: cap the size at s.MaxFrameSize(socket.request.max.bytes) before
//	         allocating it (close if larger), and read one frame at a time,
//	         nothing ahead, until s.Phase() == PhaseAuthenticated.
//	         If s.RawTokens() (SaslHandshake v0): the frame is a bare token:
//	         r := s.AuthenticateRaw(frame, now); write r.AuthBytes size-prefixed
//	         unless r.NoResponse; close when r.Close (after r.CloseDelay).
//	         Otherwise parse the header only, then d := s.Check(apiKey, now):
//	           Serve              dispatch (below)
//	           HandleApiVersions  answer ApiVersions; s.ApiVersionsAnswered(errorCode == 0)
//	           HandleHandshake    r := s.Handshake(req.Mechanism, version):
//	                              answer {r.ErrorCode, r.Mechanisms}; close after it if r.Close
//	           HandleAuthenticate r := s.Authenticate(req.AuthBytes, version, now):
//	                              close if r.NoResponse; else answer {r.ErrorCode, r.ErrorMessage,
//	                              r.AuthBytes, r.SessionLifetimeMs}, after r.CloseDelay when r.Close,
//	                              then close
//	           Respond            answer the request with d.ErrorCode (d.ErrorMessage where the
//	                              response has a message); keep the connection
//	           RespondAndClose    the same, then close
//	           Close              close without answering (log d.Reason at debug)
//	dispatch: the request context carries s's principal, acl.HostString(remote
//	         IP) as the client host, the listener name and security protocol,
//	         and s.TokenAuthenticated(), to every handler, the streamed Produce
//	         body path included. Fetch keeps sendfile only on non-TLS
//	         connections. Never log SaslAuthenticate bytes (protocol redacts them).
//
// Handlers, per resource, one call each, as Kafka's AuthHelper:
//
//	authz.Authorize(ctx.Principal, ctx.Host, op, resourceType, name).Result == acl.Allowed
//
// with Kafka's codes: TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED,
// CLUSTER_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
// DELEGATION_TOKEN_AUTHORIZATION_FAILED; unauthorized topics hidden from
// Metadata; AuthorizeByResourceType where Kafka uses it (an idempotent
// producer without IDEMPOTENT_WRITE on the cluster); authorized_operations
// from Authorize over the resource type's operations. With no authorizer
// configured everything is allowed and CreateAcls/DescribeAcls/DeleteAcls
// answer SECURITY_DISABLED "No Authorizer is configured.". Decision.Rule
// feeds the audit log.
//
// Controller (metadata log):
//
//	ACLs    AccessControlEntryRecord{Id, ResourceType, ResourceName, PatternType, Principal,
//	        Host, Operation, PermissionType} / RemoveAccessControlEntryRecord{Id}; replay
//	        builds acl.Snapshot (NewSnapshot, Apply); every broker calls
//	        Authorizer.SetSnapshot on each image and CompleteInitialLoad after the first,
//	        before opening client listeners. CreateAcls: acl.ValidateCreate per creation,
//	        Snapshot.Contains to skip duplicates (still a success), fresh Uuids.
//	        DeleteAcls: acl.ValidateDeleteFilter, Snapshot.Matching, at most
//	        acl.MaxDeletedPerRequest. DescribeAcls: Snapshot.Matching.
//	SCRAM   UserScramCredentialRecord{Name, Mechanism, Salt, StoredKey, ServerKey, Iterations}
//	        / RemoveUserScramCredentialRecord; AlterUserScramCredentials sends SaltedPassword:
//	        sasl.ValidateIterations, then mech.CredentialFromSaltedPassword. The image
//	        implements sasl.CredentialStore (immutable per image, safe for concurrent reads).
//	        `spool format --add-scram` uses mech.NewCredential.
//	tokens  delegation tokens in the log implement sasl.TokenStore (credential derived from
//	        the token's HMAC, owner, expiry).
//
// # Concurrency
//
// Principal is a value. A Session belongs to its connection's goroutine.
// SASLConfig, the mechanisms, tls.Server and acl.Authorizer are shared by
// every connection and safe for concurrent use.
package auth
