package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spool-broker/spool/internal/cli"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/logging"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/internal/rotfile"
	"github.com/spool-broker/spool/internal/sdnotify"
	"github.com/spool-broker/spool/internal/server"
	"github.com/spool-broker/spool/metrics"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		os.Exit(serve(os.Args[2:]))
	case "version", "--version":
		fmt.Println("spool", version)
	case "help", "-h", "--help":
		usage()
	default:
		if cli.IsCommand(os.Args[1]) {
			os.Exit(cli.Main(os.Args[1:]))
		}
		fmt.Fprintf(os.Stderr, "spool: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Spool: a Kafka-compatible broker.

Usage:
  spool serve [--config FILE | FILE]   run a node (broker and controller)
  spool serve --help                   list every property: supported, ignored or refused
  spool version                        print the version

With no configuration, spool serves PLAINTEXT on 127.0.0.1:9092 with data in ./data.
TLS (SSL, mTLS), SASL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) and ACLs are supported; spool
refuses to start when asked for what is not (GSSAPI, TLS/SASL between nodes): see --help.
SPOOL_HTTP_ADDR (e.g. :9404) serves /metrics, /healthz, /readyz and /debug/pprof/.

`)
	cli.Usage(os.Stderr)
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "server.properties file (Kafka's property names)")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, `Usage: spool serve [--config FILE | FILE]

Configuration comes from, lowest precedence first: built-in defaults, the
server.properties FILE, and KAFKA_* environment variables in the apache/kafka
image's convention (KAFKA_NODE_ID -> node.id, KAFKA_LISTENERS -> listeners,
KAFKA_LOG_DIRS -> log.dirs, ...; CLUSTER_ID sets the cluster id).

