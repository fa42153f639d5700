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
// A Logger is safe for concurrent use; the file (internal/rotfile) orders
// the lines. A nil
// *Logger logs nothing, so callers need no checks.
package audit

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/spool-broker/spool/internal/rotfile"
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
	f       *rotfile.File
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
	f, err := rotfile.Open(cfg.File, cfg.MaxBytes, cfg.MaxBackups, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Logger{cfg: cfg, f: f}, nil
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
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		l.dropped.Add(1)
	}
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
	return l.f.Close()
}
