package acl

import (
	"errors"
	"strings"

	"github.com/spool-broker/spool/protocol/errcode"
)

// ErrInvalid marks a binding or filter Kafka refuses with INVALID_REQUEST.
var ErrInvalid = errors.New("acl: invalid request")

// Error is a refused binding or filter: the Kafka code and message the
// CreateAcls/DeleteAcls result carries.
type Error struct {
	Code    int16
	Message string
}

func (e *Error) Error() string { return "acl: " + e.Message }
func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(msg string) *Error { return &Error{Code: errcode.InvalidRequest, Message: msg} }

// ValidateCreate checks one CreateAcls binding as Kafka does, in Kafka's
// order: the broker's AclApis (the CLUSTER resource's name, an empty name),
// then the controller's AclControlManager.validateNewAcl (resource type,
// pattern type, operation, permission, empty name, a principal with a
// colon). Request-level checks come before, in the handler: CreateAcls v0
// accepts only LITERAL, and a raw UNKNOWN (code 0) enum makes Kafka refuse
// the whole request.
func ValidateCreate(b Binding) error {
	p, e := b.Pattern, b.Entry
	if p.Type == ResourceCluster && p.Name != ClusterName {
		return invalid("The only valid name for the CLUSTER resource is " + ClusterName)
	}
	if p.Name == "" {
		return invalid("Invalid empty resource name")
	}
	switch p.Type {
	case ResourceUnknown, ResourceAny:
		return invalid("Invalid resourceType " + p.Type.String())
	}
	if _, known := resourceTypeNames[p.Type]; !known {
		return invalid("Invalid resourceType UNKNOWN")
	}
	switch p.PatternType {
	case PatternLiteral, PatternPrefixed:
	default:
		return invalid("Invalid patternType " + PatternTypeFromCode(int8(p.PatternType)).String())
	}
	switch OperationFromCode(int8(e.Operation)) {
	case OpUnknown, OpAny:
		return invalid("Invalid operation " + OperationFromCode(int8(e.Operation)).String())
	}
	switch e.Permission {
	case Allow, Deny:
	default:
		return invalid("Invalid permissionType " + PermissionFromCode(int8(e.Permission)).String())
	}
	if !strings.Contains(e.Principal, ":") {
		return invalid("Could not parse principal from `" + e.Principal + "` (no colon is present separating the principal type from the principal name)")
	}
	return nil
}

// ValidateDeleteFilter checks one DeleteAcls filter as the controller
// does (AclControlManager.validateFilter).
func ValidateDeleteFilter(f BindingFilter) error {
	if f.Pattern.Type == ResourceUnknown || PatternTypeFromCode(int8(f.Pattern.PatternType)) == PatternUnknown ||
		ResourceTypeFromCode(int8(f.Pattern.Type)) == ResourceUnknown {
		return invalid("Unknown patternFilter.")
	}
	if OperationFromCode(int8(f.Entry.Operation)) == OpUnknown || PermissionFromCode(int8(f.Entry.Permission)) == PermissionUnknown {
		return invalid("Unknown entryFilter.")
	}
	return nil
}

// MaxDeletedPerRequest is Kafka's bound on the ACLs one DeleteAcls may
// remove (AclControlManager: "Cannot remove more than 10000 acls in a
// single delete operation.").
const MaxDeletedPerRequest = 10000
