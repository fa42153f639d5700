package controller

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/protocol/errcode"
)

func topicACL(name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) acl.Binding {
	return acl.Binding{
		Pattern: acl.ResourcePattern{Type: acl.ResourceTopic, Name: name, PatternType: pt},
		Entry:   acl.Entry{Principal: principal, Host: "*", Operation: op, Permission: perm},
	}
}

// TestSecurityRecordsReplay: credentials and ACLs round-trip through the
// batch encoding and a snapshot, and records that do not apply (removing
// what is not there, a duplicate ACL id) fail the batch.
func TestSecurityRecordsReplay(t *testing.T) {
	cred, err := sasl.ScramSHA512.NewCredential("pw", 4096)
	require.NoError(t, err)
	b := topicACL("orders", acl.PatternLiteral, "User:alice", acl.OpRead, acl.Allow)
	id := acl.ID{1, 2, 3}
	recs := []Record{
		BootstrapScramRecord("alice", sasl.ScramSHA512, cred),
		aclRecord(id, b),
	}
	decoded, err := DecodeBatch(EncodeBatch(recs))
	require.NoError(t, err)
	require.Equal(t, recs, decoded)

	f := newFSM("c")
	require.NoError(t, applyBatch(t, f, 3, recs...))
	img := f.image.Load()
	got, ok := img.ScramCredential(sasl.ScramSHA512, "alice")
	require.True(t, ok)
	require.Equal(t, cred, got)
	_, ok = img.ScramCredential(sasl.ScramSHA256, "alice")
	require.False(t, ok)
	require.Equal(t, []string{"alice"}, img.ScramUsers())
	require.Equal(t, []ScramCredentialInfo{{Mechanism: sasl.ScramSHA512, Iterations: 4096}}, img.ScramCredentialInfos("alice"))
	require.Equal(t, 1, img.ACLs().Len())
	require.True(t, img.ACLs().Contains(b))

	for name, rec := range map[string]Record{
		"remove unknown credential": &RemoveUserScramCredentialRecord{Name: "bob", Mechanism: int8(sasl.ScramSHA512)},
		"remove unknown acl":        &RemoveAccessControlEntryRecord{ID: acl.ID{9}},
		"duplicate acl id":          aclRecord(id, b),
		"unknown mechanism":         &UserScramCredentialRecord{Name: "x", Mechanism: 9},
	} {
		require.Error(t, applyBatch(t, f, 4, rec), name)
	}
	require.Same(t, img, f.image.Load())

	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &bufSink{}
	require.NoError(t, snap.Persist(sink))
	g := newFSM("c")
	require.NoError(t, g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, img.records(), g.image.Load().records())

	require.NoError(t, applyBatch(t, f, 5,
		&RemoveUserScramCredentialRecord{Name: "alice", Mechanism: int8(sasl.ScramSHA512)},
		&RemoveAccessControlEntryRecord{ID: id}))
	require.Empty(t, f.image.Load().ScramUsers())
	require.Equal(t, 0, f.image.Load().ACLs().Len())
	// The earlier image is unchanged (copy-on-write).
	_, ok = img.ScramCredential(sasl.ScramSHA512, "alice")
	require.True(t, ok)
	require.Equal(t, 1, img.ACLs().Len())
}

func code(r ScramAlterResult) (string, int16, string) {
	msg := ""
	if r.ErrorMessage != nil {
		msg = *r.ErrorMessage
	}
	return r.User, r.ErrorCode, msg
}

// TestAlterUserScramCredentials follows Kafka's ScramControlManager.
func TestAlterUserScramCredentials(t *testing.T) {
	c := openController(t, soleConfig(t, t.TempDir()))
	ctx := context.Background()
	salt := []byte("salt-salt-salt")
	sp, err := sasl.ScramSHA256.SaltedPassword("pw", salt, 4096)
	require.NoError(t, err)
	up := func(name string, mech sasl.ScramMechanism, iter int32) ScramUpsertion {
		return ScramUpsertion{Name: name, Mechanism: int8(mech), Iterations: iter, Salt: salt, SaltedPassword: sp}
	}
	res, err := c.AlterUserScramCredentials(ctx, nil, []ScramUpsertion{
		up("alice", sasl.ScramSHA256, 4096),
		up("bob", sasl.ScramSHA256, 100),
		up("carol", sasl.ScramSHA256, 20000),
		up("", sasl.ScramSHA256, 4096),
		up("dave", 0, 4096),
		up("erin", sasl.ScramSHA256, 4096),
		up("erin", sasl.ScramSHA512, 4096),
	})
	require.NoError(t, err)
	type r = struct {
		user string
		code int16
		msg  string
	}
	var got []r
	for _, x := range res {
		u, c, m := code(x)
		got = append(got, r{u, c, m})
	}
	require.Equal(t, []r{
		{"alice", 0, ""},
		{"bob", errcode.UnacceptableCredential, "Too few iterations"},
		{"carol", errcode.UnacceptableCredential, "Too many iterations"},
		{"", errcode.UnacceptableCredential, "Username must not be empty"},
		{"dave", errcode.UnsupportedSASLMechanism, "Unknown SCRAM mechanism"},
		{"erin", errcode.DuplicateResource, "A user credential cannot be altered twice in the same request"},
	}, got)
	cred, ok := c.Image().ScramCredential(sasl.ScramSHA256, "alice")
	require.True(t, ok)
	require.Equal(t, sasl.ScramSHA256.CredentialFromSaltedPassword(salt, sp, 4096), cred)
	_, ok = c.Image().ScramCredential(sasl.ScramSHA256, "erin")
	require.False(t, ok, "a user altered twice is left alone")

	res, err = c.AlterUserScramCredentials(ctx, []ScramDeletion{
		{Name: "alice", Mechanism: int8(sasl.ScramSHA256)},
		{Name: "alice", Mechanism: int8(sasl.ScramSHA512)},
		{Name: "nobody", Mechanism: int8(sasl.ScramSHA256)},
	}, nil)
	require.NoError(t, err)
	got = nil
	for _, x := range res {
		u, c, m := code(x)
		got = append(got, r{u, c, m})
	}
	require.Equal(t, []r{
		{"alice", errcode.DuplicateResource, "A user credential cannot be altered twice in the same request"},
		{"nobody", errcode.ResourceNotFound, "Attempt to delete a user credential that does not exist"},
	}, got)
	_, ok = c.Image().ScramCredential(sasl.ScramSHA256, "alice")
	require.True(t, ok)
	res, err = c.AlterUserScramCredentials(ctx, []ScramDeletion{{Name: "alice", Mechanism: int8(sasl.ScramSHA256)}}, nil)
	require.NoError(t, err)
	require.Equal(t, []ScramAlterResult{{User: "alice"}}, res)
	require.Empty(t, c.Image().ScramUsers())
}

