package acl

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth"
)

func acl(rt ResourceType, name string, pt PatternType, principal, host string, op Operation, perm Permission) Binding {
	return Binding{Pattern: ResourcePattern{Type: rt, Name: name, PatternType: pt}, Entry: Entry{Principal: principal, Host: host, Operation: op, Permission: perm}}
}

func snapshotOf(bs ...Binding) *Snapshot {
	m := map[ID]Binding{}
	for i, b := range bs {
		var id ID
		id[0], id[1] = byte(i>>8), byte(i)
		m[id] = b
	}
	return NewSnapshot(m)
}

func newAuthorizer(cfg Config, bs ...Binding) *Authorizer {
	a := NewAuthorizer(cfg)
	a.SetSnapshot(snapshotOf(bs...))
	a.CompleteInitialLoad()
	return a
}

type check struct {
	principal string
	host      string
	op        Operation
	rt        ResourceType
	name      string
	want      Result
}

func runChecks(t *testing.T, a *Authorizer, checks []check) {
	t.Helper()
	for _, c := range checks {
		host := c.host
		if host == "" {
			host = "127.0.0.1"
		}
		d := a.Authorize(auth.User(c.principal), host, c.op, c.rt, c.name)
		require.Equal(t, c.want, d.Result, "User:%s from %s %s %s:%s (rule %s)", c.principal, host, c.op, c.rt, c.name, d.Rule)
	}
}

var superman = []auth.Principal{auth.User("superman")}

// The tables below are Kafka's StandardAuthorizerTest cases.

func TestAllowEveryoneIfNoACLFound(t *testing.T) {
	acls := []Binding{acl(ResourceTopic, "topic1", PatternLiteral, "User:Alice", "*", OpRead, Allow)}
	su := []auth.Principal{auth.User("alice"), auth.User("chris")}
	runChecks(t, newAuthorizer(Config{SuperUsers: su, AllowEveryoneIfNoACLFound: true}, acls...), []check{
		{principal: "Bob", op: OpRead, rt: ResourceTopic, name: "topic1", want: Denied},
		{principal: "Bob", op: OpRead, rt: ResourceTopic, name: "topic2", want: Allowed},
	})
	runChecks(t, newAuthorizer(Config{SuperUsers: su}, acls...), []check{
		{principal: "Bob", op: OpRead, rt: ResourceTopic, name: "topic1", want: Denied},
		{principal: "Bob", op: OpRead, rt: ResourceTopic, name: "topic2", want: Denied},
	})
}

func fooACL(op Operation, perm Permission) Binding {
	return acl(ResourceTopic, "foo_", PatternPrefixed, "User:bob", "*", op, perm)
}

func barACL(op Operation, perm Permission) Binding {
	return acl(ResourceGroup, "bar", PatternLiteral, WildcardPrincipal, "*", op, perm)
}

func TestFindResultImplication(t *testing.T) {
	bob := auth.User("bob")
	for _, op := range []Operation{OpDescribe, OpRead, OpWrite, OpDelete, OpAlter} {
		r, ok := findResult(fooACL(op, Allow), bob, "127.0.0.1", OpDescribe)
		require.True(t, ok, "%s implies DESCRIBE", op)
		require.Equal(t, Allowed, r)
	}
	_, ok := findResult(fooACL(OpCreate, Allow), bob, "127.0.0.1", OpDescribe)
	require.False(t, ok, "CREATE does not imply DESCRIBE")
	for _, op := range []Operation{OpRead, OpWrite, OpDelete, OpAlter} {
		_, ok := findResult(fooACL(op, Deny), bob, "127.0.0.1", OpDescribe)
		require.False(t, ok, "DENY %s does not deny DESCRIBE", op)
	}
	r, ok := findResult(fooACL(OpDescribe, Deny), bob, "127.0.0.1", OpDescribe)
	require.True(t, ok)
	require.Equal(t, Denied, r)
	for _, op := range []Operation{OpDescribeConfigs, OpAlterConfigs} {
		r, ok := findResult(fooACL(op, Allow), bob, "127.0.0.1", OpDescribeConfigs)
		require.True(t, ok)
		require.Equal(t, Allowed, r)
	}
	_, ok = findResult(fooACL(OpAlterConfigs, Deny), bob, "127.0.0.1", OpDescribeConfigs)
	require.False(t, ok)
	r, ok = findResult(fooACL(OpAlterConfigs, Deny), bob, "127.0.0.1", OpAlterConfigs)
	require.True(t, ok)
	require.Equal(t, Denied, r)
}

