package acl

import (
	"testing"

	"github.com/spool-broker/spool/auth"
)

// FuzzAuthorize checks invariants on arbitrary single-ACL sets: a DENY
// never allows, a super user is always allowed, an ACL that applies to the
// resource never leaves it to the default.
func FuzzAuthorize(f *testing.F) {
	f.Add(int8(2), "foo", int8(4), "User:bob", "*", int8(3), int8(3), "bob", "10.0.0.1", int8(8), int8(2), "foobar")
	f.Fuzz(func(t *testing.T, rt int8, name string, pt int8, principal, host string, op, perm int8,
		user, qhost string, qop, qrt int8, qname string) {
		b := acl(ResourceTypeFromCode(rt), name, PatternTypeFromCode(pt), principal, host, OperationFromCode(op), PermissionFromCode(perm))
		a := newAuthorizer(Config{SuperUsers: superman, AllowEveryoneIfNoACLFound: true}, b)
		p := auth.User(user)
		d := a.Authorize(p, qhost, OperationFromCode(qop), ResourceTypeFromCode(qrt), qname)
		if d.Result == Allowed && d.Rule.Kind == RuleACL && d.Rule.ACL.Entry.Permission == Deny {
			t.Fatalf("a DENY allowed: %+v", d)
		}
		if a.Authorize(auth.User("superman"), qhost, OperationFromCode(qop), ResourceTypeFromCode(qrt), qname).Result != Allowed {
			t.Fatal("super user denied")
		}
		_ = a.AuthorizeByResourceType(p, qhost, OperationFromCode(qop), ResourceTypeFromCode(qrt))
	})
}
