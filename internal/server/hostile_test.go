package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// frame prefixes body with its size.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// requestHeader is a v1 request header (key, version, correlation id, client id).
func requestHeader(key, version int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	return append(b, "test"...)
}

// expectClosed checks the broker closes the connection (reads hit EOF or
// reset) within a few seconds, without answering garbage.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	for {
		_, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if ok := errorAs(err, &ne); ok && ne.Timeout() {
				t.Fatalf("connection still open after hostile input")
			}
			return
		}
	}
}

func errorAs(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

// TestHostileInput throws malformed input at the broker; each bad connection
// is closed and a normal client keeps producing and consuming throughout.
func TestHostileInput(t *testing.T) {
	n := startTestNode(t, "KAFKA_SOCKET_REQUEST_MAX_BYTES=1048576")
	createTopic(t, n.addr, "safe", 1, nil)
	good := newClient(t, n.addr, kgo.DefaultProduceTopic("safe"))
	ctx := context.Background()
	check := func() {
		t.Helper()
		require.NoError(t, good.ProduceSync(ctx, &kgo.Record{Value: []byte("still here")}).FirstErr())
	}
	check()

	hugeArray := append(requestHeader(3, 1, 7), 0x7f, 0xff, 0xff, 0xff) // Metadata v1, 2^31-1 topics
	truncated := requestHeader(0, 9, 8)[:5]
	apiVersionsV3 := append(requestHeader(18, 3, 9), 0) // header v2 needs tagged fields: malformed
	cases := map[string][]byte{
		"garbage":             []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"2 GiB size":          {0x7f, 0xff, 0xff, 0xff, 1, 2, 3},
		"negative size":       {0xff, 0xff, 0xff, 0xfe},
		"unknown api key":     frame(requestHeader(9999, 0, 1)),
		"unsupported version": frame(requestHeader(0, 99, 2)),
		"truncated body":      frame(truncated),
		"huge array count":    frame(hugeArray),
		"bad flexible header": frame(apiVersionsV3[:len(apiVersionsV3)-1]),
		"empty frame":         frame(nil),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", n.addr)
			require.NoError(t, err)
			defer c.Close()
			_, _ = c.Write(payload)
			expectClosed(t, c)
			check()
		})
	}

	t.Run("unknown ApiVersions version answered in v0", func(t *testing.T) {
		c, err := net.Dial("tcp", n.addr)
		require.NoError(t, err)
		defer c.Close()
		body := append(requestHeader(18, 99, 42), 0) // v99: header parses as v2
		_, err = c.Write(frame(body))
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var size [4]byte
		_, err = io.ReadFull(c, size[:])
		require.NoError(t, err)
		resp := make([]byte, binary.BigEndian.Uint32(size[:]))
		_, err = io.ReadFull(c, resp)
		require.NoError(t, err)
		require.EqualValues(t, 42, binary.BigEndian.Uint32(resp[0:4]), "correlation id")
		require.EqualValues(t, 35, binary.BigEndian.Uint16(resp[4:6]), "UNSUPPORTED_VERSION")
	})

	t.Run("1000 idle half-open connections", func(t *testing.T) {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, 1000)
		for i := 0; i < 1000; i++ {
			c, err := net.Dial("tcp", n.addr)
			require.NoError(t, err)
			// Half a size prefix, then silence.
			_, _ = c.Write([]byte{0, 0})
			conns = append(conns, c)
		}
		check()
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		grown := int64(after.HeapInuse) - int64(before.HeapInuse)
		t.Logf("heap grew %d KiB for 1000 idle connections", grown/1024)
		require.Less(t, grown, int64(256<<20), "idle connections must not pin large buffers")
		for _, c := range conns {
			c.Close()
		}
		check()
	})
}
