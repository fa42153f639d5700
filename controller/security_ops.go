package controller

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/protocol/errcode"
)

// The security operations follow Kafka's ScramControlManager and
// AclControlManager: each request is validated on the leader against the
// current image and its records are written as one raft entry. Their
// results carry Kafka's error codes and messages per user or per ACL,
// because that is what the responses carry.

// ScramDeletion is one deletion of AlterUserScramCredentials.
type ScramDeletion struct {
	Name      string
	Mechanism int8
}

// ScramUpsertion is one upsertion of AlterUserScramCredentials: the client
// sends the salted password, never the password.
type ScramUpsertion struct {
	Name           string
	Mechanism      int8
	Iterations     int32
	Salt           []byte
	SaltedPassword []byte
}

// ScramAlterResult is the outcome for one user.
type ScramAlterResult struct {
	User         string
	ErrorCode    int16
	ErrorMessage *string
}

func apiError(code int16, msg string) *ScramAlterResult {
	return &ScramAlterResult{ErrorCode: code, ErrorMessage: &msg}
}

// validateScramName is Kafka's validateScramUsernameAndMechanism.
func validateScramName(name string, mech sasl.ScramMechanism) *ScramAlterResult {
	if name == "" {
		return apiError(errcode.UnacceptableCredential, "Username must not be empty")
	}
	if !mech.Valid() {
		return apiError(errcode.UnsupportedSASLMechanism, "Unknown SCRAM mechanism")
	}
	return nil
}

// AlterUserScramCredentials applies deletions and upsertions as Kafka's
// ScramControlManager.alterCredentials: a user named twice in one request
// gets DUPLICATE_RESOURCE and nothing happens to it; a deletion of a
// credential that does not exist is RESOURCE_NOT_FOUND; iterations must be
// within 4096..16384 (UNACCEPTABLE_CREDENTIAL). The valid changes are
// written atomically. Results list successes first, then failures.
func (c *Controller) AlterUserScramCredentials(ctx context.Context, deletions []ScramDeletion, upsertions []ScramUpsertion) ([]ScramAlterResult, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	img := c.Image()
	var (
		delOrder, upOrder, errOrder []string
		toDelete                    = map[string]ScramDeletion{}
		toUpsert                    = map[string]ScramUpsertion{}
		failed                      = map[string]*ScramAlterResult{}
	)
	fail := func(name string, r *ScramAlterResult) {
		if _, ok := failed[name]; !ok {
			errOrder = append(errOrder, name)
		}
		failed[name] = r
	}
	dup := func() *ScramAlterResult {
		return apiError(errcode.DuplicateResource, "A user credential cannot be altered twice in the same request")
	}
	for _, d := range deletions {
		if failed[d.Name] != nil {
			continue
		}
		if _, ok := toDelete[d.Name]; ok {
			delete(toDelete, d.Name)
			fail(d.Name, dup())
			continue
		}
		mech := sasl.ScramMechanism(d.Mechanism)
		if r := validateScramName(d.Name, mech); r != nil {
			fail(d.Name, r)
			continue
		}
		if _, ok := img.ScramCredential(mech, d.Name); !ok {
			fail(d.Name, apiError(errcode.ResourceNotFound, "Attempt to delete a user credential that does not exist"))
			continue
		}
		toDelete[d.Name] = d
		delOrder = append(delOrder, d.Name)
	}
	for _, u := range upsertions {
		if failed[u.Name] != nil {
			continue
		}
		_, del := toDelete[u.Name]
		_, up := toUpsert[u.Name]
		if del || up {
			delete(toDelete, u.Name)
			delete(toUpsert, u.Name)
			fail(u.Name, dup())
			continue
		}
		mech := sasl.ScramMechanism(u.Mechanism)
		if r := validateScramName(u.Name, mech); r != nil {
			fail(u.Name, r)
			continue
		}
		if err := sasl.ValidateIterations(int(u.Iterations)); err != nil {
			msg := "Too few iterations"
			if u.Iterations > sasl.ScramMaxIterations {
				msg = "Too many iterations"
			}
			fail(u.Name, apiError(errcode.UnacceptableCredential, msg))
			continue
		}
		toUpsert[u.Name] = u
		upOrder = append(upOrder, u.Name)
	}
	var recs []Record
	var results []ScramAlterResult
	for _, name := range delOrder {
		d, ok := toDelete[name]
		if !ok {
			continue
		}
		recs = append(recs, &RemoveUserScramCredentialRecord{Name: d.Name, Mechanism: d.Mechanism})
		results = append(results, ScramAlterResult{User: name})
	}
	for _, name := range upOrder {
		u, ok := toUpsert[name]
		if !ok {
			continue
		}
		mech := sasl.ScramMechanism(u.Mechanism)
		cred := mech.CredentialFromSaltedPassword(u.Salt, u.SaltedPassword, int(u.Iterations))
		recs = append(recs, &UserScramCredentialRecord{Name: u.Name, Mechanism: u.Mechanism, Salt: cred.Salt,
			StoredKey: cred.StoredKey, ServerKey: cred.ServerKey, Iterations: u.Iterations})
		results = append(results, ScramAlterResult{User: name})
	}
	for _, name := range errOrder {
		r := *failed[name]
		r.User = name
		results = append(results, r)
	}
	if _, err := c.apply(ctx, recs); err != nil {
		return nil, err
	}
	return results, nil
}

