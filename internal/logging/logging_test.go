package logging

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLevelsPerLogger(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	levels := NewLevels(zapcore.InfoLevel)
	log := zap.New(core{Core: obs, levels: levels})
	broker, repl, server := log.Named("broker"), log.Named("broker").Named("replication"), log.Named("server")

	for _, tc := range []struct {
		name  string
		setup func()
		log   *zap.Logger
		debug bool
	}{
		{"root info", func() {}, repl, false},
		{"parent debug covers child", func() { levels.Set("broker", zapcore.DebugLevel) }, repl, true},
		{"sibling unaffected", func() {}, server, false},
		{"child overrides parent", func() { levels.Set("broker.replication", zapcore.WarnLevel) }, repl, false},
		{"parent still debug", func() {}, broker, true},
		{"reset child follows parent", func() { levels.Reset("broker.replication") }, repl, true},
		{"root debug", func() { levels.Reset("broker"); levels.Set(Root, zapcore.DebugLevel) }, server, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			n := logs.Len()
			tc.log.Debug("x")
			require.Equal(t, tc.debug, logs.Len() > n)
		})
	}
	require.Equal(t, []string{Root, "broker", "broker.replication", "server"}, levels.Loggers())
	require.Same(t, levels, LevelsOf(log.Named("x").With(zap.Int("k", 1))))
	require.Nil(t, LevelsOf(zap.NewNop()))
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]string{"trace": "DEBUG", "DEBUG": "DEBUG", "info": "INFO", "WARN": "WARN", "ERROR": "ERROR", "FATAL": "FATAL", "OFF": "OFF"} {
		lv, err := ParseLevel(in)
		require.NoError(t, err)
		require.Equal(t, want, LevelName(lv))
	}
	_, err := ParseLevel("LOUD")
	require.Error(t, err)
}
