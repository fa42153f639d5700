package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tcpRecv listens on 127.0.0.1:0, prints the port, reads one connection to EOF
// and prints the bytes received.
func tcpRecv() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	n, err := io.CopyBuffer(io.Discard, conn, make([]byte, 1<<20))
	if err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}

// tcpSend writes 64 KiB chunks to addr for d.
func tcpSend(addr string, d time.Duration) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := conn.Write(buf); err != nil {
			return err
		}
	}
	return conn.Close()
}

// LoopbackMBPerS measures loopback TCP between two processes: the receiver is
// pinned like a broker, the sender like the load generator (this process).
func LoopbackMBPerS(self, recvCPUs string, d time.Duration) (float64, error) {
	args := []string{self, "tcp-recv"}
	if recvCPUs != "" {
		if _, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"taskset", "-c", recvCPUs}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait()
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("tcp-recv: %w", err)
	}
	start := time.Now()
	if err := tcpSend("127.0.0.1:"+strings.TrimSpace(line), d); err != nil {
		return 0, err
	}
	line, err = r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("tcp-recv result: %w", err)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
	if err != nil {
		return 0, err
	}
	return n / time.Since(start).Seconds() / 1e6, nil
}

// FsyncMBPerS writes 1 MiB chunks into dir, each followed by fdatasync, for d.
func FsyncMBPerS(dir string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "bench-fsync-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		binary.LittleEndian.PutUint32(buf[i&^3:], uint32(i*2654435761))
	}
	var n int64
	start := time.Now()
	for time.Since(start) < d {
		w, err := f.Write(buf)
		if err != nil {
			return 0, err
		}
		n += int64(w)
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return 0, err
		}
		if n%(2<<30) == 0 { // keep the file small: start over at 2 GiB
			if _, err := f.Seek(0, 0); err != nil {
				return 0, err
			}
		}
	}
	return float64(n) / time.Since(start).Seconds() / 1e6, nil
}

func tempRoot() string {
	if d := os.Getenv("TMPDIR"); d != "" {
		return d
	}
	return filepath.Clean(os.TempDir())
}