`)
		fmt.Fprint(os.Stderr, config.Usage())
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *cfgPath == "" && fs.NArg() > 0 {
		*cfgPath = fs.Arg(0)
	}
	log, closeLog, err := newLogger(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "spool: %v\n", err)
		return 1
	}
	defer closeLog()

	cfg, notices, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "spool: configuration error: %v\n(run `spool serve --help` to list supported properties)\n", err)
		return 1
	}
	// Fail closed before anything touches a port or a log dir: a setting
	// asking for protection Spool does not implement yet stops startup.
	if err := cfg.CheckProtections(); err != nil {
		fmt.Fprintf(os.Stderr, "spool: %v\n(run `spool serve --help` to see what is supported)\n", err)
		return 1
	}
	// SPOOL_ADD_SCRAM: the container's `spool format --add-scram`.
	if msg, err := cli.BootstrapFromEnv(cfg, os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "spool: %v\n", err)
		return 1
	} else if msg != "" {
		log.Info(msg)
	}
	for _, n := range append(notices, cfg.Caveats()...) {
		if n.Warn {
			log.Warn("config notice", zap.String("property", n.Property), zap.String("detail", n.Message))
		} else {
			log.Info("config notice", zap.String("property", n.Property), zap.String("detail", n.Message))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := metrics.NewRegistry()
	// The HTTP endpoint comes up first, so /healthz answers (and /readyz
	// says "starting") during log recovery, which can take minutes.
	var health metrics.Health
	if addr := os.Getenv("SPOOL_HTTP_ADDR"); addr != "" {
		enableContentionProfiles(log)
		stopHTTP, _, err := metrics.Serve(addr, reg, &health, log)
		if err != nil {
			log.Error("cannot serve metrics; unset SPOOL_HTTP_ADDR or pick a free port", zap.String("addr", addr), zap.Error(err))
			return 1
		}
		defer stopHTTP()
	}
	n, err := node.Start(ctx, cfg, reg, log, server.NewNodeBroker)
	if err != nil {
		log.Error("spool failed to start", zap.Error(err))
		return 1
	}
	// A node of a cluster is up before it serves: it is ready once it has
	// registered with the active controller, caught up and been unfenced.
	select {
	case <-n.Ready():
	default:
		notify(log, "STATUS=waiting for the controller quorum")
		select {
		case <-n.Ready():
		case <-ctx.Done():
		}
	}
	if ctx.Err() == nil {
		health.SetReady(true)
		notify(log, sdnotify.Ready+"\nSTATUS=serving")
	}
	exit := 0
	select {
	case <-ctx.Done():
	case err := <-n.Fatal():
		log.Error("spool must stop", zap.Error(err))
		exit = 1
	}
	health.SetReady(false)
	notify(log, sdnotify.Stopping+"\nSTATUS=shutting down")
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(sctx); err != nil {
		log.Error("shutdown finished with errors", zap.Error(err))
		return 1
	}
	log.Info("shutdown complete")
	return exit
}

// enableContentionProfiles turns on the mutex and block profiles that
// /debug/pprof/mutex and /debug/pprof/block serve, when asked: both cost
// time on every contended lock or blocking operation, so they are off by
// default. SPOOL_MUTEX_PROFILE_FRACTION=n samples one in n contention events
// (runtime.SetMutexProfileFraction); SPOOL_BLOCK_PROFILE_RATE=ns samples
// about one blocking event per ns nanoseconds blocked
// (runtime.SetBlockProfileRate; 1 records every event).
func enableContentionProfiles(log *zap.Logger) {
	for _, p := range []struct {
		env string
		set func(int)
	}{
		{"SPOOL_MUTEX_PROFILE_FRACTION", func(n int) { runtime.SetMutexProfileFraction(n) }},
		{"SPOOL_BLOCK_PROFILE_RATE", runtime.SetBlockProfileRate},
	} {
		s := os.Getenv(p.env)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			log.Warn("ignoring invalid profiling setting; want a non-negative integer", zap.String("variable", p.env), zap.String("value", s))
			continue
		}
		p.set(n)
		log.Info("contention profile enabled", zap.String("variable", p.env), zap.Int("value", n))
	}
}

// newLogger logs to stderr: console lines when it is a terminal, JSON
// otherwise; SPOOL_LOG_FORMAT=console|json overrides, SPOOL_LOG_LEVEL sets
// the root level (debug, info, warn, error). SPOOL_LOG_FILE also writes
// every line as JSON to that file, rotated at SPOOL_LOG_FILE_MAX_BYTES
// (100 MiB) keeping SPOOL_LOG_FILE_MAX_BACKUPS (10) older files — Kafka's
// server.log with log4j's RollingFileAppender. Each component logs under
// its name (server, broker, controller, storage, ...), whose level can be
// changed at runtime as Kafka's broker loggers (kafka-configs.sh
// --entity-type broker-loggers). A bad value stops startup with its name.
func newLogger(getenv func(string) string) (*zap.Logger, func(), error) {
	level := zapcore.InfoLevel
	if s := getenv("SPOOL_LOG_LEVEL"); s != "" {
		if err := level.Set(s); err != nil {
			return nil, nil, fmt.Errorf("SPOOL_LOG_LEVEL=%q: want debug, info, warn or error", s)
		}
	}
	format := getenv("SPOOL_LOG_FORMAT")
	if format != "" && format != "console" && format != "json" {
		return nil, nil, fmt.Errorf("SPOOL_LOG_FORMAT=%q: want console or json", format)
	}
	var file *rotfile.File
	if path := getenv("SPOOL_LOG_FILE"); path != "" {
		maxBytes, backups := int64(100<<20), int64(10)
		for _, v := range []struct {
			name     string
			dst      *int64
			min, max int64
		}{{"SPOOL_LOG_FILE_MAX_BYTES", &maxBytes, 1024, 1 << 50}, {"SPOOL_LOG_FILE_MAX_BACKUPS", &backups, 1, 1000}} {
			if s := getenv(v.name); s != "" {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil || n < v.min || n > v.max {
					return nil, nil, fmt.Errorf("%s=%q: want a whole number from %d to %d", v.name, s, v.min, v.max)
				}
				*v.dst = n
			}
		}
		f, err := rotfile.Open(path, maxBytes, int(backups), 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("SPOOL_LOG_FILE: %w (create the directory or fix its permissions)", err)
		}
		file = f
	}
	var w io.Writer
	if file != nil {
		w = file
	}
	log, _ := logging.New(format, level, w)
	return log, func() {
		_ = log.Sync()
		if file != nil {
			_ = file.Close()
		}
	}, nil
}