func TestFindResultPrincipalMatching(t *testing.T) {
	r, ok := findResult(fooACL(OpRead, Allow), auth.User("bob"), "127.0.0.1", OpRead)
	require.True(t, ok)
	require.Equal(t, Allowed, r)
	_, ok = findResult(fooACL(OpRead, Allow), auth.User("alice"), "127.0.0.1", OpRead)
	require.False(t, ok)
	r, ok = findResult(barACL(OpRead, Deny), auth.User("alice"), "127.0.0.1", OpRead)
	require.True(t, ok, "wildcard principal matches anyone")
	require.Equal(t, Denied, r)
}

func TestListACLs(t *testing.T) {
	foo := []Binding{fooACL(OpRead, Allow), fooACL(OpWrite, Allow)}
	bar := []Binding{barACL(OpDescribeConfigs, Deny), barACL(OpAlterConfigs, Deny)}
	s := snapshotOf(append(append([]Binding{}, foo...), bar...)...)
	bindings := func(f BindingFilter) []Binding {
		var out []Binding
		for _, ib := range s.Matching(f) {
			out = append(out, ib.Binding)
		}
		return out
	}
	require.ElementsMatch(t, append(append([]Binding{}, foo...), bar...), bindings(AnyFilter))
	var fooWriteID ID
	for _, ib := range s.Matching(AnyFilter) {
		if ib.Binding == foo[1] {
			fooWriteID = ib.ID
		}
	}
	s = s.Apply(nil, []ID{fooWriteID})
	require.ElementsMatch(t, []Binding{foo[0], bar[0], bar[1]}, bindings(AnyFilter))
	topics := BindingFilter{Pattern: PatternFilter{Type: ResourceTopic, PatternType: PatternAny}, Entry: AnyFilter.Entry}
	require.Equal(t, []Binding{foo[0]}, bindings(topics))
	require.True(t, s.Contains(foo[0]))
	require.False(t, s.Contains(foo[1]))
	require.Equal(t, 3, s.Len())
}

func TestSimpleAuthorizations(t *testing.T) {
	a := newAuthorizer(Config{SuperUsers: superman},
		fooACL(OpRead, Allow), fooACL(OpWrite, Allow), barACL(OpDescribeConfigs, Allow), barACL(OpAlterConfigs, Allow))
	runChecks(t, a, []check{
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "foo_", want: Allowed},
		{principal: "fred", op: OpAlterConfigs, rt: ResourceGroup, name: "bar", want: Allowed},
	})
}

func TestDenyPrecedenceWithOperationAll(t *testing.T) {
	a := newAuthorizer(Config{SuperUsers: superman},
		acl(ResourceTopic, "foo", PatternLiteral, "User:alice", "*", OpAll, Deny),
		acl(ResourceTopic, "foo", PatternPrefixed, "User:alice", "*", OpRead, Allow),
		acl(ResourceTopic, "foo", PatternLiteral, "User:*", "*", OpAll, Deny),
		acl(ResourceTopic, "foo", PatternPrefixed, "User:*", "*", OpDescribe, Allow))
	runChecks(t, a, []check{
		{principal: "alice", op: OpWrite, rt: ResourceTopic, name: "foo", want: Denied},
		{principal: "alice", op: OpRead, rt: ResourceTopic, name: "foo", want: Denied},
		{principal: "alice", op: OpDescribe, rt: ResourceTopic, name: "foo", want: Denied},
		{principal: "alice", op: OpRead, rt: ResourceTopic, name: "foobar", want: Allowed},
		{principal: "bob", op: OpDescribe, rt: ResourceTopic, name: "foo", want: Denied},
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "foo", want: Denied},
		{principal: "bob", op: OpWrite, rt: ResourceTopic, name: "foo", want: Denied},
		{principal: "bob", op: OpDescribe, rt: ResourceTopic, name: "foobaz", want: Allowed},
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "foobaz", want: Denied},
	})
}

