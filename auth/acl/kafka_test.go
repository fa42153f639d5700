package acl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/internal/kafkaoracle"
)

func bindingArgs(b Binding) []string {
	return []string{b.Pattern.Type.String(), b.Pattern.Name, b.Pattern.PatternType.String(),
		b.Entry.Principal, b.Entry.Host, b.Entry.Operation.String(), b.Entry.Permission.String()}
}

func strp(s string) *string { return &s }

func orNull(s *string) string {
	if s == nil {
		return kafkaoracle.Null
	}
	return *s
}

// TestFilterMatchesKafka: Kafka's ResourcePatternFilterTest cases, then
// random filters and bindings, each answered by Kafka's AclBindingFilter.
func TestFilterMatchesKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	pf := func(rt ResourceType, name *string, pt PatternType) BindingFilter {
		return BindingFilter{Pattern: PatternFilter{Type: rt, Name: name, PatternType: pt}, Entry: AnyFilter.Entry}
	}
	pb := func(rt ResourceType, name string, pt PatternType) Binding {
		return acl(rt, name, pt, "User:a", "*", OpRead, Allow)
	}
	fixed := []struct {
		f    BindingFilter
		b    Binding
		want bool
	}{
		{pf(ResourceTopic, strp("Name"), PatternLiteral), pb(ResourceGroup, "Name", PatternLiteral), false},
		{pf(ResourceTopic, strp("Different"), PatternPrefixed), pb(ResourceTopic, "Name", PatternPrefixed), false},
		{pf(ResourceTopic, strp("NAME"), PatternLiteral), pb(ResourceTopic, "Name", PatternLiteral), false},
		{pf(ResourceTopic, strp("Name"), PatternLiteral), pb(ResourceTopic, "Name", PatternPrefixed), false},
		{pf(ResourceAny, strp("Name"), PatternPrefixed), pb(ResourceTopic, "Name", PatternPrefixed), true},
		{pf(ResourceTopic, nil, PatternPrefixed), pb(ResourceTopic, "Name", PatternPrefixed), true},
		{pf(ResourceTopic, nil, PatternAny), pb(ResourceTopic, "Name", PatternPrefixed), true},
		{pf(ResourceTopic, nil, PatternMatch), pb(ResourceTopic, "Name", PatternPrefixed), true},
		{pf(ResourceTopic, strp("Name"), PatternLiteral), pb(ResourceTopic, "Name", PatternLiteral), true},
		{pf(ResourceTopic, strp("Name"), PatternAny), pb(ResourceTopic, "Name", PatternLiteral), true},
		{pf(ResourceTopic, strp("Name"), PatternMatch), pb(ResourceTopic, "Name", PatternLiteral), true},
		{pf(ResourceTopic, strp("Name-something"), PatternMatch), pb(ResourceTopic, "Name", PatternLiteral), false},
		{pf(ResourceTopic, strp("*"), PatternLiteral), pb(ResourceTopic, "*", PatternLiteral), true},
		{pf(ResourceTopic, strp("Name"), PatternLiteral), pb(ResourceTopic, "*", PatternLiteral), false},
		{pf(ResourceTopic, strp("*"), PatternLiteral), pb(ResourceTopic, "Name", PatternLiteral), false},
		{pf(ResourceTopic, strp("Name"), PatternAny), pb(ResourceTopic, "*", PatternLiteral), false},
		{pf(ResourceTopic, strp("Name"), PatternMatch), pb(ResourceTopic, "*", PatternLiteral), true},
		{pf(ResourceTopic, strp("Name"), PatternPrefixed), pb(ResourceTopic, "Name", PatternPrefixed), true},
		{pf(ResourceTopic, strp("Name"), PatternPrefixed), pb(ResourceTopic, "Name-something", PatternPrefixed), false},
		{pf(ResourceTopic, strp("Name-something"), PatternPrefixed), pb(ResourceTopic, "Name", PatternPrefixed), false},
		{pf(ResourceTopic, strp("Name-something"), PatternAny), pb(ResourceTopic, "Name", PatternPrefixed), false},
		{pf(ResourceTopic, strp("Name-something"), PatternMatch), pb(ResourceTopic, "Name", PatternPrefixed), true},
	}
	ask := func(f BindingFilter, b Binding) bool {
		args := []string{f.Pattern.Type.String(), orNull(f.Pattern.Name), f.Pattern.PatternType.String(),
			orNull(f.Entry.Principal), orNull(f.Entry.Host), f.Entry.Operation.String(), f.Entry.Permission.String()}
		out, kerr := o.MustCall(t, "acl-filter", append(args, bindingArgs(b)...)...)
		require.Nil(t, kerr)
		return out == "true"
	}
	for _, c := range fixed {
		require.Equal(t, c.want, ask(c.f, c.b), "Kafka: %v on %v", c.f, c.b)
		require.Equal(t, c.want, c.f.Matches(c.b), "Spool: %v on %v", c.f, c.b)
	}

	r := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	names := []string{"a", "ab", "abc", "b", "*"}
	for i := 0; i < 300; i++ {
		f := BindingFilter{
			Pattern: PatternFilter{
				Type:        []ResourceType{ResourceAny, ResourceTopic, ResourceGroup}[r.IntN(3)],
				PatternType: []PatternType{PatternAny, PatternMatch, PatternLiteral, PatternPrefixed}[r.IntN(4)],
			},
			Entry: EntryFilter{
				Operation:  []Operation{OpAny, OpRead, OpWrite, OpAll}[r.IntN(4)],
				Permission: []Permission{PermissionAny, Allow, Deny}[r.IntN(3)],
			},
		}
		if r.IntN(4) > 0 {
			f.Pattern.Name = strp(pick(names...))
		}
		if r.IntN(2) > 0 {
			f.Entry.Principal = strp(pick("User:alice", "User:*"))
		}
		if r.IntN(2) > 0 {
			f.Entry.Host = strp(pick("*", "10.0.0.1"))
		}
		b := acl([]ResourceType{ResourceTopic, ResourceGroup}[r.IntN(2)], pick(names...), []PatternType{PatternLiteral, PatternPrefixed}[r.IntN(2)],
			pick("User:alice", "User:*"), pick("*", "10.0.0.1"), []Operation{OpRead, OpWrite, OpAll}[r.IntN(3)], []Permission{Allow, Deny}[r.IntN(2)])
		require.Equal(t, ask(f, b), f.Matches(b), "filter %+v (name %v) on %v", f, orNull(f.Pattern.Name), b)
	}
}

