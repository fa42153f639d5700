package spooltest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// KafkaSerde names one of Kafka 4.3.1's coordinator record serdes and the
// jars (besides kafka-clients, coordinator-common, server-common and
// slf4j-api) it needs.
type KafkaSerde struct {
	Class string
	Jars  []string
}

var (
	// GroupRecordSerde reads __consumer_offsets records.
	GroupRecordSerde = KafkaSerde{Class: "org.apache.kafka.coordinator.group.GroupCoordinatorRecordSerde",
		Jars: []string{"kafka-group-coordinator-4.3.1.jar", "kafka-group-coordinator-api-4.3.1.jar"}}
	// ShareRecordSerde reads __share_group_state records.
	ShareRecordSerde = KafkaSerde{Class: "org.apache.kafka.coordinator.share.ShareCoordinatorRecordSerde",
		Jars: []string{"kafka-share-coordinator-4.3.1.jar"}}
)

// RequireKafkaReadsAsWritten runs Kafka 4.3.1's own record serde
// (testdata/KafkaRecordSerde.java) over recs, each a key and a value (nil
// for a tombstone): Kafka must read each one and write it back byte for
// byte, so a log moves between Spool and Kafka either way. It needs a JDK
// and the Kafka 4.3.1 jars of test/compat/install.sh, and fails when they
// are missing. It returns how Kafka prints each record.
func RequireKafkaReadsAsWritten(t *testing.T, serde KafkaSerde, recs [][2][]byte) []string {
	t.Helper()
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		require.NoError(t, err)
		cache = filepath.Join(home, ".cache", "spool-compat")
	}
	lib := filepath.Join(cache, "java", "lib-4.3.1")
	var cp []string
	for _, pattern := range append([]string{"kafka-clients-4.3.1.jar", "kafka-coordinator-common-4.3.1.jar",
		"kafka-server-common-4.3.1.jar", "slf4j-api-*.jar"}, serde.Jars...) {
		jars, _ := filepath.Glob(filepath.Join(lib, pattern))
		require.NotEmpty(t, jars, "%s not in %s: run test/compat/install.sh (make test-deps)", pattern, lib)
		cp = append(cp, jars...)
	}
	java, err := exec.LookPath("java")
	require.NoError(t, err, "java is not installed: run test/compat/install.sh")
	_, self, _, ok := runtime.Caller(0)
	require.True(t, ok)
	src := filepath.Join(filepath.Dir(self), "testdata", "KafkaRecordSerde.java")

	var in bytes.Buffer
	for _, r := range recs {
		fmt.Fprintf(&in, "%s %s\n", hex.EncodeToString(r[0]), hexOrDash(r[1]))
	}
	cmd := exec.Command(java, "-cp", strings.Join(cp, string(os.PathListSeparator)), src, serde.Class)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, len(recs))
	descs := make([]string, len(lines))
	for i, line := range lines {
		got, desc, _ := strings.Cut(line, "\t")
		require.Equal(t, hex.EncodeToString(recs[i][0])+" "+hexOrDash(recs[i][1]), got, "record %d as Kafka reads it: %s", i, desc)
		descs[i] = desc
	}
	return descs
}

func hexOrDash(b []byte) string {
	if b == nil {
		return "-"
	}
	return hex.EncodeToString(b)
}
