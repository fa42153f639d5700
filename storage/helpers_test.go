package storage

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol/records"
)

// makeBatch builds a valid v2 batch of n records (offsets unassigned) whose
// records section is payload dummy bytes; storage never decodes records.
func makeBatch(n int, ts int64, payload int) []byte {
	b := make([]byte, records.HeaderSize+payload)
	be := binary.BigEndian
	be.PutUint64(b[0:], 0)
	be.PutUint32(b[8:], uint32(len(b)-records.LogOverhead))
	be.PutUint32(b[12:], 0xffffffff)
	b[16] = 2
	be.PutUint16(b[21:], 0)
	be.PutUint32(b[23:], uint32(n-1))
	be.PutUint64(b[27:], uint64(ts))
	be.PutUint64(b[35:], uint64(ts))
	be.PutUint64(b[43:], 0xffffffffffffffff)
	be.PutUint16(b[51:], 0xffff)
	be.PutUint32(b[53:], 0xffffffff)
	be.PutUint32(b[57:], uint32(n))
	for i := records.HeaderSize; i < len(b); i++ {
		b[i] = byte(i)
	}
	be.PutUint32(b[17:], records.ComputeCRC(b))
	return b
}

func testConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 4096
	c.IndexIntervalBytes = 300
	c.IndexMaxBytes = 4096
	c.FileDeleteDelayMs = 0
	c.SegmentMs = math.MaxInt64 // test timestamps are arbitrary
	return c
}

func openTestLog(t *testing.T, dir string, cfg Config, st OpenOptions) *Log {
	t.Helper()
	l, err := OpenLog(dir, cfg, st, zaptest.NewLogger(t))
	require.NoError(t, err)
	return l
}

func newTestLog(t *testing.T, cfg Config) *Log {
	t.Helper()
	l := openTestLog(t, filepath.Join(t.TempDir(), "topic-0"), cfg, OpenOptions{CleanShutdown: true})
	t.Cleanup(func() { l.Close() })
	return l
}

// appended is one batch as stored: its assigned offsets and bytes.
type appended struct {
	base, last, ts int64
	bytes          []byte
}

// fill appends count batches of 1..3 records; timestamps come from ts(i).
func fill(t *testing.T, l *Log, count, payload int, ts func(i int) int64) []appended {
	t.Helper()
	var out []appended
	for i := range count {
		b := makeBatch(1+i%3, ts(i), payload+i%7)
		info, err := l.Append(b, 5, nil)
		require.NoError(t, err)
		out = append(out, appended{info.FirstOffset, info.LastOffset, ts(i), b})
	}
	l.SetHighWatermark(l.LogEndOffset())
	return out
}

// readBatches parses the result of a read back into headers.
func readBatches(t *testing.T, r ReadResult) ([]records.Header, []byte) {
	t.Helper()
	data, err := r.ReadInto(nil)
	require.NoError(t, err)
	require.Len(t, data, r.Size)
	var hs []records.Header
	for p := 0; p < len(data); {
		h, err := records.ParseHeader(data[p:])
		require.NoError(t, err)
		require.NoError(t, records.VerifyCRC(data[p:p+h.Size()]))
		hs = append(hs, h)
		p += h.Size()
	}
	return hs, data
}

func segmentFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	require.NoError(t, err)
	return m
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

func testNow() time.Time { return time.Now() }
