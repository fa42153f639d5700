package sasl

import (
	"sync"
	"time"
)

// MemoryStore is an in-memory CredentialStore and TokenStore, for tests and
// for a broker without a metadata log. It is safe for concurrent use.
type MemoryStore struct {
	mu     sync.RWMutex
	users  map[memKey]ScramCredential
	tokens map[memKey]memToken
}

type memKey struct {
	mech ScramMechanism
	name string
}

type memToken struct {
	cred   ScramCredential
	owner  string
	expiry time.Time
}

// NewMemoryStore makes an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{users: map[memKey]ScramCredential{}, tokens: map[memKey]memToken{}}
}

// SetUser stores (or replaces) a user's credential for m.
func (s *MemoryStore) SetUser(m ScramMechanism, user string, c ScramCredential) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[memKey{m, user}] = c
}

// DeleteUser removes a user's credential for m.
func (s *MemoryStore) DeleteUser(m ScramMechanism, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, memKey{m, user})
}

// SetToken stores a delegation token's credential for m.
func (s *MemoryStore) SetToken(m ScramMechanism, tokenID string, c ScramCredential, owner string, expiry time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[memKey{m, tokenID}] = memToken{cred: c, owner: owner, expiry: expiry}
}

// ScramCredential implements CredentialStore.
func (s *MemoryStore) ScramCredential(m ScramMechanism, user string) (ScramCredential, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.users[memKey{m, user}]
	return c, ok
}

// TokenCredential implements TokenStore.
func (s *MemoryStore) TokenCredential(m ScramMechanism, tokenID string) (ScramCredential, string, time.Time, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[memKey{m, tokenID}]
	return t.cred, t.owner, t.expiry, ok
}
