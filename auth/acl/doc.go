// Package acl owns Kafka's ACL model and an authorizer with the semantics of
// Kafka's StandardAuthorizer (KRaft), as a pure library over an immutable
// Snapshot of ACL bindings.
//
// # Model
//
// A Binding is a ResourcePattern (resource type, name, LITERAL or PREFIXED)
// and an Entry (principal "Type:Name" or "User:*", host IP or "*",
// operation, ALLOW or DENY). Enums carry Kafka's wire codes. Filters
// (PatternFilter, EntryFilter, BindingFilter) follow Kafka's
// ResourcePatternFilter / AccessControlEntryFilter: ANY resource type,
// ANY pattern type (exact name), MATCH (every pattern that applies to a
// name), nil name/principal/host for "any".
//
// # Authorization
//
// Authorizer.Authorize answers one (principal, host, operation, resource)
// question: super users are allowed; otherwise every ACL of the resource
// type whose pattern applies to the name (literal name, literal "*",
// prefixed prefixes of the name) is considered; a matching DENY wins over
// any ALLOW; with no match the answer is DENIED if any ACL applies to the
// resource at all, else allow.everyone.if.no.acl.found. ALLOW ACLs for
// READ, WRITE, DELETE or ALTER imply DESCRIBE, ALTER_CONFIGS implies
// DESCRIBE_CONFIGS, ALL matches every operation; DENY ACLs imply nothing.
// AuthorizeByResourceType is Kafka's Authorizer.authorizeByResourceType.
// The answers are checked against Kafka's own StandardAuthorizer on random
// ACL sets (TestAuthorizerAgainstKafka), which is how one quirk was found
// and kept: the literal "*" ACLs do not apply to names that start with '*'.
//
// Hosts compare as strings, in the form Java's InetAddress.getHostAddress
// prints (HostString): "::1" is "0:0:0:0:0:0:0:1", as in Kafka.
//
// # Concurrency and lifetime
//
// A Snapshot never changes; Apply makes a new one (copy-on-write, O(ACLs)).
// The controller builds snapshots from AccessControlEntryRecord and
// RemoveAccessControlEntryRecord and calls Authorizer.SetSnapshot, an atomic
// swap: every connection sees the change at its next check, without
// reconnecting. Authorize never locks. Until CompleteInitialLoad only super
// users are allowed (RuleNotReady), as Kafka's authorizer before its initial
// load; the broker opens client listeners only after it.
//
// # Validation
//
// ValidateCreate is what Kafka checks per CreateAcls creation (the CLUSTER
// resource's name, empty names, UNKNOWN enums, a principal without a
// colon), with Kafka's INVALID_REQUEST messages; ValidateDeleteFilter is
// the controller's DeleteAcls filter check. Request-level rules belong to
// the handlers: v0 of CreateAcls/DescribeAcls/DeleteAcls only takes LITERAL
// (ANY becomes LITERAL for Describe and Delete), and a raw UNKNOWN (code 0)
// enum makes Kafka refuse the whole request. ANY/MATCH in a CreateAcls
// creation cannot even be built into a Kafka AclBinding (its constructors
// throw); ValidateCreate refuses them with INVALID_REQUEST, what Kafka's
// handler reports for them is to be recorded in the compat matrix.
package acl
