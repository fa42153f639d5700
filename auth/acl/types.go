package acl

import (
	"fmt"
	"strconv"
	"strings"
)

// ResourceType is Kafka's ResourceType, with its wire codes.
type ResourceType int8

const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1 // filters only
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

var resourceTypeNames = map[ResourceType]string{
	ResourceUnknown:         "UNKNOWN",
	ResourceAny:             "ANY",
	ResourceTopic:           "TOPIC",
	ResourceGroup:           "GROUP",
	ResourceCluster:         "CLUSTER",
	ResourceTransactionalID: "TRANSACTIONAL_ID",
	ResourceDelegationToken: "DELEGATION_TOKEN",
	ResourceUser:            "USER",
}

// String is Kafka's enum name ("TOPIC").
func (r ResourceType) String() string { return enumName(resourceTypeNames, r) }

// ResourceTypeFromCode is Kafka's fromCode: an unknown code is
// ResourceUnknown.
func ResourceTypeFromCode(c int8) ResourceType {
	if _, ok := resourceTypeNames[ResourceType(c)]; ok {
		return ResourceType(c)
	}
	return ResourceUnknown
}

// ParseResourceType is Kafka's fromString (case-insensitive); an unknown
// name is ResourceUnknown.
func ParseResourceType(s string) ResourceType {
	return parseEnum(resourceTypeNames, s, ResourceUnknown)
}

// PatternType is Kafka's PatternType.
type PatternType int8

const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1 // filters only: any pattern type, exact name
	PatternMatch    PatternType = 2 // filters only: every pattern that matches the name
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

var patternTypeNames = map[PatternType]string{
	PatternUnknown: "UNKNOWN", PatternAny: "ANY", PatternMatch: "MATCH", PatternLiteral: "LITERAL", PatternPrefixed: "PREFIXED",
}

func (p PatternType) String() string { return enumName(patternTypeNames, p) }

// PatternTypeFromCode maps a wire code; unknown codes are PatternUnknown.
func PatternTypeFromCode(c int8) PatternType {
	if _, ok := patternTypeNames[PatternType(c)]; ok {
		return PatternType(c)
	}
	return PatternUnknown
}

// ParsePatternType is Kafka's fromString.
func ParsePatternType(s string) PatternType { return parseEnum(patternTypeNames, s, PatternUnknown) }

// Operation is Kafka's AclOperation.
type Operation int8

const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1 // filters only
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
	OpTwoPhaseCommit  Operation = 15
)

var operationNames = map[Operation]string{
	OpUnknown: "UNKNOWN", OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE", OpCreate: "CREATE",
	OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE", OpClusterAction: "CLUSTER_ACTION",
	OpDescribeConfigs: "DESCRIBE_CONFIGS", OpAlterConfigs: "ALTER_CONFIGS", OpIdempotentWrite: "IDEMPOTENT_WRITE",
	OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS", OpTwoPhaseCommit: "TWO_PHASE_COMMIT",
}

func (o Operation) String() string { return enumName(operationNames, o) }

// OperationFromCode maps a wire code; unknown codes are OpUnknown.
func OperationFromCode(c int8) Operation {
	if _, ok := operationNames[Operation(c)]; ok {
		return Operation(c)
	}
	return OpUnknown
}

// ParseOperation is Kafka's fromString.
func ParseOperation(s string) Operation { return parseEnum(operationNames, s, OpUnknown) }

// Permission is Kafka's AclPermissionType.
type Permission int8

const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1 // filters only
	Deny              Permission = 2
	Allow             Permission = 3
)

var permissionNames = map[Permission]string{PermissionUnknown: "UNKNOWN", PermissionAny: "ANY", Deny: "DENY", Allow: "ALLOW"}

func (p Permission) String() string { return enumName(permissionNames, p) }

// PermissionFromCode maps a wire code; unknown codes are PermissionUnknown.
func PermissionFromCode(c int8) Permission {
	if _, ok := permissionNames[Permission(c)]; ok {
		return Permission(c)
	}
	return PermissionUnknown
}

// ParsePermission is Kafka's fromString.
func ParsePermission(s string) Permission { return parseEnum(permissionNames, s, PermissionUnknown) }

func enumName[T ~int8](names map[T]string, v T) string {
	if n, ok := names[v]; ok {
		return n
	}
	return "UNKNOWN(" + strconv.Itoa(int(v)) + ")"
}

