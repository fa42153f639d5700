package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker is one single-node broker under test, run as a child process pinned
// to BrokerCPUs. Its data directory is fresh on Start and removed on Stop.
type Broker struct {
	Name       string // "spool" or "kafka"
	Repo       string // repository root
	Port       int
	Controller int
	BrokerCPUs string // taskset list; "" = no pinning
	OutDir     string

	dir string // data directory (Spool) or the compat harness's run directory (Kafka)
	cmd *exec.Cmd
	pid int
}

func (b *Broker) Bootstrap() string { return fmt.Sprintf("127.0.0.1:%d", b.Port) }

// Pid is the broker's process (the JVM for Kafka).
func (b *Broker) Pid() int { return b.pid }

func (b *Broker) taskset(args []string) []string {
	if b.BrokerCPUs == "" {
		return args
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return args
	}
	return append([]string{"taskset", "-c", b.BrokerCPUs}, args...)
}

// Start starts the broker on fresh storage and returns the time from launch to
// ready. For Kafka that includes formatting storage (a JVM of its own).
func (b *Broker) Start(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	switch b.Name {
	case "spool":
		d, err := os.MkdirTemp("", "bench-spool-")
		if err != nil {
			return 0, err
		}
		b.dir = d
		if err := b.launchSpool(); err != nil {
			return 0, err
		}
	case "kafka":
		d, err := os.MkdirTemp("", "bench-kafka-run-")
		if err != nil {
			return 0, err
		}
		b.dir = d
		// test/compat/lib/kafka.sh formats fresh storage, starts kafka.Kafka (-Xmx1g)
		// and waits for "Kafka Server started".
		args := b.taskset([]string{filepath.Join(b.Repo, "test/compat/lib/kafka.sh"), "start", "bench",
			strconv.Itoa(b.Port), strconv.Itoa(b.Controller)})
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "COMPAT_RUN="+b.dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("kafka.sh start: %w: %s", err, out)
		}
		pid, err := readPid(filepath.Join(b.dir, "bench.pid"))
		if err != nil {
			return 0, err
		}
		b.pid = pid
	}
	if err := b.waitReady(ctx, nil); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func readPid(path string) (int, error) {
	s, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(s)))
}

func (b *Broker) logFile() (*os.File, error) {
	return os.OpenFile(filepath.Join(b.OutDir, b.Name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
}

func (b *Broker) launchSpool() error {
	args := b.taskset([]string{filepath.Join(b.Repo, "bin/spool"), "serve"})
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", b.Port, b.Controller),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:%d", b.Port),
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", b.Controller),
		"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER", "KAFKA_LOG_DIRS="+b.dir,
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1")
	lf, err := b.logFile()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	lf.Close()
	b.cmd, b.pid = cmd, cmd.Process.Pid
	return nil
}

// launchKafkaAgain restarts kafka.Kafka on the storage kafka.sh formatted, the way
// kafka.sh starts it (test/bench/kafka-java.sh sources the harness's env.sh).
func (b *Broker) launchKafkaAgain() error {
	dataDir, err := os.ReadFile(filepath.Join(b.dir, "bench.dir"))
	if err != nil {
		return err
	}
	props := filepath.Join(strings.TrimSpace(string(dataDir)), "server.properties")
	args := b.taskset([]string{filepath.Join(b.Repo, "test/bench/kafka-java.sh"), "kafka.Kafka", props})
	cmd := exec.Command(args[0], args[1:]...)
	lf, err := b.logFile()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	lf.Close()
	// kafka-java.sh execs java (through taskset, which execs too), so the pid is the JVM's.
	b.cmd, b.pid = cmd, cmd.Process.Pid
	return os.WriteFile(filepath.Join(b.dir, "bench.pid"), []byte(strconv.Itoa(b.pid)), 0o644)
}

// terminate sends SIGTERM and waits for a clean exit (SIGKILL after 60 s).
func (b *Broker) terminate() {
	if b.pid == 0 {
		return
	}
	p, err := os.FindProcess(b.pid)
	if err == nil {
		_ = p.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if b.cmd != nil {
			_ = b.cmd.Wait()
			return
		}
		for syscall.Kill(b.pid, 0) == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(b.pid, syscall.SIGKILL)
		<-done
	}
	b.cmd, b.pid = nil, 0
}

// Restart stops the broker cleanly, starts it on the same storage and returns
// the time from launch until every partition of topics has a leader and a
// produce to topics[len-1] succeeds.
func (b *Broker) Restart(ctx context.Context, topics []string) (time.Duration, error) {
	b.terminate()
	start := time.Now()
	var err error
	if b.Name == "spool" {
		err = b.launchSpool()
	} else {
		err = b.launchKafkaAgain()
	}
	if err != nil {
		return 0, err
	}
	if err := b.waitReady(ctx, topics); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// waitReady polls until the broker answers Metadata (and, with topics, until
// those are writable).
func (b *Broker) waitReady(ctx context.Context, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		if err := b.alive(); err != nil {
			return err
		}
		err := b.probe(ctx, topics)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", b.Name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (b *Broker) alive() error {
	if b.pid == 0 || syscall.Kill(b.pid, 0) != nil {
		return fmt.Errorf("%s exited; see %s", b.Name, filepath.Join(b.OutDir, b.Name+".log"))
	}
	return nil
}

func (b *Broker) probe(ctx context.Context, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Bootstrap()), kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RetryTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return err
	}
	if len(brokers) == 0 {
		return errors.New("no brokers in metadata")
	}
	if len(topics) == 0 {
		return nil
	}
	if err := waitLeaders(ctx, adm, topics); err != nil {
		return err
	}
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topics[len(topics)-1], Value: []byte("ready?")}).FirstErr()
}

// Stop stops the broker and removes its storage.
func (b *Broker) Stop() {
	b.terminate()
	switch b.Name {
	case "spool":
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	case "kafka":
		if b.dir != "" {
			cmd := exec.Command(filepath.Join(b.Repo, "test/compat/lib/kafka.sh"), "stop", "bench")
			cmd.Env = append(os.Environ(), "COMPAT_RUN="+b.dir)
			_ = cmd.Run()
			os.RemoveAll(b.dir)
		}
	}
	b.dir = ""
}