func TestTopicAclWithOperationAll(t *testing.T) {
	a := newAuthorizer(Config{SuperUsers: superman},
		acl(ResourceTopic, "foo", PatternLiteral, "User:*", "*", OpAll, Allow),
		acl(ResourceTopic, "bar", PatternPrefixed, "User:alice", "*", OpAll, Allow),
		acl(ResourceTopic, "baz", PatternLiteral, "User:bob", "*", OpAll, Allow))
	runChecks(t, a, []check{
		{principal: "alice", op: OpWrite, rt: ResourceTopic, name: "foo", want: Allowed},
		{principal: "alice", op: OpDescribeConfigs, rt: ResourceTopic, name: "bar", want: Allowed},
		{principal: "alice", op: OpDescribe, rt: ResourceTopic, name: "baz", want: Denied},
		{principal: "bob", op: OpWrite, rt: ResourceTopic, name: "foo", want: Allowed},
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "bar", want: Denied},
		{principal: "bob", op: OpDescribe, rt: ResourceTopic, name: "baz", want: Allowed},
		{principal: "malory", op: OpDescribe, rt: ResourceTopic, name: "foo", want: Allowed},
		{principal: "malory", op: OpWrite, rt: ResourceTopic, name: "bar", want: Denied},
		{principal: "malory", op: OpRead, rt: ResourceTopic, name: "baz", want: Denied},
	})
}

func TestHostAddressACLValidation(t *testing.T) {
	const host1, host2, local = "192.168.1.1", "192.168.1.2", "127.0.0.1"
	a := newAuthorizer(Config{SuperUsers: superman},
		acl(ResourceTopic, "foo", PatternLiteral, "User:alice", host1, OpRead, Deny),
		acl(ResourceTopic, "foo", PatternLiteral, "User:alice", "*", OpRead, Allow),
		acl(ResourceTopic, "bar", PatternLiteral, "User:bob", host2, OpRead, Allow),
		acl(ResourceTopic, "bar", PatternLiteral, "User:*", local, OpDescribe, Allow))
	actions := func(principal, host string, want ...Result) []check {
		return []check{
			{principal: principal, host: host, op: OpRead, rt: ResourceTopic, name: "foo", want: want[0]},
			{principal: principal, host: host, op: OpRead, rt: ResourceTopic, name: "bar", want: want[1]},
			{principal: principal, host: host, op: OpDescribe, rt: ResourceTopic, name: "bar", want: want[2]},
		}
	}
	runChecks(t, a, actions("alice", local, Allowed, Denied, Allowed))
	runChecks(t, a, actions("alice", host1, Denied, Denied, Denied))
	runChecks(t, a, actions("alice", host2, Allowed, Denied, Denied))
	runChecks(t, a, actions("bob", local, Denied, Denied, Allowed))
	runChecks(t, a, actions("bob", host1, Denied, Denied, Denied))
	runChecks(t, a, actions("bob", host2, Denied, Allowed, Allowed))
}

func manyACLs() []Binding {
	return []Binding{
		acl(ResourceTopic, "green2", PatternLiteral, "User:*", "*", OpRead, Allow),
		acl(ResourceTopic, "green", PatternPrefixed, "User:bob", "*", OpRead, Allow),
		acl(ResourceTopic, "betamax4", PatternLiteral, "User:bob", "*", OpRead, Allow),
		acl(ResourceTopic, "betamax", PatternLiteral, "User:bob", "*", OpRead, Allow),
		acl(ResourceTopic, "beta", PatternPrefixed, "User:*", "*", OpRead, Allow),
		acl(ResourceTopic, "alpha", PatternPrefixed, "User:*", "*", OpRead, Allow),
		acl(ResourceTopic, "alp", PatternPrefixed, "User:bob", "*", OpRead, Deny),
		acl(ResourceGroup, "*", PatternLiteral, "User:bob", "*", OpWrite, Allow),
		acl(ResourceGroup, "wheel", PatternLiteral, "User:*", "*", OpWrite, Deny),
	}
}

func TestAuthorizationWithManyACLs(t *testing.T) {
	a := newAuthorizer(Config{SuperUsers: superman}, manyACLs()...)
	runChecks(t, a, []check{
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "green1", want: Allowed},
		{principal: "bob", op: OpWrite, rt: ResourceGroup, name: "wheel", want: Denied},
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "alpha", want: Denied},
		{principal: "bob", op: OpWrite, rt: ResourceGroup, name: "arbitrary", want: Allowed},
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "ala", want: Denied},
	})
	d := a.Authorize(auth.User("bob"), "127.0.0.1", OpRead, ResourceTopic, "alpha")
	require.Equal(t, "MatchingAcl(acl=(pattern=ResourcePattern(resourceType=TOPIC, name=alp, patternType=PREFIXED), entry=(principal=User:bob, host=*, operation=READ, permissionType=DENY)))", d.Rule.String())
	d = a.Authorize(auth.User("bob"), "127.0.0.1", OpRead, ResourceTopic, "green1")
	require.Equal(t, RuleACL, d.Rule.Kind)
	require.Equal(t, "green", d.Rule.ACL.Pattern.Name)
}

