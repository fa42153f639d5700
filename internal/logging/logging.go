// Package logging builds the process's zap logger with a level per
// component logger, changeable at runtime: Kafka's BROKER_LOGGER config
// resource (kafka-configs.sh --entity-type broker-loggers) reads and sets
// them through Levels. A component logger is a zap logger's name
// ("server", "broker.replication", "controller", ...); a level set on a
// name applies to it and to the names under it ("broker" covers
// "broker.replication") unless a longer name has its own; "root" is every
// other logger.
package logging

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Root is the root logger's name, as in log4j.
const Root = "root"

// Levels holds the per-logger levels. Safe for concurrent use.
type Levels struct {
	mu     sync.RWMutex
	root   zapcore.Level
	byName map[string]zapcore.Level
	// min is the lowest level any logger enables (core.Enabled).
	min zapcore.Level
	// seen are the logger names that have logged or been checked.
	seen sync.Map
}

// NewLevels starts every logger at root.
func NewLevels(root zapcore.Level) *Levels {
	return &Levels{root: root, min: root, byName: map[string]zapcore.Level{}}
}

func (l *Levels) levelOf(name string) zapcore.Level {
	for n := name; n != ""; {
		if lv, ok := l.byName[n]; ok {
			return lv
		}
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return l.root
}

// Level is the effective level of logger name.
func (l *Levels) Level(name string) zapcore.Level {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if name == Root {
		return l.root
	}
	return l.levelOf(name)
}

// ParseLevel reads a log4j level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL,
// OFF; any case). TRACE is zap's debug; OFF is above fatal.
func ParseLevel(s string) (zapcore.Level, error) {
	switch strings.ToUpper(s) {
	case "TRACE", "DEBUG":
		return zapcore.DebugLevel, nil
	case "INFO":
		return zapcore.InfoLevel, nil
	case "WARN":
		return zapcore.WarnLevel, nil
	case "ERROR":
		return zapcore.ErrorLevel, nil
	case "FATAL":
		return zapcore.FatalLevel, nil
	case "OFF":
		return zapcore.FatalLevel + 1, nil
	}
	return 0, fmt.Errorf("invalid log level %q: use TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF", s)
}

// LevelName is level in log4j's words.
func LevelName(lv zapcore.Level) string {
	if lv > zapcore.FatalLevel {
		return "OFF"
	}
	return strings.ToUpper(lv.String())
}

// Set sets logger name's level (Root: the root logger's).
func (l *Levels) Set(name string, lv zapcore.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name == Root {
		l.root = lv
	} else {
		l.byName[name] = lv
	}
	l.recomputeLocked()
}

// Reset makes logger name follow its parent again (Kafka: deleting a
// logger's config sets it to the root level). Root cannot be reset.
func (l *Levels) Reset(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byName, name)
	l.recomputeLocked()
}

func (l *Levels) recomputeLocked() {
	l.min = l.root
	for _, lv := range l.byName {
		l.min = min(l.min, lv)
	}
}

// Loggers are the known loggers (Root, every name that has logged or had a
// level set) with their effective levels, sorted by name.
func (l *Levels) Loggers() []string {
	names := []string{Root}
	l.seen.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	l.mu.RLock()
	for n := range l.byName {
		if _, ok := l.seen.Load(n); !ok {
			names = append(names, n)
		}
	}
	l.mu.RUnlock()
	slices.Sort(names[1:])
	return slices.Compact(names)
}

// Known reports whether name is a logger (Root or seen).
func (l *Levels) Known(name string) bool {
	if name == Root {
		return true
	}
	_, ok := l.seen.Load(name)
	return ok
}

// core filters entries by their logger's level.
type core struct {
	zapcore.Core
	levels *Levels
}

func (c core) Enabled(lv zapcore.Level) bool {
	c.levels.mu.RLock()
	defer c.levels.mu.RUnlock()
	return lv >= c.levels.min
}

func (c core) With(fields []zapcore.Field) zapcore.Core {
	return core{Core: c.Core.With(fields), levels: c.levels}
}

func (c core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.LoggerName != "" {
		if _, ok := c.levels.seen.Load(e.LoggerName); !ok {
			c.levels.seen.Store(e.LoggerName, struct{}{})
		}
	}
	if e.Level < c.levels.Level(e.LoggerName) {
		return ce
	}
	return ce.AddCore(e, c)
}

// LevelsOf returns the Levels behind log, or nil when log was not built
// by New (tests' loggers).
func LevelsOf(log *zap.Logger) *Levels {
	if c, ok := log.Core().(core); ok {
		return c.levels
	}
	return nil
}

// New builds the process logger writing to stderr: console lines when
// format is "console", JSON when "json", and when format is empty console
// if stderr is a terminal (a person reads it) and JSON otherwise. When
// file is not nil every line is also written to it, always as JSON (a file
// is read by tools; internal/rotfile rotates it).
func New(format string, root zapcore.Level, file io.Writer) (*zap.Logger, *Levels) {
	if format == "" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	jsonEnc := zapcore.NewJSONEncoder(enc)
	encoder := jsonEnc
	if format == "console" {
		cenc := enc
		cenc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(cenc)
	}
	levels := NewLevels(root)
	c := zapcore.NewCore(encoder, zapcore.Lock(os.Stderr), zapcore.DebugLevel)
	if file != nil {
		c = zapcore.NewTee(c, zapcore.NewCore(jsonEnc, zapcore.AddSync(file), zapcore.DebugLevel))
	}
	return zap.New(core{Core: c, levels: levels}, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel)), levels
}
