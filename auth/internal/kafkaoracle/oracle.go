// Package kafkaoracle runs Kafka 4.3.1's own classes as a test oracle for
// the auth packages: the JAAS parser, X500Principal.getName, the SSL
// principal mapper, StandardAuthorizer, AclControlManager's validation,
// ACL binding filters and the Java SCRAM client. Tests compare Spool's
// answers with Kafka's on the same inputs, so "as Kafka" is checked against
// Kafka rather than against a reading of its source.
//
// It needs a JDK (javac, java) and the Kafka 4.3.1 jars that
// test/compat/install.sh puts in ~/.cache/spool-compat/java/lib-4.3.1
// ($COMPAT_CACHE overrides ~/.cache/spool-compat). A test that needs the
// oracle fails, never skips, when they are missing.
//
// Oracle.java is compiled once per source version into
// ~/.cache/spool/kafkaoracle/<hash>; each Start runs one java process that
// answers requests line by line. An Oracle is safe for concurrent use.
package kafkaoracle

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

//go:embed Oracle.java
var source []byte

// Oracle is a running oracle process.
type Oracle struct {
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Reader
}

// ErrKafka is a Kafka exception, its message as the error text.
type ErrKafka struct{ Message string }

func (e *ErrKafka) Error() string { return e.Message }

// LibDir is the directory of the Kafka 4.3.1 jars.
func LibDir() (string, error) {
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "spool-compat")
	}
	dir := filepath.Join(cache, "java", "lib-4.3.1")
	if _, err := os.Stat(filepath.Join(dir, "kafka-clients-4.3.1.jar")); err != nil {
		return "", fmt.Errorf("kafka 4.3.1 jars not found in %s: run test/compat/install.sh (make test-deps): %w", dir, err)
	}
	return dir, nil
}

// classpath is the Kafka jars, the libraries the oracle's classes need,
// and slf4j's API without a logging backend (so nothing logs to stdout).
func classpath(lib string) (string, error) {
	jars, err := filepath.Glob(filepath.Join(lib, "kafka-*.jar"))
	if err != nil {
		return "", err
	}
	for _, dep := range []string{"slf4j-api-*.jar", "pcollections-*.jar", "jose4j-*.jar", "jackson-core-*.jar", "jackson-databind-*.jar", "jackson-annotations-*.jar"} {
		more, _ := filepath.Glob(filepath.Join(lib, dep))
		jars = append(jars, more...)
	}
	return strings.Join(jars, string(os.PathListSeparator)), nil
}

var compileMu sync.Mutex

// compile builds Oracle.java into the cache unless it is there already.
func compile(cp string) (string, error) {
	compileMu.Lock()
	defer compileMu.Unlock()
	javac, err := exec.LookPath("javac")
	if err != nil {
		return "", fmt.Errorf("javac not found (install a JDK; make test-deps): %w", err)
	}
	sum := sha256.Sum256(append(append([]byte(nil), source...), cp...))
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "spool", "kafkaoracle", hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "Oracle.class")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return "", err
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dir), ".build-"); err != nil {
			return "", err
		}
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "Oracle.java")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", err
	}
	if out, err := exec.Command(javac, "-nowarn", "-cp", cp, "-d", tmp, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("javac Oracle.java: %v\n%s", err, out)
	}
	if err := os.Remove(src); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(dir, "Oracle.class")); statErr != nil {
			return "", err
		}
	}
	return dir, nil
}

// Start compiles (if needed) and starts an oracle for the test; it stops
// when the test ends. Missing tools fail the test.
func Start(t testing.TB) *Oracle {
	t.Helper()
	lib, err := LibDir()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := classpath(lib)
	if err != nil {
		t.Fatal(err)
	}
	classes, err := compile(cp)
	if err != nil {
		t.Fatal(err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (install a JDK; make test-deps): %v", err)
	}
	cmd := exec.Command(java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", classes+string(os.PathListSeparator)+cp, "Oracle")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Close()
		if err := cmd.Wait(); err != nil {
			t.Logf("oracle exited: %v\n%s", err, stderr.String())
		}
	})
	return &Oracle{in: in, out: bufio.NewReaderSize(outPipe, 1<<16)}
}

// Call sends a command and returns Kafka's answer, or *ErrKafka with the
// message of the exception Kafka threw. Other errors mean the oracle broke.
func (o *Oracle) Call(cmd string, args ...string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var sb strings.Builder
	sb.WriteString(cmd)
	for _, a := range args {
		sb.WriteByte('\t')
		sb.WriteString(base64.StdEncoding.EncodeToString([]byte(a)))
	}
	sb.WriteByte('\n')
	if _, err := io.WriteString(o.in, sb.String()); err != nil {
		return "", fmt.Errorf("kafkaoracle: write: %w", err)
	}
	for {
		line, err := o.out.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("kafkaoracle: read: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		status, payload, ok := strings.Cut(line, "\t")
		if !ok || !strings.HasPrefix(status, "@@") {
			continue // logging noise
		}
		b, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return "", fmt.Errorf("kafkaoracle: bad payload %q: %w", payload, err)
		}
		if status == "@@ERR" {
			return "", &ErrKafka{Message: string(b)}
		}
		return string(b), nil
	}
}

// Null is the argument Oracle.java reads as a Java null (nullable filter
// fields).
const Null = "\x00null"

// MustCall is Call that fails the test on an oracle breakdown (not on a
// Kafka exception, which it returns).
func (o *Oracle) MustCall(t testing.TB, cmd string, args ...string) (string, *ErrKafka) {
	t.Helper()
	out, err := o.Call(cmd, args...)
	var ke *ErrKafka
	if errors.As(err, &ke) {
		return "", ke
	}
	if err != nil {
		t.Fatal(err)
	}
	return out, nil
}