func TestAuthorizationPriorToCompleteInitialLoad(t *testing.T) {
	a := NewAuthorizer(Config{SuperUsers: superman})
	a.SetSnapshot(snapshotOf(manyACLs()...))
	d := a.Authorize(auth.User("bob"), "127.0.0.1", OpRead, ResourceTopic, "green1")
	require.Equal(t, Decision{Result: Denied, Rule: Rule{Kind: RuleNotReady}}, d)
	require.Equal(t, Allowed, a.Authorize(auth.User("superman"), "127.0.0.1", OpWrite, ResourceGroup, "wheel").Result)
	require.False(t, a.Ready())
	a.CompleteInitialLoad()
	require.Equal(t, Allowed, a.Authorize(auth.User("bob"), "127.0.0.1", OpRead, ResourceTopic, "green1").Result)
}

func TestPrefixACLs(t *testing.T) {
	a := newAuthorizer(Config{SuperUsers: superman},
		acl(ResourceTopic, "fooa", PatternPrefixed, "User:alice", "*", OpAll, Allow),
		acl(ResourceTopic, "foobar", PatternLiteral, "User:bob", "*", OpAll, Allow),
		acl(ResourceTopic, "f", PatternPrefixed, "User:bob", "*", OpAll, Allow))
	runChecks(t, a, []check{
		{principal: "bob", op: OpWrite, rt: ResourceTopic, name: "foobarr", want: Allowed},
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "goobar", want: Denied},
		{principal: "bob", op: OpRead, rt: ResourceTopic, name: "fooa", want: Allowed},
		{principal: "alice", op: OpDescribe, rt: ResourceTopic, name: "fooa", want: Allowed},
		{principal: "alice", op: OpWrite, rt: ResourceTopic, name: "bar", want: Denied},
		{principal: "alice", op: OpRead, rt: ResourceTopic, name: "baz", want: Denied},
	})
}

// TestSnapshotSwap: a new snapshot takes effect at the next check, and the
// old one is unchanged by Apply.
func TestSnapshotSwap(t *testing.T) {
	a := newAuthorizer(Config{})
	bob := auth.User("bob")
	require.Equal(t, Denied, a.Authorize(bob, "10.0.0.1", OpRead, ResourceTopic, "t").Result)
	old := a.Snapshot()
	next := old.Apply(map[ID]Binding{{1}: acl(ResourceTopic, "t", PatternLiteral, "User:bob", "*", OpRead, Allow)}, nil)
	a.SetSnapshot(next)
	require.Equal(t, Allowed, a.Authorize(bob, "10.0.0.1", OpRead, ResourceTopic, "t").Result)
	require.Equal(t, 0, old.Len())
	a.SetSnapshot(next.Apply(nil, []ID{{1}}))
	require.Equal(t, Denied, a.Authorize(bob, "10.0.0.1", OpRead, ResourceTopic, "t").Result)
}

