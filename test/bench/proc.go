package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat; it is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds reads utime+stime of pid from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// comm may contain spaces; the fields we want follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat of %d: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state(3) ... utime is field 14, stime 15 (1-based over the whole line).
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat of %d: short", pid)
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / clockTicks, nil
}

// rssMiB reads VmRSS from /proc/<pid>/status.
func rssMiB(pid int) (float64, error) { return statusMiB(pid, "VmRSS") }

// peakRSSMiB is the process's peak resident set (VmHWM) in MiB.
func peakRSSMiB(pid int) (float64, error) { return statusMiB(pid, "VmHWM") }

// statusMiB reads a kB field of /proc/<pid>/status in MiB.
func statusMiB(pid int, field string) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s for %d", field, pid)
}

// openFiles counts /proc/<pid>/fd.
func openFiles(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// ProcStats is what the sampler saw of the broker during one scenario.
type ProcStats struct {
	CPUSeconds float64 `json:"cpu_s"`
	WallS      float64 `json:"wall_s"`
	MaxRSSMiB  float64 `json:"max_rss_mib"`
	EndRSSMiB  float64 `json:"end_rss_mib"`
	OpenFiles  int     `json:"open_files"`
}

// Sampler samples a process every 200 ms between Start and Stop.
type Sampler struct {
	pid    int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cpu0   float64
	start  time.Time
	mu     sync.Mutex
	maxRSS float64
}

func StartSampler(ctx context.Context, pid int) *Sampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &Sampler{pid: pid, cancel: cancel, start: time.Now()}
	s.cpu0, _ = cpuSeconds(pid)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *Sampler) sample() {
	if r, err := rssMiB(s.pid); err == nil {
		s.mu.Lock()
		s.maxRSS = max(s.maxRSS, r)
		s.mu.Unlock()
	}
}

func (s *Sampler) Stop() ProcStats {
	s.cancel()
	s.wg.Wait()
	s.sample()
	cpu1, _ := cpuSeconds(s.pid)
	end, _ := rssMiB(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	return ProcStats{
		CPUSeconds: cpu1 - s.cpu0,
		WallS:      time.Since(s.start).Seconds(),
		MaxRSSMiB:  s.maxRSS,
		EndRSSMiB:  end,
		OpenFiles:  openFiles(s.pid),
	}
}