// ACLCreateResult is the outcome of one CreateAcls creation; Err is nil on
// success, else an *acl.Error with Kafka's code and message.
type ACLCreateResult struct {
	Err error
}

// CreateACLs adds ACLs as Kafka's AclControlManager.createAcls: each
// binding is validated on its own (acl.ValidateCreate); one that already
// exists, or repeats an earlier one of the request, succeeds without a new
// record. Each new ACL gets a fresh random ID.
func (c *Controller) CreateACLs(ctx context.Context, bindings []acl.Binding) ([]ACLCreateResult, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	img := c.Image()
	snap := img.ACLs()
	results := make([]ACLCreateResult, len(bindings))
	added := map[acl.Binding]bool{}
	ids := map[acl.ID]bool{}
	var recs []Record
	for i, b := range bindings {
		if err := acl.ValidateCreate(b); err != nil {
			results[i].Err = err
			continue
		}
		if snap.Contains(b) || added[b] {
			continue
		}
		added[b] = true
		var id acl.ID
		for {
			if _, err := rand.Read(id[:]); err != nil {
				return nil, fmt.Errorf("controller: acl id: %w", err)
			}
			if _, taken := snap.Get(id); !taken && !ids[id] && id != (acl.ID{}) {
				break
			}
		}
		ids[id] = true
		recs = append(recs, aclRecord(id, b))
	}
	if _, err := c.apply(ctx, recs); err != nil {
		return nil, err
	}
	return results, nil
}

// ACLDeleteResult is the outcome of one DeleteAcls filter: the ACLs it
// matched, or Err (an *acl.Error).
type ACLDeleteResult struct {
	Deleted []acl.Binding
	Err     error
}

// DeleteACLs removes the ACLs each filter matches, as Kafka's
// AclControlManager.deleteAcls: an invalid filter fails alone
// (acl.ValidateDeleteFilter); an ACL matched by several filters is listed
// under each and removed once. A filter that would take the request past
// acl.MaxDeletedPerRequest removals fails (Kafka's
// BoundedListTooLongException, UNKNOWN_SERVER_ERROR) and removes nothing.
// The removals are written atomically.
func (c *Controller) DeleteACLs(ctx context.Context, filters []acl.BindingFilter) ([]ACLDeleteResult, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	snap := c.Image().ACLs()
	results := make([]ACLDeleteResult, len(filters))
	removed := map[acl.ID]bool{}
	var recs []Record
	for i, f := range filters {
		if err := acl.ValidateDeleteFilter(f); err != nil {
			results[i].Err = err
			continue
		}
		matched := snap.Matching(f)
		var fresh []acl.ID
		for _, m := range matched {
			if !removed[m.ID] {
				fresh = append(fresh, m.ID)
			}
		}
		if len(recs)+len(fresh) > acl.MaxDeletedPerRequest {
			results[i].Err = &acl.Error{Code: errcode.UnknownServerError,
				Message: fmt.Sprintf("Cannot remove more than %d acls in a single delete operation.", acl.MaxDeletedPerRequest)}
			continue
		}
		for _, m := range matched {
			results[i].Deleted = append(results[i].Deleted, m.Binding)
		}
		for _, id := range fresh {
			removed[id] = true
			recs = append(recs, &RemoveAccessControlEntryRecord{ID: id})
		}
	}
	if _, err := c.apply(ctx, recs); err != nil {
		return nil, err
	}
	return results, nil
}

// BootstrapScramRecord is a credential `spool format --add-scram` writes
// into the bootstrap file: the first controller leader of a new cluster
// commits it with the initial feature levels (Kafka's bootstrap.checkpoint).
func BootstrapScramRecord(name string, mech sasl.ScramMechanism, cred sasl.ScramCredential) Record {
	return &UserScramCredentialRecord{Name: name, Mechanism: int8(mech), Salt: cred.Salt,
		StoredKey: cred.StoredKey, ServerKey: cred.ServerKey, Iterations: int32(cred.Iterations)}
}
