// Package spooltest runs real `spool serve` processes for tests that need a
// broker as a separate process: one that can be killed, probed over HTTP,
// or watched through its systemd notifications. Only tests import it.
//
// Build compiles cmd/spool once per test binary; Start runs it on free
// loopback ports with a single-node KRaft configuration and waits until it
// accepts connections. Processes are killed in t.Cleanup.
package spooltest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// repoRoot is the module root, found from this file's path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build compiles cmd/spool (without -race: the broker is the system under
// test, not the test) and returns the binary's path.
func Build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spooltest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "spool")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/spool")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/spool: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

var (
	portsMu sync.Mutex
	// portsGiven holds every port FreePort returned in this process. The
	// kernel may hand a port it just released to the next bind, so two
	// calls in a row (a client and a controller listener) could otherwise
	// return the same one (TestFormat saw it under load).
	portsGiven = map[int]bool{}
)

// FreePort returns a loopback port nothing listens on right now and that
// no earlier call in this test process returned. Another process may still
// take it before the caller binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("spooltest: 100 listens in a row got ports already handed out")
	return 0
}

// Options adjust a started broker.
type Options struct {
	Dir      string   // data and config directory; default t.TempDir()
	Env      []string // extra environment (e.g. NOTIFY_SOCKET=...)
	HTTP     bool     // serve SPOOL_HTTP_ADDR on a free port
	NodeID   int      // default 1
	Port     int      // client port; default a free one (reuse it to restart on the same address)
	CtrlPort int      // controller port; default a free one
}

// Broker is a running `spool serve` process.
type Broker struct {
	Addr     string // client listener, 127.0.0.1:port
	HTTPAddr string // SPOOL_HTTP_ADDR when Options.HTTP
	Dir      string
	Config   string // the server.properties path
	Port     int
	CtrlPort int
	cmd      *exec.Cmd
	out      *syncBuffer
	done     chan struct{}
	waitErr  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Properties writes a single-node combined-mode server.properties.
func Properties(dir string, nodeID, port, ctrlPort int) string {
	return fmt.Sprintf(`process.roles=broker,controller
node.id=%d
controller.quorum.voters=%d@127.0.0.1:%d
listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d
advertised.listeners=PLAINTEXT://127.0.0.1:%d
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=%s
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
`, nodeID, nodeID, ctrlPort, port, ctrlPort, port, filepath.Join(dir, "data"))
}

// Start runs a broker and waits (up to 60 s) until its client port accepts
// connections.
func Start(t testing.TB, o Options) *Broker {
	t.Helper()
	bin := Build(t)
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.NodeID == 0 {
		o.NodeID = 1
	}
	if o.Port == 0 {
		o.Port = FreePort(t)
	}
	if o.CtrlPort == 0 {
		o.CtrlPort = FreePort(t)
	}
	b := &Broker{Dir: o.Dir, Port: o.Port, CtrlPort: o.CtrlPort, Addr: fmt.Sprintf("127.0.0.1:%d", o.Port), out: &syncBuffer{}, done: make(chan struct{})}
	b.Config = filepath.Join(o.Dir, "server.properties")
	if err := os.WriteFile(b.Config, []byte(Properties(o.Dir, o.NodeID, o.Port, o.CtrlPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(bin, "serve", b.Config)
	b.cmd.Env = append(os.Environ(), "SPOOL_LOG_FORMAT=console")
	if o.HTTP {
		b.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		b.cmd.Env = append(b.cmd.Env, "SPOOL_HTTP_ADDR="+b.HTTPAddr)
	}
	b.cmd.Env = append(b.cmd.Env, o.Env...)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.waitErr = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		b.Kill()
		if t.Failed() {
			t.Logf("spool serve output (%s):\n%s", b.Addr, tail(b.out.String(), 40))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-b.done:
			t.Fatalf("spool serve exited during startup: %v\n%s", b.waitErr, b.out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr, time.Second); err == nil {
			c.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool serve did not listen on %s within 60s\n%s", b.Addr, b.out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling the listener, not waiting for a guessed state
	}
}

// Kill stops the process with SIGKILL (a crash) and waits for it.
func (b *Broker) Kill() {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
	}
	<-b.done
}

// Stop sends SIGTERM (a clean shutdown) and waits up to 60 s.
func (b *Broker) Stop(t testing.TB) error {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		return b.waitErr
	case <-time.After(60 * time.Second):
		t.Fatalf("spool serve did not stop within 60s after SIGTERM")
		return nil
	}
}

// Output is what the process logged so far.
func (b *Broker) Output() string { return b.out.String() }

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