// TestCreateDeleteACLs follows Kafka's AclControlManager.
func TestCreateDeleteACLs(t *testing.T) {
	c := openController(t, soleConfig(t, t.TempDir()))
	ctx := context.Background()
	read := topicACL("orders", acl.PatternLiteral, "User:alice", acl.OpRead, acl.Allow)
	write := topicACL("ord", acl.PatternPrefixed, "User:alice", acl.OpWrite, acl.Allow)
	bad := topicACL("", acl.PatternLiteral, "User:alice", acl.OpRead, acl.Allow)
	res, err := c.CreateACLs(ctx, []acl.Binding{read, write, read, bad})
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	require.NoError(t, res[2].Err, "a repeat succeeds without a second ACL")
	var ae *acl.Error
	require.ErrorAs(t, res[3].Err, &ae)
	require.Equal(t, errcode.InvalidRequest, ae.Code)
	require.Equal(t, 2, c.Image().ACLs().Len())
	res, err = c.CreateACLs(ctx, []acl.Binding{read})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.Equal(t, 2, c.Image().ACLs().Len(), "an existing ACL is not added again")

	anyTopic := acl.BindingFilter{
		Pattern: acl.PatternFilter{Type: acl.ResourceTopic, PatternType: acl.PatternAny},
		Entry:   acl.EntryFilter{Operation: acl.OpAny, Permission: acl.PermissionAny},
	}
	readOnly := anyTopic
	readOnly.Entry.Operation = acl.OpRead
	unknown := anyTopic
	unknown.Pattern.Type = acl.ResourceUnknown
	del, err := c.DeleteACLs(ctx, []acl.BindingFilter{readOnly, anyTopic, unknown})
	require.NoError(t, err)
	require.Equal(t, []acl.Binding{read}, del[0].Deleted)
	require.ElementsMatch(t, []acl.Binding{read, write}, del[1].Deleted, "an ACL matched twice is listed twice, removed once")
	require.ErrorAs(t, del[2].Err, &ae)
	require.Equal(t, 0, c.Image().ACLs().Len())
}

// TestBootstrapFile: the first leader of a new cluster commits the
// bootstrap file's credentials with the feature levels; a restarted
// cluster does not apply it again.
func TestBootstrapFile(t *testing.T) {
	meta := t.TempDir()
	cred, err := sasl.ScramSHA512.NewCredential("admin-secret", 4096)
	require.NoError(t, err)
	require.NoError(t, WriteBootstrap(meta, []Record{BootstrapScramRecord("admin", sasl.ScramSHA512, cred)}))
	recs, err := ReadBootstrap(meta)
	require.NoError(t, err)
	require.Len(t, recs, 1)

	cfg := soleConfig(t, filepath.Join(meta, "__cluster_metadata"))
	c := openController(t, cfg)
	got, ok := c.Image().ScramCredential(sasl.ScramSHA512, "admin")
	require.True(t, ok)
	require.Equal(t, cred, got)
	res, err := c.AlterUserScramCredentials(context.Background(), []ScramDeletion{{Name: "admin", Mechanism: int8(sasl.ScramSHA512)}}, nil)
	require.NoError(t, err)
	require.Zero(t, res[0].ErrorCode)
	require.NoError(t, c.Close())

	c = openController(t, cfg)
	_, ok = c.Image().ScramCredential(sasl.ScramSHA512, "admin")
	require.False(t, ok, "the bootstrap applies once, to a new cluster")

	raw, err := os.ReadFile(filepath.Join(meta, BootstrapFileName))
	require.NoError(t, err)
	raw[len(raw)-1] ^= 1
	require.NoError(t, os.WriteFile(filepath.Join(meta, BootstrapFileName), raw, 0o600))
	_, err = ReadBootstrap(meta)
	require.ErrorIs(t, err, errBadBootstrap)
}
