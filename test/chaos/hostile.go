package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The hostile-input workload (issue 13, item 5): while the other workloads
// run and the nemesis injects faults, it sends one malformed request to a
// random broker every period: the corpus of the single-node hostile-input
// test (internal/server/hostile_test.go) plus Produce requests to the topic
// under test whose record batch is corrupt. What it asserts:
//   - no node crashes: a Go panic or fatal error in any node's log fails the
//     run (nodes that exit by themselves are reported by the nemesis too);
//   - nothing of it is appended: a corrupt batch is refused with an error
//     code, and its value ("hostile-...") would show up in the final read
//     as an unknown value (a violation) if it had been written;
//   - other clients don't notice: every other check of the run.
//
// Connections left open past 5 s and unexpected answers are counted but are
// not violations: a paused node (SIGSTOP) accepts connections in its
// kernel and answers nothing.

// hostileCase is one kind of hostile request.
type hostileCase struct {
	name string
	// raw is written on a fresh connection, which the broker must close
	// without answering.
	raw []byte
	// apiVersions99 expects an ApiVersions v0 answer with
	// UNSUPPORTED_VERSION (35), as Kafka gives an unknown ApiVersions
	// version.
	apiVersions99 bool
	// corrupt, when set, is a Produce of a corrupt batch: "crc" (a wrong
	// CRC) or "count" (a right CRC over a batch that declares more
	// records than it holds).
	corrupt string
}

func hostileFrame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// hostileHeader is a v1 request header: key, version, correlation id and a
// client id.
func hostileHeader(key, version int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 7)
	return append(b, "hostile"...)
}

var hostileCorpus = func() []hostileCase {
	hugeArray := append(hostileHeader(3, 1, 7), 0x7f, 0xff, 0xff, 0xff) // Metadata v1, 2^31-1 topics
	flexible := append(hostileHeader(18, 3, 9), 0)                      // ApiVersions v3: header v2 needs tagged fields
	return []hostileCase{
		{name: "http", raw: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "2 GiB size", raw: []byte{0x7f, 0xff, 0xff, 0xff, 1, 2, 3}},
		{name: "negative size", raw: []byte{0xff, 0xff, 0xff, 0xfe}},
		{name: "unknown api key", raw: hostileFrame(hostileHeader(9999, 0, 1))},
		{name: "Produce v99", raw: hostileFrame(hostileHeader(0, 99, 2))},
		{name: "truncated header", raw: hostileFrame(hostileHeader(0, 9, 8)[:5])},
		{name: "huge array count", raw: hostileFrame(hugeArray)},
		{name: "bad flexible header", raw: hostileFrame(flexible[:len(flexible)-1])},
		{name: "empty frame", raw: hostileFrame(nil)},
		{name: "ApiVersions v99", apiVersions99: true},
		{name: "Produce, batch with a wrong CRC", corrupt: "crc"},
		{name: "Produce, batch declaring more records than it holds", corrupt: "count"},
	}
}()

// hostileBatch is a magic 2 record batch of one record whose value is
// value; declared is the record count it claims, and a wrong CRC when
// badCRC.
func hostileBatch(value string, declared int32, badCRC bool) []byte {
	var rec []byte
	rec = append(rec, 0)               // attributes
	rec = binary.AppendVarint(rec, 0)  // timestamp delta
	rec = binary.AppendVarint(rec, 0)  // offset delta
	rec = binary.AppendVarint(rec, -1) // null key
	rec = binary.AppendVarint(rec, int64(len(value)))
	rec = append(rec, value...)
	rec = binary.AppendVarint(rec, 0) // no headers
	records := binary.AppendVarint(nil, int64(len(rec)))
	records = append(records, rec...)

	now := time.Now().UnixMilli()
	var tail []byte                                         // from attributes to the end: what the CRC covers
	tail = binary.BigEndian.AppendUint16(tail, 0)           // attributes
	tail = binary.BigEndian.AppendUint32(tail, 0)           // last offset delta
	tail = binary.BigEndian.AppendUint64(tail, uint64(now)) // base timestamp
	tail = binary.BigEndian.AppendUint64(tail, uint64(now)) // max timestamp
	tail = binary.BigEndian.AppendUint64(tail, ^uint64(0))  // producer id -1
	tail = binary.BigEndian.AppendUint16(tail, 0xffff)      // producer epoch -1
	tail = binary.BigEndian.AppendUint32(tail, 0xffffffff)  // base sequence -1
	tail = binary.BigEndian.AppendUint32(tail, uint32(declared))
	tail = append(tail, records...)
	crc := crc32.Checksum(tail, crc32.MakeTable(crc32.Castagnoli))
	if badCRC {
		crc ^= 0xdeadbeef
	}
	var b []byte
	b = binary.BigEndian.AppendUint64(b, 0)                       // base offset
	b = binary.BigEndian.AppendUint32(b, uint32(4+1+4+len(tail))) // batch length: from the leader epoch on
	b = binary.BigEndian.AppendUint32(b, 0xffffffff)              // partition leader epoch -1
	b = append(b, 2)                                              // magic
	b = binary.BigEndian.AppendUint32(b, crc)
	return append(b, tail...)
}

// hostileHistory counts what the hostile workload sent and saw; mu guards it.
type hostileHistory struct {
	mu          sync.Mutex
	sent        map[string]int
	closed      int            // connections the broker closed, as it must
	leftOpen    int            // still open 5 s later (a paused node, or a finding)
	unreachable int            // no connection (node down or cut off)
	codes       map[string]int // "case: code" for the answered ones
	accepted    []string       // a corrupt batch answered with no error: a violation
}

