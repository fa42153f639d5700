package quota

import (
	"fmt"
	"net/url"
	"strings"
)

// Entity types of client quotas, as Kafka's ClientQuotaEntity names them.
const (
	EntityUser     = "user"
	EntityClientID = "client-id"
	EntityIP       = "ip"
)

// Quota keys (Kafka's QuotaConfig).
const (
	ProducerByteRate       = "producer_byte_rate"       // bytes/s of Produce requests
	ConsumerByteRate       = "consumer_byte_rate"       // bytes/s of Fetch responses
	RequestPercentage      = "request_percentage"       // percent of one request handler's time
	ControllerMutationRate = "controller_mutation_rate" // partitions created or deleted per second
	ConnectionCreationRate = "connection_creation_rate" // connections per second from one IP
)

// KeyType is the type Kafka's ConfigDef gives a quota key; it decides which
// values AlterClientQuotas accepts.
type KeyType int8

const (
	KeyUnknown KeyType = iota
	KeyLong
	KeyInt
	KeyDouble
)

// KeyTypeOf returns the type of key for an entity that is (ip) or is not
// an IP entity, or KeyUnknown when the key does not apply to it. User and
// client-id entities take the four client quota keys; IP entities only
// connection_creation_rate.
func KeyTypeOf(ip bool, key string) KeyType {
	if ip {
		if key == ConnectionCreationRate {
			return KeyInt
		}
		return KeyUnknown
	}
	switch key {
	case ProducerByteRate, ConsumerByteRate:
		return KeyLong
	case RequestPercentage, ControllerMutationRate:
		return KeyDouble
	}
	return KeyUnknown
}

// NameKind says what one component of an entity is.
type NameKind uint8

const (
	Absent  NameKind = iota // the entity has no component of this type
	Default                 // the default entity of this type (<default>, a null name)
	Named                   // a named user, client-id or IP
)

// EntityName is one component of an entity. It is a comparable value.
type EntityName struct {
	Kind NameKind
	Name string // when Kind is Named
}

// Name is the named component n.
func Name(n string) EntityName { return EntityName{Kind: Named, Name: n} }

// DefaultName is the default component (<default>).
var DefaultName = EntityName{Kind: Default}

// Ptr is the component as Kafka's protocol carries it: nil for the
// default, the name otherwise. Absent components have no wire form.
func (n EntityName) Ptr() *string {
	if n.Kind != Named {
		return nil
	}
	s := n.Name
	return &s
}

// Entity is what a client quota applies to (Kafka's ClientQuotaEntity): a
// user, a client-id, both, or an IP. It is a comparable value, usable as a
// map key.
type Entity struct {
	User     EntityName
	ClientID EntityName
	IP       EntityName
}

// Component is one (type, name) pair of an entity; Name nil is the default.
type Component struct {
	Type string
	Name *string
}

// Components lists the entity's components in the order Kafka's
// HashMap-backed ClientQuotaEntity iterates them (client-id, user, ip), the
// order Kafka's responses carry them in.
func (e Entity) Components() []Component {
	var out []Component
	if e.ClientID.Kind != Absent {
		out = append(out, Component{EntityClientID, e.ClientID.Ptr()})
	}
	if e.User.Kind != Absent {
		out = append(out, Component{EntityUser, e.User.Ptr()})
	}
	if e.IP.Kind != Absent {
		out = append(out, Component{EntityIP, e.IP.Ptr()})
	}
	return out
}

// Part returns the component of entity type typ.
func (e Entity) Part(typ string) (EntityName, bool) {
	switch typ {
	case EntityUser:
		return e.User, true
	case EntityClientID:
		return e.ClientID, true
	case EntityIP:
		return e.IP, true
	}
	return EntityName{}, false
}

// String is the entity as Kafka's ClientQuotaEntity.toString prints it,
// e.g. ClientQuotaEntity(entries={client-id=app, user=null}); Kafka puts it
// in some error messages.
func (e Entity) String() string {
	var sb strings.Builder
	sb.WriteString("ClientQuotaEntity(entries={")
	for i, c := range e.Components() {
		if i > 0 {
			sb.WriteString(", ")
		}
		name := "null"
		if c.Name != nil {
			name = *c.Name
		}
		fmt.Fprintf(&sb, "%s=%s", c.Type, name)
	}
	sb.WriteString("})")
	return sb.String()
}

// IsIP reports whether the entity names an IP (and nothing else may then be
// set).
func (e Entity) IsIP() bool { return e.IP.Kind != Absent }

// sanitize is Kafka's Sanitizer.sanitize, Java's URLEncoder with spaces as
// %20 and '*' as %2A: the user name in metric tags.
func sanitize(s string) string {
	out := url.QueryEscape(s) // differs from URLEncoder only in '~'
	out = strings.ReplaceAll(out, "+", "%20")
	out = strings.ReplaceAll(out, "~", "%7E")
	return strings.ReplaceAll(out, "*", "%2A")
}
