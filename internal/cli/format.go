package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/storage"
)

// randomUUID is a Kafka Uuid as its tools print one: 16 random bytes in
// URL-safe base64 without padding (22 characters).
func randomUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// validClusterID reports whether id parses as a Kafka Uuid.
func validClusterID(id string) bool {
	b, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil && len(b) == 16
}

// readMetaProperties parses a meta.properties file (nil, nil when absent).
func readMetaProperties(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// runFormat is kafka-storage.sh format: it writes meta.properties (cluster
// id, node id, a directory id) into every log dir and the metadata log dir
// of the node's configuration, so the node starts in the named cluster.
// `spool serve` formats an empty directory by itself; formatting ahead is
// what multi-node installs do, so every node agrees on the cluster id.
func runFormat(_ context.Context, e *Env, args []string) int {
	fs := newFlags(e, "format")
	cfgPath := fs.String("config", "", "the node's server.properties (its KAFKA_* variables are read too)")
	fs.StringVar(cfgPath, "c", "", "short for --config")
	clusterID := fs.String("cluster-id", "", "the cluster id (`spool format random-uuid` makes one); default: $CLUSTER_ID")
	fs.StringVar(clusterID, "t", "", "short for --cluster-id")
	ignore := fs.Bool("ignore-formatted", false, "succeed when a directory is already formatted for this cluster and node")
	fs.BoolVar(ignore, "g", false, "short for --ignore-formatted")
	var scram multi
	fs.Var(&scram, "add-scram", "SCRAM credential the new cluster starts with, as kafka-storage.sh: 'SCRAM-SHA-512=[name=admin,password=admin-secret]' (repeatable)")
	fs.Bool("standalone", false, "accepted for kafka-storage.sh compatibility; Spool bootstraps its quorum from controller.quorum.voters")
	pos, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(pos) == 1 && pos[0] == "random-uuid" {
		fmt.Fprintln(e.Stdout, randomUUID())
		return exitOK
	}
	if len(pos) > 0 {
		return fail(e, "format", usageErr(fmt.Errorf("unexpected argument %q: use `spool format random-uuid` or `spool format --config FILE --cluster-id ID`", pos[0])))
	}
	bootstrap, err := parseAddScrams(scram)
	if err != nil {
		return fail(e, "format", usageErr(err))
	}
	var environ []string
	if e.Environ != nil {
		environ = e.Environ()
	}
	if *cfgPath == "" && len(environ) == 0 {
		return fail(e, "format", usageErr(errors.New("--config FILE is required (the node's server.properties)")))
	}
	cfg, _, err := config.Load(*cfgPath, environ)
	if err != nil {
		return fail(e, "format", fmt.Errorf("read the node's configuration: %w", err))
	}
	id := *clusterID
	if id == "" {
		id = cfg.ClusterID
	}
	if id == "" {
		return fail(e, "format", usageErr(errors.New("--cluster-id is required: make one with `spool format random-uuid` and use the same id on every node")))
	}
	if !validClusterID(id) {
		return fail(e, "format", usageErr(fmt.Errorf("cluster id %q is not a Kafka Uuid (22 characters of URL-safe base64); make one with `spool format random-uuid`", id)))
	}
	dirs := slices.Clone(cfg.LogDirs)
	if cfg.MetadataLogDir != "" && !slices.Contains(dirs, cfg.MetadataLogDir) {
		dirs = append(dirs, cfg.MetadataLogDir)
	}
	if len(dirs) == 0 {
		return fail(e, "format", usageErr(errors.New("the configuration has no log.dirs: set log.dirs in the server.properties")))
	}
	var todo []string
	for _, dir := range dirs {
		path := filepath.Join(dir, "meta.properties")
		props, err := readMetaProperties(path)
		if err != nil {
			return fail(e, "format", fmt.Errorf("read %s: %w", path, err))
		}
		if props == nil {
			todo = append(todo, dir)
			continue
		}
		if props["cluster.id"] != id || props["node.id"] != strconv.Itoa(int(cfg.NodeID)) {
			return fail(e, "format", fmt.Errorf("log directory %s is already formatted for cluster %s node %s; "+
				"point log.dirs elsewhere, or remove its contents if the data is not needed", dir, props["cluster.id"], props["node.id"]))
		}
		if !*ignore {
			return fail(e, "format", fmt.Errorf("log directory %s is already formatted; use --ignore-formatted to ignore this directory and format the others", dir))
		}
		fmt.Fprintf(e.Stdout, "%s: already formatted for cluster %s\n", dir, id)
	}
	if len(bootstrap) > 0 {
		// The metadata log dir holds the bootstrap file the first
		// controller leader commits (Kafka's bootstrap.checkpoint).
		meta := metadataLogDir(cfg)
		if !slices.Contains(todo, meta) {
			return fail(e, "format", fmt.Errorf("--add-scram: the metadata log directory %s is already formatted; "+
				"create credentials with kafka-configs.sh --alter --entity-type users --add-config 'SCRAM-SHA-512=[...]'", meta))
		}
		if err := os.MkdirAll(meta, 0o755); err != nil {
			return fail(e, "format", fmt.Errorf("create %s: %w", meta, err))
		}
		if err := controller.WriteBootstrap(meta, bootstrap); err != nil {
			return fail(e, "format", err)
		}
	}
	for _, dir := range todo {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(e, "format", fmt.Errorf("create %s: %w", dir, err))
		}
		if err := storage.WriteMetaProperties(dir, id, randomUUID(), cfg.NodeID); err != nil {
			return fail(e, "format", err)
		}
		fmt.Fprintf(e.Stdout, "Formatting %s with metadata.version for cluster %s, node %d.\n", dir, id, cfg.NodeID)
	}
	return exitOK
}