// TestValidateCreateAgainstKafka compares ValidateCreate with Kafka's
// AclApis checks and AclControlManager.validateNewAcl.
func TestValidateCreateAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	ok := acl(ResourceTopic, "t", PatternLiteral, "User:alice", "*", OpRead, Allow)
	with := func(f func(b *Binding)) Binding {
		b := ok
		f(&b)
		return b
	}
	cases := []Binding{
		ok,
		with(func(b *Binding) { b.Pattern.Type = ResourceCluster }),
		with(func(b *Binding) { b.Pattern.Type, b.Pattern.Name = ResourceCluster, ClusterName }),
		with(func(b *Binding) { b.Pattern.Type, b.Pattern.Name = ResourceCluster, "" }),
		with(func(b *Binding) { b.Pattern.Name = "" }),
		with(func(b *Binding) { b.Pattern.Type = ResourceUnknown }),
		with(func(b *Binding) { b.Pattern.PatternType = PatternUnknown }),
		with(func(b *Binding) { b.Entry.Operation = OpUnknown }),
		with(func(b *Binding) { b.Entry.Permission = PermissionUnknown }),
		with(func(b *Binding) { b.Entry.Principal = "alice" }),
		with(func(b *Binding) { b.Entry.Principal = "User:" }),
		with(func(b *Binding) { b.Entry.Principal = ":x" }),
		with(func(b *Binding) { b.Entry.Host = "not-an-ip" }),
		with(func(b *Binding) { b.Pattern.Type, b.Pattern.PatternType = ResourceDelegationToken, PatternPrefixed }),
		with(func(b *Binding) { b.Pattern.Type, b.Entry.Operation = ResourceUser, OpCreateTokens }),
		with(func(b *Binding) { b.Entry.Operation = OpTwoPhaseCommit }),
	}
	for _, b := range cases {
		want, kerr := o.MustCall(t, "acl-validate", bindingArgs(b)...)
		require.Nil(t, kerr, "%v", b)
		err := ValidateCreate(b)
		if want == "" {
			require.NoError(t, err, "%v", b)
			continue
		}
		var ae *Error
		require.ErrorAs(t, err, &ae, "Kafka refuses %v: %s", b, want)
		require.Equal(t, want, ae.Message, "%v", b)
	}
	// ANY and MATCH cannot even be built into a Kafka AclBinding; Spool
	// refuses them too.
	for _, b := range []Binding{
		with(func(b *Binding) { b.Pattern.Type = ResourceAny }),
		with(func(b *Binding) { b.Pattern.PatternType = PatternMatch }),
		with(func(b *Binding) { b.Pattern.PatternType = PatternAny }),
		with(func(b *Binding) { b.Entry.Operation = OpAny }),
		with(func(b *Binding) { b.Entry.Permission = PermissionAny }),
	} {
		_, kerr := o.MustCall(t, "acl-validate", bindingArgs(b)...)
		require.NotNil(t, kerr, "%v", b)
		require.ErrorIs(t, ValidateCreate(b), ErrInvalid, "%v", b)
	}
}

