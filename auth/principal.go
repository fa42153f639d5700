package auth

import (
	"fmt"
	"strings"
)

// UserType is the principal type of every principal Kafka's default
// principal builder makes.
const UserType = "User"

// Principal is Kafka's KafkaPrincipal: a type and a name, written
// "Type:Name" ("User:alice"). It is a comparable value; two principals are
// equal when type and name are (Kafka's equals ignores the
// token-authenticated flag, which lives on the Session instead).
type Principal struct {
	Type string
	Name string
}

// Anonymous is the principal of an unauthenticated connection: a PLAINTEXT
// listener, or an SSL listener whose client sent no certificate.
var Anonymous = Principal{Type: UserType, Name: "ANONYMOUS"}

// User is the principal User:<name>.
func User(name string) Principal { return Principal{Type: UserType, Name: name} }

// String is "Type:Name", the form ACLs and super.users use.
func (p Principal) String() string { return p.Type + ":" + p.Name }

// ParsePrincipal parses "Type:Name" as Kafka's
// SecurityUtils.parseKafkaPrincipal: split at the first ':'; the name may
// contain more colons and may be empty, the type may not be missing.
func ParsePrincipal(s string) (Principal, error) {
	typ, name, ok := strings.Cut(s, ":")
	if s == "" || !ok {
		return Principal{}, fmt.Errorf("expected a string in format principalType:principalName but got %s", s)
	}
	return Principal{Type: typ, Name: name}, nil
}

// ParseSuperUsers parses super.users as Kafka's StandardAuthorizer:
// ';'-separated principals, each trimmed, empty entries skipped, every
// entry a valid "Type:Name".
func ParseSuperUsers(v string) ([]Principal, error) {
	var out []Principal
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := ParsePrincipal(part)
		if err != nil {
			return nil, fmt.Errorf("super.users: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
