package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// BenchmarkFetchTransfer measures the two ways a fetch can move segment bytes
// to a socket: sendfile(2) from the page cache, or pread into a pooled
// buffer and write(2). On a 2-core VM over loopback the two move bytes about
// equally fast here (the receiver in the same process is the bottleneck),
// but sendfile spends far less broker CPU, which a real consumer on the
// same machine gets back: the writer (response.go) sends records with
// sendfile on TCP connections and uses pread+write where it cannot (net.Pipe,
// TLS) and for regions under sendfileMinBytes. Re-measure with:
//
//	go test -run '^$' -bench FetchTransfer -benchtime 2s -count 3 ./internal/server/
func BenchmarkFetchTransfer(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run("sendfile/"+sizeName(size), func(b *testing.B) { benchTransfer(b, size, sendfileChunk) })
		b.Run("pread+write/"+sizeName(size), func(b *testing.B) { benchTransfer(b, size, preadWriteChunk) })
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return itoa(n>>20) + "MiB"
	}
	return itoa(n>>10) + "KiB"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

const transferFileSize = 64 << 20

func benchTransfer(b *testing.B, chunk int, send func(f *os.File, c *net.TCPConn, off int64, n int, buf []byte) error) {
	f, err := os.CreateTemp(b.TempDir(), "segment")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, transferFileSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if _, err := f.Write(data); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c := nc.(*net.TCPConn)
	buf := make([]byte, chunk)
	b.SetBytes(int64(chunk))
	b.ResetTimer()
	off := int64(0)
	for i := 0; i < b.N; i++ {
		if err := send(f, c, off, chunk, buf); err != nil {
			b.Fatal(err)
		}
		if off += int64(chunk); off+int64(chunk) > transferFileSize {
			off = 0
		}
	}
	b.StopTimer()
	c.Close()
	<-done
}

func sendfileChunk(f *os.File, c *net.TCPConn, off int64, n int, _ []byte) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	fd := int(f.Fd())
	for n > 0 {
		var w int
		var serr error
		if err := rc.Write(func(s uintptr) bool {
			w, serr = syscall.Sendfile(int(s), fd, &off, n)
			return serr != syscall.EAGAIN
		}); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
		n -= w
	}
	return nil
}

func preadWriteChunk(f *os.File, c *net.TCPConn, off int64, n int, buf []byte) error {
	if _, err := f.ReadAt(buf[:n], off); err != nil {
		return err
	}
	_, err := c.Write(buf[:n])
	return err
}
