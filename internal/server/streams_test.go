package server

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJavaStreamsWordCountEOS runs the compatibility matrix's Kafka Streams
// 4.3.1 word count (test/compat/java/WordCount.java) with
// processing.guarantee=exactly_once_v2 against Spool: it produces 500 lines,
// runs the topology, and exits non-zero unless the output topic, read with
// read_committed, ends at exactly the expected counts.
func TestJavaStreamsWordCountEOS(t *testing.T) {
	lib := filepath.Join(compatCache(t), "java", "lib-4.3.1")
	tool(t, filepath.Join(lib, "kafka-streams-4.3.1.jar"))
	javac, java := tool(t, "javac"), tool(t, "java")
	classes := t.TempDir()
	src := filepath.Join(repoRoot(t), "test", "compat", "java", "WordCount.java")
	cp := lib + "/*"
	out, err := exec.Command(javac, "-nowarn", "-encoding", "UTF-8", "-cp", cp, "-d", classes, src).CombinedOutput()
	require.NoError(t, err, "javac: %s", out)

	node := startTestNode(t)
	res := run(t, "", java, "-Xmx512m", "-XX:+UseSerialGC", "-cp", classes+":"+cp, "WordCount", node.addr, "words", "500", t.TempDir())
	require.Contains(t, res, "wordcount: 500 lines, final counts")
}

// TestJavaStreamsWordCountStreamsProtocol runs the same word count with
// group.protocol=streams (KIP-1071): the broker assigns the tasks and
// creates the repartition and changelog topics, and WordCount checks the
// group through Admin#describeStreamsGroups before it leaves.
func TestJavaStreamsWordCountStreamsProtocol(t *testing.T) {
	lib := filepath.Join(compatCache(t), "java", "lib-4.3.1")
	tool(t, filepath.Join(lib, "kafka-streams-4.3.1.jar"))
	javac, java := tool(t, "javac"), tool(t, "java")
	classes := t.TempDir()
	src := filepath.Join(repoRoot(t), "test", "compat", "java", "WordCount.java")
	cp := lib + "/*"
	out, err := exec.Command(javac, "-nowarn", "-encoding", "UTF-8", "-cp", cp, "-d", classes, src).CombinedOutput()
	require.NoError(t, err, "javac: %s", out)

	node := startTestNode(t)
	res := run(t, "", java, "-Xmx512m", "-XX:+UseSerialGC", "-cp", classes+":"+cp, "WordCount", node.addr, "words", "500", t.TempDir(), "streams")
	require.Contains(t, res, "streams group words-app: Stable, 1 member(s), 2 subtopologies, active tasks [0_0, 1_0]")
	require.Contains(t, res, "wordcount: 500 lines, final counts")
}