// TestAuthorizerAgainstKafka builds random ACL sets, loads them into Spool's
// Authorizer and Kafka's StandardAuthorizer, and asks both the same
// questions: Authorize (per resource) and AuthorizeByResourceType.
func TestAuthorizerAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	r := rand.New(rand.NewPCG(7, 11))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	types := []ResourceType{ResourceTopic, ResourceGroup, ResourceTransactionalID}
	ops := []Operation{OpAll, OpRead, OpWrite, OpCreate, OpDelete, OpAlter, OpDescribe, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite}
	names := []string{"a", "ab", "abc", "abd", "b", "ba", "*", "*a", "é", "éa"}
	principals := []string{"User:alice", "User:bob", "User:*", "Group:ops", "User:superman"}
	hosts := []string{"*", "10.0.0.1", "10.0.0.2", "0:0:0:0:0:0:0:1"}
	queryHosts := []string{"10.0.0.1", "10.0.0.2", "::1"}

	scenarios, queries := 40, 60
	for s := 0; s < scenarios; s++ {
		allowEveryone := r.IntN(3) == 0
		_, kerr := o.MustCall(t, "acl-reset", "User:superman", fmt.Sprint(allowEveryone))
		require.Nil(t, kerr)
		var bs []Binding
		for i, n := 0, r.IntN(14); i < n; i++ {
			b := acl(types[r.IntN(len(types))], pick(names...), []PatternType{PatternLiteral, PatternPrefixed}[r.IntN(2)],
				pick(principals...), pick(hosts...), ops[r.IntN(len(ops))], []Permission{Allow, Deny}[r.IntN(2)])
			bs = append(bs, b)
			_, kerr := o.MustCall(t, "acl-add", bindingArgs(b)...)
			require.Nil(t, kerr)
		}
		a := newAuthorizer(Config{SuperUsers: superman, AllowEveryoneIfNoACLFound: allowEveryone}, bs...)
		describe := func() string {
			var sb strings.Builder
			fmt.Fprintf(&sb, "allow.everyone.if.no.acl.found=%v\n", allowEveryone)
			for _, b := range bs {
				sb.WriteString("  " + b.String() + "\n")
			}
			return sb.String()
		}
		for q := 0; q < queries; q++ {
			p, err := auth.ParsePrincipal(pick("User:alice", "User:bob", "Group:ops", "User:superman", "User:carol"))
			require.NoError(t, err)
			host := pick(queryHosts...)
			op := ops[1+r.IntN(len(ops)-1)] // a request never asks for ALL
			rt := types[r.IntN(len(types))]
			hostArg := HostString(netip.MustParseAddr(host))
			if r.IntN(4) == 0 {
				want, kerr := o.MustCall(t, "acl-by-type", p.Type, p.Name, host, op.String(), rt.String())
				require.Nil(t, kerr)
				got := a.AuthorizeByResourceType(p, hostArg, op, rt)
				require.Equal(t, want, got.String(), "AuthorizeByResourceType(%s, %s, %s, %s) with\n%s", p, host, op, rt, describe())
				continue
			}
			name := pick(names...) + pick("", "", "x", "bc")
			want, kerr := o.MustCall(t, "acl-authorize", p.Type, p.Name, host, op.String(), rt.String(), name)
			require.Nil(t, kerr)
			got := a.Authorize(p, hostArg, op, rt, name)
			require.Equal(t, want, got.Result.String(), "Authorize(%s, %s, %s, %s:%s) = %s by %s with\n%s", p, host, op, rt, name, got.Result, got.Rule, describe())
		}
	}
}

func TestHostStringAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	for _, ip := range []string{"10.1.2.3", "::1", "::ffff:10.1.2.3", "2001:db8::ff00:42:8329", "fe80::1", "::", "1:2:3:4:5:6:7:8", "ABCD::EF"} {
		want, kerr := o.MustCall(t, "hostaddr", ip)
		require.Nil(t, kerr)
		require.Equal(t, want, HostString(netip.MustParseAddr(ip)), ip)
	}
}