func parseEnum[T ~int8](names map[T]string, s string, unknown T) T {
	for v, n := range names {
		if strings.EqualFold(n, s) {
			return v
		}
	}
	return unknown
}

// Names Kafka gives special meaning.
const (
	// Wildcard as a LITERAL resource name matches every resource of the
	// type; as an ACL host it matches every host.
	Wildcard = "*"
	// WildcardPrincipal matches every principal.
	WildcardPrincipal = "User:*"
	// ClusterName is the only name of the CLUSTER resource.
	ClusterName = "kafka-cluster"
)

// ResourcePattern is Kafka's ResourcePattern: what an ACL applies to.
type ResourcePattern struct {
	Type        ResourceType
	Name        string
	PatternType PatternType
}

func (p ResourcePattern) String() string {
	return fmt.Sprintf("ResourcePattern(resourceType=%s, name=%s, patternType=%s)", p.Type, p.Name, p.PatternType)
}

// Entry is Kafka's AccessControlEntry: who may or may not do what, from
// where.
type Entry struct {
	Principal  string // "User:alice", or WildcardPrincipal
	Host       string // an IP address as Java prints it, or Wildcard
	Operation  Operation
	Permission Permission
}

func (e Entry) String() string {
	return fmt.Sprintf("(principal=%s, host=%s, operation=%s, permissionType=%s)", e.Principal, e.Host, e.Operation, e.Permission)
}

// Binding is Kafka's AclBinding: one ACL.
type Binding struct {
	Pattern ResourcePattern
	Entry   Entry
}

func (b Binding) String() string {
	return "(pattern=" + b.Pattern.String() + ", entry=" + b.Entry.String() + ")"
}

// PatternFilter is Kafka's ResourcePatternFilter. A nil Name matches any
// name.
type PatternFilter struct {
	Type        ResourceType
	Name        *string
	PatternType PatternType
}

// Matches is Kafka's ResourcePatternFilter.matches: type ANY matches every
// type; pattern type ANY matches every pattern type with the exact name;
// MATCH matches every pattern that would apply to a resource with the
// name: the literal name, the literal wildcard, and prefixes of the name.
func (f PatternFilter) Matches(p ResourcePattern) bool {
	if f.Type != ResourceAny && f.Type != p.Type {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != p.PatternType {
		return false
	}
	if f.Name == nil {
		return true
	}
	name := *f.Name
	if f.PatternType == PatternAny || f.PatternType == p.PatternType {
		return name == p.Name
	}
	switch p.PatternType {
	case PatternLiteral:
		return name == p.Name || p.Name == Wildcard
	case PatternPrefixed:
		return strings.HasPrefix(name, p.Name)
	}
	return false
}

// IsUnknown reports an UNKNOWN resource type or pattern type.
func (f PatternFilter) IsUnknown() bool {
	return f.Type == ResourceUnknown || f.PatternType == PatternUnknown
}

// EntryFilter is Kafka's AccessControlEntryFilter. A nil Principal or Host
// matches any.
type EntryFilter struct {
	Principal  *string
	Host       *string
	Operation  Operation
	Permission Permission
}

// Matches is Kafka's AccessControlEntryFilter.matches (exact comparisons;
// ANY operation and permission match everything).
func (f EntryFilter) Matches(e Entry) bool {
	if f.Principal != nil && *f.Principal != e.Principal {
		return false
	}
	if f.Host != nil && *f.Host != e.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != e.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == e.Permission
}

// IsUnknown reports an UNKNOWN operation or permission.
func (f EntryFilter) IsUnknown() bool {
	return f.Operation == OpUnknown || f.Permission == PermissionUnknown
}

// BindingFilter is Kafka's AclBindingFilter, as DescribeAcls and
// DeleteAcls carry it.
type BindingFilter struct {
	Pattern PatternFilter
	Entry   EntryFilter
}

// AnyFilter matches every binding.
var AnyFilter = BindingFilter{
	Pattern: PatternFilter{Type: ResourceAny, PatternType: PatternAny},
	Entry:   EntryFilter{Operation: OpAny, Permission: PermissionAny},
}

// Matches reports whether the filter selects b.
func (f BindingFilter) Matches(b Binding) bool {
	return f.Pattern.Matches(b.Pattern) && f.Entry.Matches(b.Entry)
}

// IsUnknown reports a filter with an UNKNOWN element.
func (f BindingFilter) IsUnknown() bool { return f.Pattern.IsUnknown() || f.Entry.IsUnknown() }
