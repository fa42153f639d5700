package controller

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
)

// Security metadata: SCRAM credentials and ACLs live in the metadata log as
// Kafka keeps them, with Kafka's record types and fields:
//
//	UserScramCredentialRecord (11)        Name, Mechanism, Salt, StoredKey, ServerKey, Iterations
//	RemoveUserScramCredentialRecord (22)  Name, Mechanism
//	AccessControlEntryRecord (18)         Id, ResourceType, ResourceName, PatternType,
//	                                      Principal, Host, Operation, PermissionType
//	RemoveAccessControlEntryRecord (19)   Id
//
// Only salted, derived keys are stored, never a password. The image exposes
// the credentials as a sasl.CredentialStore and the ACLs as an acl.Snapshot;
// both are immutable per image, so connections authenticate and handlers
// authorize without locks, and a change takes effect at the next image.

const (
	UserScramCredentialRecordType       RecordType = 11
	AccessControlEntryRecordType        RecordType = 18
	RemoveAccessControlEntryRecordType  RecordType = 19
	RemoveUserScramCredentialRecordType RecordType = 22
)

// UserScramCredentialRecord sets a user's credential for one mechanism.
type UserScramCredentialRecord struct {
	Name       string
	Mechanism  int8 // sasl.ScramMechanism
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// RemoveUserScramCredentialRecord deletes a user's credential for one
// mechanism.
type RemoveUserScramCredentialRecord struct {
	Name      string
	Mechanism int8
}

// AccessControlEntryRecord adds an ACL.
type AccessControlEntryRecord struct {
	ID             [16]byte
	ResourceType   int8
	ResourceName   string
	PatternType    int8
	Principal      string
	Host           string
	Operation      int8
	PermissionType int8
}

// RemoveAccessControlEntryRecord removes the ACL with the ID.
type RemoveAccessControlEntryRecord struct {
	ID [16]byte
}

func (*UserScramCredentialRecord) Type() RecordType       { return UserScramCredentialRecordType }
func (*RemoveUserScramCredentialRecord) Type() RecordType { return RemoveUserScramCredentialRecordType }
func (*AccessControlEntryRecord) Type() RecordType        { return AccessControlEntryRecordType }
func (*RemoveAccessControlEntryRecord) Type() RecordType  { return RemoveAccessControlEntryRecordType }

func (*UserScramCredentialRecord) version() uint8       { return 0 }
func (*RemoveUserScramCredentialRecord) version() uint8 { return 0 }
func (*AccessControlEntryRecord) version() uint8        { return 0 }
func (*RemoveAccessControlEntryRecord) version() uint8  { return 0 }

// String hides the keys.
func (r *UserScramCredentialRecord) String() string {
	return fmt.Sprintf("UserScramCredentialRecord(name=%s, mechanism=%d, salt=[hidden], storedKey=[hidden], serverKey=[hidden], iterations=%d)",
		r.Name, r.Mechanism, r.Iterations)
}

func (r *UserScramCredentialRecord) appendBody(dst []byte) []byte {
	dst = appendString(dst, r.Name)
	dst = appendVarint(dst, int64(r.Mechanism))
	dst = appendBytes(dst, r.Salt)
	dst = appendBytes(dst, r.StoredKey)
	dst = appendBytes(dst, r.ServerKey)
	return appendVarint(dst, int64(r.Iterations))
}

func (r *UserScramCredentialRecord) decodeBody(d *reader, _ uint8) {
	r.Name = d.string()
	r.Mechanism = d.int8()
	r.Salt = d.bytes()
	r.StoredKey = d.bytes()
	r.ServerKey = d.bytes()
	r.Iterations = d.int32()
}

func (r *RemoveUserScramCredentialRecord) appendBody(dst []byte) []byte {
	dst = appendString(dst, r.Name)
	return appendVarint(dst, int64(r.Mechanism))
}

func (r *RemoveUserScramCredentialRecord) decodeBody(d *reader, _ uint8) {
	r.Name = d.string()
	r.Mechanism = d.int8()
}

func (r *AccessControlEntryRecord) appendBody(dst []byte) []byte {
	dst = appendUUID(dst, r.ID)
	dst = appendVarint(dst, int64(r.ResourceType))
	dst = appendString(dst, r.ResourceName)
	dst = appendVarint(dst, int64(r.PatternType))
	dst = appendString(dst, r.Principal)
	dst = appendString(dst, r.Host)
	dst = appendVarint(dst, int64(r.Operation))
	return appendVarint(dst, int64(r.PermissionType))
}

func (r *AccessControlEntryRecord) decodeBody(d *reader, _ uint8) {
	r.ID = d.uuid()
	r.ResourceType = d.int8()
	r.ResourceName = d.string()
	r.PatternType = d.int8()
	r.Principal = d.string()
	r.Host = d.string()
	r.Operation = d.int8()
	r.PermissionType = d.int8()
}

func (r *RemoveAccessControlEntryRecord) appendBody(dst []byte) []byte { return appendUUID(dst, r.ID) }

func (r *RemoveAccessControlEntryRecord) decodeBody(d *reader, _ uint8) { r.ID = d.uuid() }

// newSecurityRecord makes an empty security record of type t, or nil.
func newSecurityRecord(t RecordType) Record {
	switch t {
	case UserScramCredentialRecordType:
		return &UserScramCredentialRecord{}
	case RemoveUserScramCredentialRecordType:
		return &RemoveUserScramCredentialRecord{}
	case AccessControlEntryRecordType:
		return &AccessControlEntryRecord{}
	case RemoveAccessControlEntryRecordType:
		return &RemoveAccessControlEntryRecord{}
	case DelegationTokenRecordType:
		return &DelegationTokenRecord{}
	case RemoveDelegationTokenRecordType:
		return &RemoveDelegationTokenRecord{}
	}
	return nil
}

// Binding is the ACL the record adds.
func (r *AccessControlEntryRecord) Binding() acl.Binding {
	return acl.Binding{
		Pattern: acl.ResourcePattern{Type: acl.ResourceType(r.ResourceType), Name: r.ResourceName, PatternType: acl.PatternType(r.PatternType)},
		Entry:   acl.Entry{Principal: r.Principal, Host: r.Host, Operation: acl.Operation(r.Operation), Permission: acl.Permission(r.PermissionType)},
	}
}

func aclRecord(id acl.ID, b acl.Binding) *AccessControlEntryRecord {
	return &AccessControlEntryRecord{
		ID: id, ResourceType: int8(b.Pattern.Type), ResourceName: b.Pattern.Name, PatternType: int8(b.Pattern.PatternType),
		Principal: b.Entry.Principal, Host: b.Entry.Host, Operation: int8(b.Entry.Operation), PermissionType: int8(b.Entry.Permission),
	}
}

// scramKey names one credential.
type scramKey struct {
	name string
	mech sasl.ScramMechanism
}

// securityState is the image's security metadata. An image shares it with
// the next until a batch changes it; then the builder copies it.
type securityState struct {
	scram  map[scramKey]sasl.ScramCredential
	acls   map[acl.ID]acl.Binding
	tokens map[string]DelegationToken // by token ID (tokens.go)

	// snap is acls indexed for the authorizer, built once on first use.
	once sync.Once
	snap *acl.Snapshot
}

var emptySecurity = &securityState{}

func (m *MetadataImage) security() *securityState {
	if m.sec == nil {
		return emptySecurity
	}
	return m.sec
}

// ScramCredential implements sasl.CredentialStore: the user's credential
// for mechanism mech. The credential is shared and must not be modified.
func (m *MetadataImage) ScramCredential(mech sasl.ScramMechanism, user string) (sasl.ScramCredential, bool) {
	c, ok := m.security().scram[scramKey{user, mech}]
	return c, ok
}

// ScramCredentialInfo is what DescribeUserScramCredentials reveals of a
// credential.
type ScramCredentialInfo struct {
	Mechanism  sasl.ScramMechanism
	Iterations int32
}

// ScramUsers lists the users with a SCRAM credential, sorted.
func (m *MetadataImage) ScramUsers() []string {
	seen := map[string]bool{}
	for k := range m.security().scram {
		seen[k.name] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// ScramCredentialInfos lists a user's credentials by mechanism.
func (m *MetadataImage) ScramCredentialInfos(user string) []ScramCredentialInfo {
	var out []ScramCredentialInfo
	for _, mech := range []sasl.ScramMechanism{sasl.ScramSHA256, sasl.ScramSHA512} {
		if c, ok := m.security().scram[scramKey{user, mech}]; ok {
			out = append(out, ScramCredentialInfo{Mechanism: mech, Iterations: int32(c.Iterations)})
		}
	}
	return out
}

// ACLs is the image's ACL snapshot for the authorizer.
func (m *MetadataImage) ACLs() *acl.Snapshot {
	s := m.security()
	if s == emptySecurity || len(s.acls) == 0 {
		return acl.EmptySnapshot
	}
	s.once.Do(func() { s.snap = acl.NewSnapshot(s.acls) })
	return s.snap
}

// mutableSecurity returns the batch's own copy of the security state.
func (b *builder) mutableSecurity() *securityState {
	if !b.secCloned {
		old := b.img.security()
		b.img.sec = &securityState{scram: maps.Clone(old.scram), acls: maps.Clone(old.acls), tokens: maps.Clone(old.tokens)}
		if b.img.sec.scram == nil {
			b.img.sec.scram = map[scramKey]sasl.ScramCredential{}
		}
		if b.img.sec.acls == nil {
			b.img.sec.acls = map[acl.ID]acl.Binding{}
		}
		if b.img.sec.tokens == nil {
			b.img.sec.tokens = map[string]DelegationToken{}
		}
		b.secCloned = true
	}
	return b.img.sec
}

// applySecurity applies a security record; handled is false for other
// records.
func (b *builder) applySecurity(rec Record) (handled bool, err error) {
	switch r := rec.(type) {
	case *UserScramCredentialRecord:
		mech := sasl.ScramMechanism(r.Mechanism)
		if !mech.Valid() {
			return true, fmt.Errorf("SCRAM credential of %q: unknown mechanism %d", r.Name, r.Mechanism)
		}
		b.mutableSecurity().scram[scramKey{r.Name, mech}] = sasl.ScramCredential{
			Salt: r.Salt, StoredKey: r.StoredKey, ServerKey: r.ServerKey, Iterations: int(r.Iterations),
		}
	case *RemoveUserScramCredentialRecord:
		k := scramKey{r.Name, sasl.ScramMechanism(r.Mechanism)}
		if _, ok := b.img.security().scram[k]; !ok {
			return true, fmt.Errorf("remove unknown SCRAM credential of %q (mechanism %d)", r.Name, r.Mechanism)
		}
		delete(b.mutableSecurity().scram, k)
	case *AccessControlEntryRecord:
		if _, ok := b.img.security().acls[r.ID]; ok {
			return true, fmt.Errorf("ACL id %s already exists", acl.ID(r.ID))
		}
		b.mutableSecurity().acls[r.ID] = r.Binding()
	case *RemoveAccessControlEntryRecord:
		if _, ok := b.img.security().acls[r.ID]; !ok {
			return true, fmt.Errorf("remove unknown ACL id %s", acl.ID(r.ID))
		}
		delete(b.mutableSecurity().acls, r.ID)
	default:
		return b.applyTokenRecord(rec) // tokens.go
	}
	return true, nil
}

// securityRecords rebuild the security state from empty (snapshots), in a
// stable order.
func (m *MetadataImage) securityRecords() []Record {
	s := m.security()
	var out []Record
	keys := slices.SortedFunc(maps.Keys(s.scram), func(a, b scramKey) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.mech, b.mech))
	})
	for _, k := range keys {
		c := s.scram[k]
		out = append(out, &UserScramCredentialRecord{Name: k.name, Mechanism: int8(k.mech), Salt: c.Salt,
			StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: int32(c.Iterations)})
	}
	ids := slices.SortedFunc(maps.Keys(s.acls), func(a, b acl.ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		out = append(out, aclRecord(id, s.acls[id]))
	}
	return append(out, m.tokenRecords()...)
}
