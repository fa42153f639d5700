package storage

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTxnIndexAfterPowerLoss: a .txnindex whose tail a power loss left as
// zeros (the size reached the disk, the entries did not), followed by
// entries appended after the restart, loads without the zero entries, and
// truncateTo drops every entry at or past the offset, not just a trailing
// run, so the recovery replay does not index an abort twice (chaos
// finding 6: 20 zero entries and 1,094 duplicates in one replica's index,
// and committed transactions hidden from read_committed consumers).
func TestTxnIndexAfterPowerLoss(t *testing.T) {
	dir := t.TempDir()
	const base = 100
	a := AbortedTxn{ProducerID: 7, FirstOffset: 101, LastOffset: 105, LastStableOffset: 106}
	b := AbortedTxn{ProducerID: 8, FirstOffset: 103, LastOffset: 110, LastStableOffset: 111}
	c := AbortedTxn{ProducerID: 7, FirstOffset: 120, LastOffset: 125, LastStableOffset: 126}
	var raw []byte
	raw = appendTxnEntry(raw, a)
	raw = appendTxnEntry(raw, b)
	raw = append(raw, make([]byte, 3*txnIndexEntrySize)...) // the lost appends
	raw = appendTxnEntry(raw, c)
	raw = appendTxnEntry(raw, AbortedTxn{ProducerID: 9, FirstOffset: 50, LastOffset: 90}) // before the segment
	path := segmentName(dir, base, txnIndexSuffix)
	require.NoError(t, os.WriteFile(path, raw, 0o644))

	x, err := openTxnIndex(dir, base)
	require.NoError(t, err)
	require.Equal(t, []AbortedTxn{a, b, c}, x.txns)
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, onDisk, 3*txnIndexEntrySize, "the invalid entries are gone from the file too")

	// A replay from 108 first drops b and c (b sits before c, as it did
	// before the zeros), then writes them again: once each.
	require.NoError(t, x.truncateTo(108))
	require.Equal(t, []AbortedTxn{a}, x.txns)
	require.NoError(t, x.append(b))
	require.NoError(t, x.append(c))
	y, err := openTxnIndex(dir, base)
	require.NoError(t, err)
	require.Equal(t, []AbortedTxn{a, b, c}, y.txns)
}
