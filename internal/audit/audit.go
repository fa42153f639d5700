// Package audit writes Spool's security audit log: one JSON object per
// line, appended to the file spool.audit.log.file names, for every
// authorization denial (and, with spool.audit.log.allowed=true, every
// allowed authorization), every authentication success and failure, and
// every ACL and SCRAM credential change. No secret is ever written: no
// password, token, SCRAM proof or JAAS value.
//
// Line layout (fields omitted when empty):
//
//	{"time":"2026-12-06T22:15:04.123456Z","event":"authorization","outcome":"denied",
//	 "principal":"User:alice","client_address":"10.0.0.7","listener":"SASL_SSL",
//	 "operation":"WRITE","resource_type":"TOPIC","resource_name":"orders",
//	 "detail":"no matching ALLOW ACL"}
//
//	event    authorization | authentication | acl_change | credential_change
//	outcome  allowed | denied (authorization), success | failure
//	         (authentication, changes)
//
// Rotation: when the file would grow past spool.audit.log.max.bytes it is
// renamed to <file>.1 (older backups shift to .2, ... up to
// spool.audit.log.max.backups, the oldest dropped) and a new file is
// started. A write that fails is counted (Dropped) and never blocks or
// fails the request being audited.
//
// # Concurrency
//
// A Logger is safe for concurrent use; one mutex orders the lines. A nil
// *Logger logs nothing, so callers need no checks.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one audit line.
type Event struct {
	Time          time.Time `json:"time"`
	Event         string    `json:"event"`
	Outcome       string    `json:"outcome"`
	Principal     string    `json:"principal,omitempty"`
	ClientAddress string    `json:"client_address,omitempty"`
	Listener      string    `json:"listener,omitempty"`
	Mechanism     string    `json:"mechanism,omitempty"`
	Operation     string    `json:"operation,omitempty"`
	ResourceType  string    `json:"resource_type,omitempty"`
	ResourceName  string    `json:"resource_name,omitempty"`
	PatternType   string    `json:"pattern_type,omitempty"`
	Detail        string    `json:"detail,omitempty"`
}

// Event kinds and outcomes.
const (
	EventAuthorization    = "authorization"
	EventAuthentication   = "authentication"
	EventACLChange        = "acl_change"
	EventCredentialChange = "credential_change"
	EventTokenChange      = "token_change" // delegation token created, renewed or expired

	Allowed = "allowed"
	Denied  = "denied"
	Success = "success"
	Failure = "failure"
)

// Config is the audit log's configuration (spool.audit.log.*).
type Config struct {
	// File is spool.audit.log.file; empty: no audit log.
	File string
	// MaxBytes is spool.audit.log.max.bytes (default 100 MiB).
	MaxBytes int64
	// MaxBackups is spool.audit.log.max.backups (default 5).
	MaxBackups int
	// Allowed is spool.audit.log.allowed: also log allowed authorizations.
	Allowed bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Logger appends events to the audit file.
type Logger struct {
	cfg     Config
	mu      sync.Mutex
	f       *os.File
	size    int64
	dropped atomic.Int64
}

// Open opens (creating or appending to) the audit file; nil, nil when
// cfg.File is empty.
func Open(cfg Config) (*Logger, error) {
	if cfg.File == "" {
		return nil, nil
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 100 << 20
	}
	if cfg.MaxBackups <= 0 {
		cfg.MaxBackups = 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Logger{cfg: cfg}
	if err := l.openLocked(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Logger) openLocked() error {
	f, err := os.OpenFile(l.cfg.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", l.cfg.File, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("audit: stat %s: %w", l.cfg.File, err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// LogsAllowed reports whether allowed authorizations are logged.
func (l *Logger) LogsAllowed() bool { return l != nil && l.cfg.Allowed }

// Log appends e (Time set when zero).
func (l *Logger) Log(e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	e.Time = e.Time.UTC()
	line, err := json.Marshal(e)
	if err != nil {
		l.dropped.Add(1)
		return
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		l.dropped.Add(1)
		return
	}
	if l.size > 0 && l.size+int64(len(line)) > l.cfg.MaxBytes {
		if err := l.rotateLocked(); err != nil {
			l.dropped.Add(1)
			return
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		l.dropped.Add(1)
	}
}

// rotateLocked shifts <file>.i to <file>.i+1, the file to <file>.1, and
// opens a new file.
func (l *Logger) rotateLocked() error {
	_ = l.f.Close()
	l.f = nil
	name := func(i int) string { return l.cfg.File + "." + strconv.Itoa(i) }
	_ = os.Remove(name(l.cfg.MaxBackups))
	for i := l.cfg.MaxBackups - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(l.cfg.File, name(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return l.openLocked()
}

// Dropped is how many events could not be written.
func (l *Logger) Dropped() int64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Close syncs and closes the file; later events are dropped.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := errors.Join(l.f.Sync(), l.f.Close())
	l.f = nil
	return err
}
