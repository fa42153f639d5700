package acl

import (
	"cmp"
	"encoding/base64"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/spool-broker/spool/auth"
)

// ID identifies an ACL in the metadata log (the Uuid of Kafka's
// AccessControlEntryRecord).
type ID [16]byte

// String is the base64url form Kafka prints Uuids in.
func (id ID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// Snapshot is an immutable set of ACLs indexed for authorization. The
// controller builds a new one for every change (Apply) and hands it to the
// Authorizer; readers never lock.
type Snapshot struct {
	byID   map[ID]Binding
	byType map[ResourceType]*typeIndex
}

// typeIndex holds one resource type's ACLs by how they match a name.
type typeIndex struct {
	literal  map[string][]Binding // exact names, and Wildcard
	prefixed map[string][]Binding
	// prefixLens are the distinct lengths of prefixed names, ascending, so
	// a lookup tries only lengths that exist.
	prefixLens []int
}

// EmptySnapshot has no ACLs.
var EmptySnapshot = NewSnapshot(nil)

// NewSnapshot indexes bindings by ID.
func NewSnapshot(bindings map[ID]Binding) *Snapshot {
	s := &Snapshot{byID: make(map[ID]Binding, len(bindings)), byType: map[ResourceType]*typeIndex{}}
	for id, b := range bindings {
		s.byID[id] = b
	}
	s.index()
	return s
}

func (s *Snapshot) index() {
	lens := map[ResourceType]map[int]bool{}
	for _, b := range s.byID {
		ti := s.byType[b.Pattern.Type]
		if ti == nil {
			ti = &typeIndex{literal: map[string][]Binding{}, prefixed: map[string][]Binding{}}
			s.byType[b.Pattern.Type] = ti
			lens[b.Pattern.Type] = map[int]bool{}
		}
		switch b.Pattern.PatternType {
		case PatternLiteral:
			ti.literal[b.Pattern.Name] = append(ti.literal[b.Pattern.Name], b)
		case PatternPrefixed:
			ti.prefixed[b.Pattern.Name] = append(ti.prefixed[b.Pattern.Name], b)
			lens[b.Pattern.Type][len(b.Pattern.Name)] = true
		}
	}
	for rt, ti := range s.byType {
		for l := range lens[rt] {
			ti.prefixLens = append(ti.prefixLens, l)
		}
		slices.Sort(ti.prefixLens)
	}
}

// Apply returns a new snapshot with removes taken out and adds put in (an
// add with an existing ID replaces it). s is unchanged.
func (s *Snapshot) Apply(adds map[ID]Binding, removes []ID) *Snapshot {
	next := &Snapshot{byID: make(map[ID]Binding, len(s.byID)+len(adds)), byType: map[ResourceType]*typeIndex{}}
	for id, b := range s.byID {
		next.byID[id] = b
	}
	for _, id := range removes {
		delete(next.byID, id)
	}
	for id, b := range adds {
		next.byID[id] = b
	}
	next.index()
	return next
}

// Len is the number of ACLs.
func (s *Snapshot) Len() int { return len(s.byID) }

// Get returns the ACL with the ID.
func (s *Snapshot) Get(id ID) (Binding, bool) {
	b, ok := s.byID[id]
	return b, ok
}

// IDBinding is an ACL with its ID.
type IDBinding struct {
	ID      ID
	Binding Binding
}

// Matching lists the ACLs the filter selects (DescribeAcls, and the ACLs a
// DeleteAcls filter removes), in a stable order: by resource type, pattern
// type, name, principal, host, operation, permission.
func (s *Snapshot) Matching(f BindingFilter) []IDBinding {
	var out []IDBinding
	for id, b := range s.byID {
		if f.Matches(b) {
			out = append(out, IDBinding{ID: id, Binding: b})
		}
	}
	slices.SortFunc(out, func(a, b IDBinding) int {
		x, y := a.Binding, b.Binding
		return cmp.Or(
			cmp.Compare(x.Pattern.Type, y.Pattern.Type),
			cmp.Compare(x.Pattern.PatternType, y.Pattern.PatternType),
			cmp.Compare(x.Pattern.Name, y.Pattern.Name),
			cmp.Compare(x.Entry.Principal, y.Entry.Principal),
			cmp.Compare(x.Entry.Host, y.Entry.Host),
			cmp.Compare(x.Entry.Operation, y.Entry.Operation),
			cmp.Compare(x.Entry.Permission, y.Entry.Permission),
			slices.Compare(a.ID[:], b.ID[:]),
		)
	})
	return out
}

// Contains reports whether an identical ACL exists (the controller skips
// creating duplicates, as Kafka).
func (s *Snapshot) Contains(b Binding) bool {
	ti := s.byType[b.Pattern.Type]
	if ti == nil {
		return false
	}
	m := ti.literal
	if b.Pattern.PatternType == PatternPrefixed {
		m = ti.prefixed
	}
	return slices.Contains(m[b.Pattern.Name], b)
}

// each calls fn for every ACL of type rt whose pattern applies to the
// resource name: the literal name, the literal wildcard, and the prefixed
// names that are prefixes of name. It stops when fn returns false.
func (s *Snapshot) each(rt ResourceType, name string, fn func(Binding) bool) {
	ti := s.byType[rt]
	if ti == nil {
		return
	}
	for _, b := range ti.literal[name] {
		if !fn(b) {
			return
		}
	}
	// Kafka's scan (StandardAuthorizerData.checkSection) skips a LITERAL
	// ACL whose name is a proper prefix of the resource name before it
	// considers the wildcard, so the LITERAL "*" ACLs do not apply to a
	// resource whose name starts with '*' (a group or transactional ID
	// "*x"; topic names cannot contain '*'). Spool does the same, so the
	// answers are Kafka's.
	if !strings.HasPrefix(name, Wildcard) {
		for _, b := range ti.literal[Wildcard] {
			if !fn(b) {
				return
			}
		}
	}
	for _, l := range ti.prefixLens {
		if l > len(name) {
			break
		}
		for _, b := range ti.prefixed[name[:l]] {
			if !fn(b) {
				return
			}
		}
	}
}

// Result is an authorization result.
type Result int8

const (
	Denied Result = iota
	Allowed
)

func (r Result) String() string {
	if r == Allowed {
		return "ALLOWED"
	}
	return "DENIED"
}

// Rule is what decided a Result, for the audit log (Kafka's MatchingRule).
type Rule struct {
	Kind RuleKind
	ACL  Binding // for RuleACL
}

// RuleKind names the kinds of Rule.
type RuleKind int8

const (
	RuleDefault   RuleKind = iota // no ACL on the resource: allow.everyone.if.no.acl.found
	RuleNoMatch                   // the resource has ACLs, none allows this request
	RuleACL                       // an ACL decided (a DENY, or else an ALLOW)
	RuleSuperUser                 // super.users
	RuleNotReady                  // the authorizer has not loaded its ACLs yet
)

func (r Rule) String() string {
	switch r.Kind {
	case RuleSuperUser:
		return "SuperUser"
	case RuleACL:
		return "MatchingAcl(acl=" + r.ACL.String() + ")"
	case RuleNoMatch:
		return "DefaultDeny"
	case RuleNotReady:
		return "NotReady"
	}
	return "Default"
}

// Decision is a result and the rule behind it.
type Decision struct {
	Result Result
	Rule   Rule
}

// Config is the authorizer's static configuration.
type Config struct {
	// SuperUsers is super.users: principals allowed everything.
	SuperUsers []auth.Principal
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found (Kafka's
	// default false): the result for a resource no ACL applies to.
	AllowEveryoneIfNoACLFound bool
}

// Authorizer is Kafka's StandardAuthorizer over an immutable Snapshot. It is
// safe for concurrent use: Authorize reads the current snapshot without
// locking; SetSnapshot swaps it atomically, so a change takes effect for
// every connection at its next check, without reconnecting.
type Authorizer struct {
	superUsers map[string]bool // principal strings, as Kafka compares them
	noACL      Result
	snap       atomic.Pointer[Snapshot]
	ready      atomic.Bool
}

// NewAuthorizer makes an authorizer with no ACLs that is not ready: until
// CompleteInitialLoad only super users are allowed, as Kafka's
// StandardAuthorizer (whose brokers open their listeners only then).
func NewAuthorizer(cfg Config) *Authorizer {
	a := &Authorizer{superUsers: map[string]bool{}, noACL: Denied}
	for _, p := range cfg.SuperUsers {
		a.superUsers[p.String()] = true
	}
	if cfg.AllowEveryoneIfNoACLFound {
		a.noACL = Allowed
	}
	a.snap.Store(EmptySnapshot)
	return a
}

// SetSnapshot installs the current ACLs.
func (a *Authorizer) SetSnapshot(s *Snapshot) { a.snap.Store(s) }

// Snapshot is the current ACLs.
func (a *Authorizer) Snapshot() *Snapshot { return a.snap.Load() }

// CompleteInitialLoad marks the ACLs of the metadata log loaded.
func (a *Authorizer) CompleteInitialLoad() { a.ready.Store(true) }

// Ready reports whether CompleteInitialLoad was called.
func (a *Authorizer) Ready() bool { return a.ready.Load() }

// IsSuperUser reports whether p is in super.users.
func (a *Authorizer) IsSuperUser(p auth.Principal) bool { return a.superUsers[p.String()] }

// impliesDescribe and impliesDescribeConfigs: operations that, in an ALLOW
// ACL, also allow DESCRIBE or DESCRIBE_CONFIGS.
func impliesDescribe(op Operation) bool {
	switch op {
	case OpDescribe, OpRead, OpWrite, OpDelete, OpAlter:
		return true
	}
	return false
}

func impliesDescribeConfigs(op Operation) bool {
	return op == OpDescribeConfigs || op == OpAlterConfigs
}

// principalMatches: the ACL names the principal, or every principal.
func principalMatches(aclPrincipal string, p auth.Principal) bool {
	if aclPrincipal == WildcardPrincipal {
		return true
	}
	typ, name, ok := strings.Cut(aclPrincipal, ":")
	return ok && typ == p.Type && name == p.Name
}

// findResult is Kafka's StandardAuthorizerData.findResult for an ACL whose
// resource pattern applies: ok is false when principal, host or operation
// do not match. Implication (READ allows DESCRIBE, ...) holds for ALLOW
// ACLs only: a DENY for READ does not deny DESCRIBE.
func findResult(b Binding, p auth.Principal, host string, op Operation) (Result, bool) {
	e := b.Entry
	if !principalMatches(e.Principal, p) {
		return Denied, false
	}
	if e.Host != Wildcard && e.Host != host {
		return Denied, false
	}
	if e.Operation != OpAll {
		if e.Permission == Allow {
			switch op {
			case OpDescribe:
				if !impliesDescribe(e.Operation) {
					return Denied, false
				}
			case OpDescribeConfigs:
				if !impliesDescribeConfigs(e.Operation) {
					return Denied, false
				}
			default:
				if op != e.Operation {
					return Denied, false
				}
			}
		} else if op != e.Operation {
			return Denied, false
		}
	}
	if e.Permission == Allow {
		return Allowed, true
	}
	return Denied, true
}

// Authorize decides whether principal, connected from host (HostString of
// the client address), may do op on the resource (rt, name):
//
//  1. super users are allowed everything;
//  2. every ACL of the resource type whose pattern applies to the name
//     (the literal name, the literal wildcard "*", every prefixed name
//     that is a prefix of it) is considered: a matching DENY denies, no
//     matter how many ALLOWs match; else a matching ALLOW allows;
//  3. if some ACL applies to the resource but none matched this request
//     (another principal, host or operation), the answer is DENIED;
//  4. if no ACL applies to the resource at all, the answer is
//     allow.everyone.if.no.acl.found.
func (a *Authorizer) Authorize(p auth.Principal, host string, op Operation, rt ResourceType, name string) Decision {
	if a.superUsers[p.String()] {
		return Decision{Result: Allowed, Rule: Rule{Kind: RuleSuperUser}}
	}
	if !a.ready.Load() {
		return Decision{Result: Denied, Rule: Rule{Kind: RuleNotReady}}
	}
	return a.authorizeIn(a.snap.Load(), p, host, op, rt, name)
}

func (a *Authorizer) authorizeIn(s *Snapshot, p auth.Principal, host string, op Operation, rt ResourceType, name string) Decision {
	var (
		hasResourceACLs bool
		allow, deny     *Binding
	)
	s.each(rt, name, func(b Binding) bool {
		hasResourceACLs = true
		r, ok := findResult(b, p, host, op)
		if !ok {
			return true
		}
		if r == Denied {
			deny = &b
			return false
		}
		if allow == nil {
			allow = &b
		}
		return true
	})
	switch {
	case deny != nil:
		return Decision{Result: Denied, Rule: Rule{Kind: RuleACL, ACL: *deny}}
	case allow != nil:
		return Decision{Result: Allowed, Rule: Rule{Kind: RuleACL, ACL: *allow}}
	case hasResourceACLs:
		return Decision{Result: Denied, Rule: Rule{Kind: RuleNoMatch}}
	}
	return Decision{Result: a.noACL, Rule: Rule{Kind: RuleDefault}}
}

// AuthorizeByResourceType is Kafka's Authorizer.authorizeByResourceType:
// may the principal do op on at least one resource of the type? Kafka uses
// it where a request names no resource yet (e.g. an idempotent producer
// without IDEMPOTENT_WRITE on the cluster needs WRITE on some topic). It
// first authorizes a hard-coded literal name (so super users, the literal
// wildcard and allow.everyone.if.no.acl.found answer), then looks for an
// ALLOW (literal or prefixed) not dominated by a DENY on the same literal
// name or on a prefix of it. Operations are not implied here.
func (a *Authorizer) AuthorizeByResourceType(p auth.Principal, host string, op Operation, rt ResourceType) Result {
	if a.Authorize(p, host, op, rt, "hardcode").Result == Allowed {
		return Allowed
	}
	if !a.ready.Load() {
		return Denied
	}
	s := a.snap.Load()
	ti := s.byType[rt]
	if ti == nil {
		return Denied
	}
	denyLiteral, denyPrefixed := map[string]bool{}, map[string]bool{}
	allowLiteral, allowPrefixed := map[string]bool{}, map[string]bool{}
	wildcardAllow := false
	matches := func(b Binding) bool {
		e := b.Entry
		if e.Host != host && e.Host != Wildcard {
			return false
		}
		if !principalMatches(e.Principal, p) {
			return false
		}
		return e.Operation == op || e.Operation == OpAll
	}
	for _, group := range []map[string][]Binding{ti.literal, ti.prefixed} {
		for _, bs := range group {
			for _, b := range bs {
				if !matches(b) {
					continue
				}
				literal := b.Pattern.PatternType == PatternLiteral
				switch b.Entry.Permission {
				case Deny:
					if literal && b.Pattern.Name == Wildcard {
						return Denied
					}
					if literal {
						denyLiteral[b.Pattern.Name] = true
					} else {
						denyPrefixed[b.Pattern.Name] = true
					}
				case Allow:
					if literal && b.Pattern.Name == Wildcard {
						wildcardAllow = true // decides after the loop: a wildcard DENY still wins
						continue
					}
					if literal {
						allowLiteral[b.Pattern.Name] = true
					} else {
						allowPrefixed[b.Pattern.Name] = true
					}
				}
			}
		}
	}
	if wildcardAllow {
		return Allowed
	}
	dominated := func(name string) bool {
		for i := 1; i <= len(name); i++ {
			if denyPrefixed[name[:i]] {
				return true
			}
		}
		return false
	}
	for name := range allowLiteral {
		if !denyLiteral[name] && !dominated(name) {
			return Allowed
		}
	}
	for name := range allowPrefixed {
		if !dominated(name) {
			return Allowed
		}
	}
	return Denied
}

// HostString formats a client address as Java's
// InetAddress.getHostAddress does, the form Kafka compares ACL hosts with:
// dotted IPv4 (also for IPv4-mapped IPv6 addresses, which Java turns into
// Inet4Address), and IPv6 as eight groups of lower-case hex without
// leading zeros and without "::" compression ("0:0:0:0:0:0:0:1"), with
// "%zone" when there is one.
func HostString(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	b := addr.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16))
	}
	if z := addr.Zone(); z != "" {
		sb.WriteString("%" + z)
	}
	return sb.String()
}
