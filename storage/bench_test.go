package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func benchLog(b *testing.B) *Log {
	cfg := DefaultConfig()
	cfg.SegmentMs = 1 << 62
	l, err := OpenLog(filepath.Join(b.TempDir(), "bench-0"), cfg, OpenOptions{CleanShutdown: true}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			l := benchLog(b)
			batch := makeBatch(100, testEpochMs, size-61)
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				if _, err := l.Append(batch, 1, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	for _, tc := range []struct{ batchBytes, batches, maxBytes int }{
		{1 << 10, 4096, 64 << 10},
		{1 << 10, 4096, 1 << 20},
		{256 << 10, 128, 8 << 20}, // a consumer catching up on big producer batches
	} {
		maxBytes := tc.maxBytes
		b.Run(fmt.Sprintf("batch-%dKiB/regions-%dKiB", tc.batchBytes>>10, maxBytes>>10), func(b *testing.B) {
			l := benchLog(b)
			batch := makeBatch(10, testEpochMs, tc.batchBytes)
			for range tc.batches {
				if _, err := l.Append(batch, 1, nil); err != nil {
					b.Fatal(err)
				}
			}
			leo := l.LogEndOffset()
			b.ReportAllocs()
			b.SetBytes(int64(maxBytes))
			var off int64
			for b.Loop() {
				r, err := l.Read(off, maxBytes, -1, true)
				if err != nil {
					b.Fatal(err)
				}
				off = (off + 7919) % (leo * 3 / 4)
				_ = r
			}
		})
	}
}

func BenchmarkIndexLookup(b *testing.B) {
	l := benchLog(b)
	cfg := l.Config()
	cfg.IndexIntervalBytes = 0
	_ = l.SetConfig(cfg)
	batch := makeBatch(1, testEpochMs, 100)
	for range 100_000 {
		if _, err := l.Append(batch, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
	s := l.Segments()[0]
	b.ReportAllocs()
	var off int64
	for b.Loop() {
		_ = s.offsetIndex.lookup(off)
		off = (off + 7919) % 100_000
	}
}

// BenchmarkGetOrCreateLog creates partition logs one at a time and from 8
// goroutines (as the broker does for a metadata image that brings many):
//
//	go test -run '^$' -bench GetOrCreateLog -benchtime 2000x ./storage/
func BenchmarkGetOrCreateLog(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			m, err := NewManager(ManagerConfig{Dirs: []string{b.TempDir()}, Default: DefaultConfig()}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			next := make(chan int)
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						if _, err := m.GetOrCreateLog(TopicPartition{"bench", int32(i)}, nil); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			i := 0
			for b.Loop() {
				next <- i
				i++
			}
			close(next)
			wg.Wait()
		})
	}
}

// BenchmarkRestartIdleLogs is a broker restart's storage part with many
// idle partitions: each iteration opens a manager over logs (created once,
// empty, closed cleanly) and closes it again, logging at info level as a
// broker does. SPOOL_BENCH_LOGS sets the count (10000):
//
//	SPOOL_BENCH_LOGS=100000 go test -run '^$' -bench RestartIdleLogs -benchtime 3x -cpuprofile cpu.out ./storage/
func BenchmarkRestartIdleLogs(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("SPOOL_BENCH_LOGS")); err == nil && v > 0 {
		n = v
	}
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel))
	cfg := ManagerConfig{Dirs: []string{b.TempDir()}, Default: DefaultConfig(), RecoveryThreadsPerDir: benchThreads()}
	m, err := NewManager(cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := m.GetOrCreateLog(TopicPartition{fmt.Sprintf("bench%03d", i/1000), int32(i % 1000)}, nil); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	// The process's CPU time (user+system) is reported besides the wall
	// time: on a shared machine the wall time mostly measures the load.
	var open, closing, openCPU, closeCPU time.Duration
	for b.Loop() {
		start, cpu := time.Now(), processCPU(b)
		m, err := NewManager(cfg, logger)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(m.Logs()); got != n {
			b.Fatalf("%d logs loaded, want %d", got, n)
		}
		open += time.Since(start)
		openCPU += processCPU(b) - cpu
		start, cpu = time.Now(), processCPU(b)
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		closing += time.Since(start)
		closeCPU += processCPU(b) - cpu
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "open-ms/op")
	b.ReportMetric(float64(openCPU.Milliseconds())/float64(b.N), "open-cpu-ms/op")
	b.ReportMetric(float64(closing.Milliseconds())/float64(b.N), "close-ms/op")
	b.ReportMetric(float64(closeCPU.Milliseconds())/float64(b.N), "close-cpu-ms/op")
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchThreads is SPOOL_BENCH_THREADS (2, Kafka's default
// num.recovery.threads.per.data.dir).
func benchThreads() int {
	if v, err := strconv.Atoi(os.Getenv("SPOOL_BENCH_THREADS")); err == nil && v > 0 {
		return v
	}
	return 2
}
