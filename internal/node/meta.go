package node

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/storage"
)

// ensureMetaProperties reads or writes meta.properties in every log dir, as
// Kafka's storage format step does, and returns the cluster id. A dir that
// belongs to another cluster or node is refused. generated reports a new
// random cluster id: neither configured nor found on disk.
func ensureMetaProperties(cfg *config.Broker) (clusterID string, generated bool, err error) {
	clusterID = cfg.ClusterID
	var found []string
	for _, dir := range cfg.LogDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", false, fmt.Errorf("create log dir %s: %w", dir, err)
		}
		props, err := readProps(filepath.Join(dir, "meta.properties"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", false, fmt.Errorf("read %s: %w", filepath.Join(dir, "meta.properties"), err)
		}
		id := props["cluster.id"]
		if clusterID != "" && id != "" && id != clusterID {
			return "", false, fmt.Errorf("log dir %s belongs to cluster %s, not %s: point log.dirs elsewhere or unset CLUSTER_ID", dir, id, clusterID)
		}
		if nid := props["node.id"]; nid != "" && nid != strconv.Itoa(int(cfg.NodeID)) {
			return "", false, fmt.Errorf("log dir %s belongs to node %s, not %d: point log.dirs elsewhere or fix node.id", dir, nid, cfg.NodeID)
		}
		if id != "" {
			clusterID = id
			found = append(found, dir)
		}
	}
	if clusterID == "" {
		clusterID = randomUUID()
		generated = true
	}
	for _, dir := range cfg.LogDirs {
		if slices.Contains(found, dir) {
			continue
		}
		if err := storage.WriteMetaProperties(dir, clusterID, randomUUID(), cfg.NodeID); err != nil {
			return "", false, err
		}
	}
	return clusterID, generated, nil
}

// randomUUID is a new random ID as Kafka's Uuid.randomUuid and
// DirectoryId.random print it: never one of the reserved IDs (the first
// 100) nor one starting with '-', which command-line tools would take for
// an option (kafka-metadata-quorum remove-controller --controller-directory-id).
func randomUUID() string {
	for {
		var u [16]byte
		_, _ = rand.Read(u[:])
		reserved := true
		for _, b := range u[:15] {
			reserved = reserved && b == 0
		}
		s := base64.RawURLEncoding.EncodeToString(u[:])
		if !(reserved && u[15] < 100) && s[0] != '-' {
			return s
		}
	}
}

func readProps(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, sc.Err()
}
