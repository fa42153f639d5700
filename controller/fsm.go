package controller

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fsm applies metadata batches to the image. raft calls Apply, Snapshot and
// Restore from its single FSM goroutine; readers load the image pointer
// atomically and never block it.
type fsm struct {
	image atomic.Pointer[MetadataImage]
	// applyMu serializes Apply and Restore. raft's FSM goroutine is the
	// usual only writer; a controller that is not a voter also applies
	// what its observer fetches (voters.go), and both write while raft
	// starts replicating to it.
	applyMu sync.Mutex

	mu   sync.Mutex // guards subs and changedCh
	subs map[int]chan *MetadataImage
	next int
	// changedCh is closed (and replaced) by every publish, so waiters on
	// "a new image" need no subscription.
	changedCh chan struct{}
	// processed is the raft index of the last command entry the FSM has
	// finished with (applied or refused), or of the restored snapshot.
	// raft's AppliedIndex moves when an entry is handed to the FSM, before
	// Apply has run, so waiting for the image needs this too (WaitApplied).
	processed atomic.Uint64
	// uncleanElections and elrElections count the elections of the
	// partition changes this member replayed (ControllerStats
	// UncleanLeaderElectionsPerSec and ElectionFromEligibleLeaderReplicasPerSec;
	// not those in a restored snapshot).
	uncleanElections, elrElections atomic.Int64
}

func newFSM(clusterID string) *fsm {
	f := &fsm{subs: map[int]chan *MetadataImage{}, changedCh: make(chan struct{})}
	f.image.Store(emptyImage(clusterID))
	return f
}

// applyResult is what Apply returns through raft's ApplyFuture.Response.
type applyResult struct {
	err error
}

// Apply implements raft.FSM. A batch that does not apply cleanly leaves the
// image unchanged; every voter reaches the same verdict since the image and
// batch are the same everywhere.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	defer f.processed.Store(l.Index)
	base := f.image.Load()
	if base.offset > 0 && l.Index <= base.offset {
		// Already applied (fetched as an observer before raft replicated
		// it here): the image at an offset is a function of the log.
		return applyResult{}
	}
	records, err := DecodeBatch(l.Data)
	if err != nil {
		return applyResult{err: err}
	}
	b := newBuilder(base)
	b.index = l.Index
	for _, rec := range records {
		if err := b.apply(rec); err != nil {
			return applyResult{err: fmt.Errorf("controller: apply index %d: %w", l.Index, err)}
		}
	}
	b.img.offset = l.Index
	f.uncleanElections.Add(b.elections.Unclean)
	f.elrElections.Add(b.elections.FromELR)
	f.publish(b.img)
	return applyResult{}
}

func (f *fsm) publish(img *MetadataImage) {
	f.image.Store(img)
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.changedCh)
	f.changedCh = make(chan struct{})
	for _, ch := range f.subs {
		// Each channel holds at most the latest image: replace a stale one
		// instead of blocking the FSM on a slow subscriber. Only publish
		// sends, under f.mu, so the send after the drain cannot block.
		select {
		case <-ch:
		default:
		}
		ch <- img
	}
}

// changed returns a channel closed by the next publish.
func (f *fsm) changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changedCh
}

func (f *fsm) subscribe() (<-chan *MetadataImage, func()) {
	ch := make(chan *MetadataImage, 1)
	f.mu.Lock()
	id := f.next
	f.next++
	f.subs[id] = ch
	// Under f.mu no publish can fill the buffer first, so this never
	// blocks; a publish racing with us replaces it with a newer image.
	ch <- f.image.Load()
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, id)
			f.mu.Unlock()
		})
	}
}

// Snapshot implements raft.FSM. The image is immutable, so capturing it is
// just taking the pointer; Persist runs concurrently with later Applies.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{img: f.image.Load()}, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	img, err := readSnapshot(bufio.NewReader(rc))
	if err != nil {
		return err
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	cur := f.image.Load()
	if cur.clusterID != "" && img.clusterID != cur.clusterID {
		return fmt.Errorf("controller: snapshot of cluster %q, this node is in cluster %q", img.clusterID, cur.clusterID)
	}
	if cur.offset > 0 && img.offset <= cur.offset {
		// This image already holds the snapshot's state (see Apply).
		return nil
	}
	f.publish(img)
	f.processed.Store(img.offset)
	return nil
}

type fsmSnapshot struct {
	img *MetadataImage
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(encodeSnapshot(s.img)); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("controller: write snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

const (
	snapshotMagic   = "SPMI" // Spool metadata image
	snapshotVersion = 0
)

// encodeSnapshot writes the image in the snapshot layout of doc.go.
func encodeSnapshot(img *MetadataImage) []byte {
	body := appendString(nil, img.clusterID)
	body = appendUvarint(body, img.offset)
	body = append(body, EncodeBatch(img.records())...)
	out := make([]byte, 0, len(body)+13)
	out = append(out, snapshotMagic...)
	out = append(out, snapshotVersion)
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(body, castagnoli))
}

var errBadSnapshot = errors.New("controller: corrupt metadata snapshot")

func readSnapshot(r io.Reader) (*MetadataImage, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errBadSnapshot, err)
	}
	if string(hdr[:4]) != snapshotMagic || hdr[4] != snapshotVersion {
		return nil, fmt.Errorf("%w: bad magic or version", errBadSnapshot)
	}
	n := binary.BigEndian.Uint32(hdr[5:])
	buf := make([]byte, 0, min(n, 1<<20))
	buf, err := readN(r, buf, int(n)+4)
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", errBadSnapshot, err)
	}
	body, sum := buf[:n], binary.BigEndian.Uint32(buf[n:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadSnapshot)
	}
	d := &reader{b: body}
	clusterID := d.string()
	offset := d.uvarint()
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", errBadSnapshot, d.err)
	}
	records, err := DecodeBatch(d.b)
	if err != nil {
		return nil, err
	}
	b := newBuilder(emptyImage(clusterID))
	for _, rec := range records {
		if err := b.apply(rec); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadSnapshot, err)
		}
	}
	b.img.offset = offset
	return b.img, nil
}

// readN reads exactly n bytes, growing buf as data arrives rather than
// trusting a possibly corrupt length up front.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil && len(buf) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}