func (hh *hostileHistory) note(name, outcome string) {
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.sent == nil {
		hh.sent, hh.codes = map[string]int{}, map[string]int{}
	}
	hh.sent[name]++
	switch outcome {
	case "closed":
		hh.closed++
	case "open":
		hh.leftOpen++
	case "unreachable":
		hh.unreachable++
	default:
		hh.codes[name+": "+outcome]++
	}
}

// runHostile sends one hostile request every period until ctx is done, to a
// random node, the case chosen by a source seeded from seed (apart from the
// nemesis's, so that the fault schedule of a seed is the same with or
// without this workload).
func runHostile(ctx context.Context, c *cluster, cl *kgo.Client, topic string, period time.Duration, seed int64, hh *hostileHistory) {
	rng := rand.New(rand.NewSource(seed ^ 0x5eed))
	t := time.NewTicker(period)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hc := hostileCorpus[rng.Intn(len(hostileCorpus))]
		node := 1 + rng.Intn(len(c.node))
		switch {
		case hc.corrupt != "":
			hostileProduce(ctx, cl, topic, hc, n, hh)
		case hc.apiVersions99:
			hh.note(hc.name, hostileAPIVersions(ctx, c.addr(node)))
		default:
			hh.note(hc.name, hostileRaw(ctx, c.addr(node), hc.raw))
		}
	}
}

// hostileRaw writes raw on a new connection to addr and reports whether the
// broker closed it ("closed"), left it open for 5 s ("open"), could not be
// reached ("unreachable"), or answered something ("answered").
func hostileRaw(ctx context.Context, addr string, raw []byte) string {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "unreachable"
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(raw); err != nil {
		return "closed"
	}
	buf := make([]byte, 512)
	answered := false
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			answered = true
		}
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				return "open"
			case answered:
				return "answered"
			}
			return "closed"
		}
	}
}

// hostileAPIVersions sends ApiVersions v99 and reads the answer's error code
// (the broker answers in v0, with UNSUPPORTED_VERSION and its versions).
func hostileAPIVersions(ctx context.Context, addr string) string {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "unreachable"
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(hostileFrame(append(hostileHeader(18, 99, 42), 0))); err != nil {
		return "closed"
	}
	r := bufio.NewReader(conn)
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "open"
		}
		return "closed"
	}
	resp := make([]byte, min(binary.BigEndian.Uint32(size[:]), 1<<20))
	if _, err := io.ReadFull(r, resp); err != nil || len(resp) < 6 {
		return "short answer"
	}
	if corr := binary.BigEndian.Uint32(resp[0:4]); corr != 42 {
		return fmt.Sprintf("correlation id %d", corr)
	}
	return fmt.Sprintf("code %d", int16(binary.BigEndian.Uint16(resp[4:6])))
}

// hostileProduce sends a Produce of a corrupt batch (acks=all) to the
// leader of a partition of topic. Any answer but an error is a violation.
func hostileProduce(ctx context.Context, cl *kgo.Client, topic string, hc hostileCase, n int, hh *hostileHistory) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		hh.note(hc.name, "unreachable")
		return
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil || len(t.Partitions) == 0 {
		hh.note(hc.name, "unreachable")
		return
	}
	p := t.Partitions[int32(n%len(t.Partitions))]
	if p.Leader < 0 {
		hh.note(hc.name, "unreachable")
		return
	}
	value := fmt.Sprintf("hostile-%d", n)
	batch := hostileBatch(value, 1, true)
	if hc.corrupt == "count" {
		batch = hostileBatch(value, 5, false)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, t.ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p.Partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Broker(int(p.Leader)))
	if err != nil {
		hh.note(hc.name, "unreachable")
		return
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			hh.note(hc.name, fmt.Sprintf("code %d", rp.ErrorCode))
			if rp.ErrorCode == 0 {
				hh.mu.Lock()
				hh.accepted = append(hh.accepted, fmt.Sprintf("%s: %s accepted by node %d at p%d offset %d", hc.name, value, p.Leader, rp.Partition, rp.BaseOffset))
				hh.mu.Unlock()
			}
		}
	}
}

// nodePanics returns the first panic or fatal-error lines of every Spool
// node's log (a goroutine dump the harness asked for with SIGQUIT is not
// one: it starts "SIGQUIT: quit").
func nodePanics(c *cluster) []string {
	if c.kind != "spool" {
		return nil
	}
	var out []string
	for _, n := range c.node {
		f, err := os.Open(n.logPath)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
				out = append(out, fmt.Sprintf("node %d: %s", n.id, l))
			}
		}
		f.Close()
	}
	return out
}

// check returns the workload's stats line and its violations: corrupt
// batches accepted, and panics in the nodes' logs.
func (hh *hostileHistory) check(c *cluster) (string, []string) {
	violations := nodePanics(c)
	hh.mu.Lock()
	defer hh.mu.Unlock()
	violations = append(violations, hh.accepted...)
	total := 0
	for _, n := range hh.sent {
		total += n
	}
	var codes []string
	for k, n := range hh.codes {
		codes = append(codes, fmt.Sprintf("%s x%d", k, n))
	}
	sort.Strings(codes)
	return fmt.Sprintf("%d sent: %d closed by the broker, %d left open 5 s, %d unreachable; answers: %s",
		total, hh.closed, hh.leftOpen, hh.unreachable, strings.Join(codes, ", ")), violations
}