// The AuthorizeByResourceType tables are Kafka's BaseAuthorizerTest cases.
func TestAuthorizeByResourceType(t *testing.T) {
	const host1, host2 = "192.168.1.1", "192.168.1.2"
	u1, u2 := auth.User("user1"), auth.User("user2")
	type step struct {
		add  []Binding
		p    auth.Principal
		host string
		op   Operation
		rt   ResourceType
		want Result
	}
	ace := func(rt ResourceType, name string, pt PatternType, p string, host string, op Operation, perm Permission) Binding {
		return acl(rt, name, pt, p, host, op, perm)
	}
	tests := map[string][]step{
		"deny takes precedence": {
			{add: []Binding{ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpWrite, Allow)}, p: u1, host: host1, op: OpWrite, rt: ResourceTopic, want: Allowed},
			{add: []Binding{ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpWrite, Deny)}, p: u1, host: host1, op: OpWrite, rt: ResourceTopic, want: Denied},
		},
		"unrelated deny does not dominate allow": {
			{add: []Binding{
				ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpRead, Deny),
				ace(ResourceTopic, "sb1", PatternLiteral, "User:user2", host1, OpRead, Deny),
				ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host2, OpWrite, Deny),
				ace(ResourceTopic, "sb1", PatternLiteral, "User:user2", host2, OpRead, Deny),
				ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host2, OpRead, Allow),
				ace(ResourceTopic, "sb2", PatternLiteral, "User:user1", host2, OpRead, Deny),
				ace(ResourceGroup, "s", PatternPrefixed, "User:user1", host2, OpRead, Deny),
			}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{p: u1, host: host1, op: OpRead, rt: ResourceGroup, want: Denied},
			{p: u1, host: host1, op: OpRead, rt: ResourceTransactionalID, want: Denied},
			{p: u1, host: host1, op: OpRead, rt: ResourceCluster, want: Denied},
			{p: u1, host: host2, op: OpRead, rt: ResourceTopic, want: Allowed},
		},
		"prefixed deny dominates": {
			{add: []Binding{ace(ResourceGroup, "abcde", PatternPrefixed, "User:user1", host1, OpRead, Allow)}, p: u1, host: host1, op: OpRead, rt: ResourceGroup, want: Allowed},
			{add: []Binding{ace(ResourceGroup, "abcd", PatternPrefixed, "User:user1", host1, OpRead, Deny)}, p: u1, host: host1, op: OpRead, rt: ResourceGroup, want: Denied},
			{add: []Binding{ace(ResourceGroup, "abc", PatternPrefixed, "User:user1", host1, OpRead, Allow)}, p: u1, host: host1, op: OpRead, rt: ResourceGroup, want: Allowed},
			{add: []Binding{ace(ResourceGroup, "a", PatternPrefixed, "User:user1", host1, OpRead, Deny)}, p: u1, host: host1, op: OpRead, rt: ResourceGroup, want: Denied},
			{add: []Binding{ace(ResourceGroup, "ab", PatternPrefixed, "User:user1", host1, OpRead, Allow)}, p: u1, host: host1, op: OpRead, rt: ResourceGroup, want: Denied},
		},
		"wildcard deny dominates": {
			{add: []Binding{ace(ResourceGroup, "hello", PatternPrefixed, "User:user1", host1, OpWrite, Allow)}, p: u1, host: host1, op: OpWrite, rt: ResourceGroup, want: Allowed},
			{add: []Binding{ace(ResourceGroup, "*", PatternLiteral, "User:user1", host1, OpWrite, Deny)}, p: u1, host: host1, op: OpWrite, rt: ResourceGroup, want: Denied},
			{add: []Binding{ace(ResourceGroup, "*", PatternLiteral, "User:user1", host1, OpWrite, Allow)}, p: u1, host: host1, op: OpWrite, rt: ResourceGroup, want: Denied},
			{add: []Binding{ace(ResourceGroup, "aloha", PatternLiteral, "User:user1", host1, OpWrite, Allow)}, p: u1, host: host1, op: OpWrite, rt: ResourceGroup, want: Denied},
		},
		"ALL operation": {
			{p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{add: []Binding{
				ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpWrite, Deny),
				ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpAll, Allow),
			}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Allowed},
			{add: []Binding{ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpAll, Deny)}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
		},
		"all hosts": {
			{p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{add: []Binding{ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpRead, Allow)}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Allowed},
			{add: []Binding{ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", "*", OpRead, Deny)}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{add: []Binding{ace(ResourceTopic, "sb2", PatternLiteral, "User:user1", host1, OpRead, Deny)}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{p: u1, host: host2, op: OpRead, rt: ResourceTopic, want: Denied},
			{add: []Binding{ace(ResourceTopic, "sb2", PatternLiteral, "User:user1", "*", OpRead, Allow)}, p: u1, host: host2, op: OpRead, rt: ResourceTopic, want: Allowed},
			{add: []Binding{ace(ResourceTopic, "sb2", PatternLiteral, "User:user1", "*", OpRead, Deny)}, p: u1, host: host2, op: OpRead, rt: ResourceTopic, want: Denied},
		},
		"all principals": {
			{p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{add: []Binding{ace(ResourceTopic, "sb1", PatternLiteral, "User:user1", host1, OpRead, Allow)}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Allowed},
			{add: []Binding{ace(ResourceTopic, "sb1", PatternLiteral, "User:*", host1, OpRead, Deny)}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{add: []Binding{ace(ResourceTopic, "sb2", PatternLiteral, "User:user1", host1, OpRead, Deny)}, p: u1, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{p: u2, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
			{add: []Binding{ace(ResourceTopic, "sb2", PatternLiteral, "User:*", host1, OpRead, Allow)}, p: u2, host: host1, op: OpRead, rt: ResourceTopic, want: Allowed},
			{add: []Binding{ace(ResourceTopic, "sb2", PatternLiteral, "User:*", host1, OpRead, Deny)}, p: u2, host: host1, op: OpRead, rt: ResourceTopic, want: Denied},
		},
		"super user": {
			{add: []Binding{
				ace(ResourceTopic, "*", PatternLiteral, "User:*", "*", OpAll, Deny),
				ace(ResourceCluster, "*", PatternLiteral, "User:*", "*", OpAll, Deny),
				ace(ResourceGroup, "*", PatternLiteral, "User:*", "*", OpAll, Deny),
				ace(ResourceTransactionalID, "*", PatternLiteral, "User:*", "*", OpAll, Deny),
			}, p: auth.User("superuser1"), host: "192.0.4.4", op: OpRead, rt: ResourceTopic, want: Allowed},
			{p: auth.User("superuser1"), host: "192.0.4.4", op: OpRead, rt: ResourceGroup, want: Allowed},
			{p: auth.User("superuser1"), host: "192.0.4.4", op: OpWrite, rt: ResourceTransactionalID, want: Allowed},
			{p: auth.User("superuser1"), host: "192.0.4.4", op: OpAlter, rt: ResourceCluster, want: Allowed},
		},
	}
	for name, steps := range tests {
		t.Run(name, func(t *testing.T) {
			a := newAuthorizer(Config{SuperUsers: []auth.Principal{auth.User("superuser1"), auth.User("superuser2")}})
			var all []Binding
			for i, s := range steps {
				all = append(all, s.add...)
				a.SetSnapshot(snapshotOf(all...))
				require.Equal(t, s.want, a.AuthorizeByResourceType(s.p, s.host, s.op, s.rt), "step %d", i)
			}
		})
	}
}

func TestHostString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"10.1.2.3", "10.1.2.3"},
		{"::1", "0:0:0:0:0:0:0:1"},
		{"::ffff:10.1.2.3", "10.1.2.3"},
		{"fe80::1:abcd%eth0", "fe80:0:0:0:0:0:1:abcd%eth0"},
		{"2001:db8::ff00:42:8329", "2001:db8:0:0:0:ff00:42:8329"},
	} {
		require.Equal(t, tt.want, HostString(netip.MustParseAddr(tt.in)), tt.in)
	}
}

// TestWildcardAndNamesStartingWithStar pins a Kafka quirk that Spool keeps
// (TestAuthorizerAgainstKafka found it): the LITERAL "*" ACLs do not apply
// to a resource whose name starts with '*' other than "*" itself.
func TestWildcardAndNamesStartingWithStar(t *testing.T) {
	a := newAuthorizer(Config{AllowEveryoneIfNoACLFound: true},
		acl(ResourceGroup, "*", PatternLiteral, "User:*", "*", OpRead, Deny))
	bob := auth.User("bob")
	require.Equal(t, Denied, a.Authorize(bob, "10.0.0.1", OpRead, ResourceGroup, "g").Result)
	require.Equal(t, Denied, a.Authorize(bob, "10.0.0.1", OpRead, ResourceGroup, "*").Result)
	d := a.Authorize(bob, "10.0.0.1", OpRead, ResourceGroup, "*g")
	require.Equal(t, Decision{Result: Allowed, Rule: Rule{Kind: RuleDefault}}, d, "no ACL applies to *g, as in Kafka")
}

func TestValidateDeleteFilter(t *testing.T) {
	require.NoError(t, ValidateDeleteFilter(AnyFilter))
	f := AnyFilter
	f.Pattern.PatternType = PatternUnknown
	require.EqualError(t, ValidateDeleteFilter(f), "acl: Unknown patternFilter.")
	f = AnyFilter
	f.Pattern.Type = ResourceType(42)
	require.EqualError(t, ValidateDeleteFilter(f), "acl: Unknown patternFilter.")
	f = AnyFilter
	f.Entry.Permission = PermissionUnknown
	var e *Error
	require.ErrorAs(t, ValidateDeleteFilter(f), &e)
	require.Equal(t, "Unknown entryFilter.", e.Message)
	require.EqualValues(t, 42, e.Code, "INVALID_REQUEST")
}
