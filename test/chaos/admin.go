package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminPrefix names the admin workload's topics.
const adminPrefix = "chaos-adm-"

// adminHistory is what the admin workload was told. mu guards it.
//
// For each topic it created: whether CreateTopics (2 partitions, RF 3) and
// CreatePartitions (to 3) and DeleteTopics were acknowledged, failed
// (indeterminate: the change may or may not have happened), or not sent.
// After the faults heal, every broker's metadata must converge to one answer
// that agrees with every acknowledgement.
type adminHistory struct {
	mu     sync.Mutex
	topics map[string]*adminTopic
	errs   []string
}

type opState int

const (
	opNone opState = iota
	opAcked
	opFailed
)

type adminTopic struct {
	create, grow, del opState
}

func newAdminHistory() *adminHistory { return &adminHistory{topics: map[string]*adminTopic{}} }

func (a *adminHistory) record(name string, f func(t *adminTopic), err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.topics[name]
	if t == nil {
		t = &adminTopic{}
		a.topics[name] = t
	}
	f(t)
	if err != nil && len(a.errs) < 50 {
		a.errs = append(a.errs, fmt.Sprintf("%s: %v", name, err))
	}
}

func state(err error) opState {
	if err != nil {
		return opFailed
	}
	return opAcked
}

// runAdmin creates a topic, grows it to 3 partitions and deletes it again,
// one request every period, until ctx is done. Every third topic is kept.
func runAdmin(ctx context.Context, adm *kadm.Client, period time.Duration, a *adminHistory) {
	t := time.NewTicker(period)
	defer t.Stop()
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for n := 1; wait(); n++ {
		name := fmt.Sprintf("%s%d", adminPrefix, n)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := adm.CreateTopic(cctx, 2, 3, nil, name)
		cancel()
		if err == nil {
			err = r.Err
		}
		// A request cut short by the end of the workload may have
		// happened: indeterminate, as a failed one.
		err = orDone(ctx, err)
		a.record(name, func(t *adminTopic) { t.create = state(err) }, err)
		if err != nil || !wait() {
			continue
		}
		cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		rs, err := adm.CreatePartitions(cctx, 1, name)
		cancel()
		if err == nil {
			err = rs.Error()
		}
		err = orDone(ctx, err)
		a.record(name, func(t *adminTopic) { t.grow = state(err) }, err)
		if n%3 == 0 || !wait() {
			continue
		}
		cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		ds, err := adm.DeleteTopics(cctx, name)
		cancel()
		if err == nil {
			err = ds.Error()
		}
		err = orDone(ctx, err)
		a.record(name, func(t *adminTopic) { t.del = state(err) }, err)
	}
}

// orDone is err, or ctx's error when ctx ended while the request ran.
func orDone(ctx context.Context, err error) error {
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// brokerTopics asks the broker at addr alone (a client whose only seed it
// is, the request sent to that seed: not by node ID, which a client only
// knows while the broker is in its metadata) for the metadata of every topic
// and returns the admin workload's topics as name -> "topicID/partitions".
func brokerTopics(ctx context.Context, addr string) (map[string]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(2*time.Second), kgo.RequestRetries(0))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range resp.Topics {
		if t.Topic == nil || !strings.HasPrefix(*t.Topic, adminPrefix) || t.ErrorCode != 0 {
			continue
		}
		out[*t.Topic] = fmt.Sprintf("%x/%d", t.TopicID, len(t.Partitions))
	}
	return out, nil
}

// checkAdmin lists what is wrong with the brokers' metadata now: brokers
// that disagree, and answers that contradict an acknowledgement. An empty
// list means the metadata converged to an answer the history allows.
func (a *adminHistory) checkAdmin(ctx context.Context, addrs []string) []string {
	var views []map[string]string
	var bad []string
	for i, addr := range addrs {
		v, err := brokerTopics(ctx, addr)
		if err != nil {
			return []string{fmt.Sprintf("broker %d (%s): metadata: %v", i+1, addr, err)}
		}
		views = append(views, v)
	}
	for i := 1; i < len(views); i++ {
		if !maps.Equal(views[0], views[i]) {
			bad = append(bad, fmt.Sprintf("broker 1 and broker %d disagree: %s", i+1, diffTopics(views[0], views[i])))
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	names := make([]string, 0, len(a.topics))
	for n := range a.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := a.topics[n]
		v, present := views[0][n]
		parts := ""
		if present {
			_, parts, _ = strings.Cut(v, "/")
		}
		switch {
		case t.del == opAcked && present:
			bad = append(bad, fmt.Sprintf("%s: deletion acknowledged, still present (%s)", n, v))
		case t.create == opAcked && t.del == opNone && !present:
			bad = append(bad, fmt.Sprintf("%s: creation acknowledged, never deleted, absent", n))
		case present && t.grow == opAcked && parts != "3":
			bad = append(bad, fmt.Sprintf("%s: growth to 3 partitions acknowledged, has %s", n, parts))
		case present && t.grow == opNone && t.create == opAcked && parts != "2":
			bad = append(bad, fmt.Sprintf("%s: created with 2 partitions and never grown, has %s", n, parts))
		}
	}
	for n := range views[0] {
		if _, ok := a.topics[n]; !ok {
			bad = append(bad, fmt.Sprintf("%s: present, never created", n))
		}
	}
	return bad
}

func (a *adminHistory) stats() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var c, g, d, f int
	for _, t := range a.topics {
		for _, s := range []opState{t.create, t.grow, t.del} {
			if s == opFailed {
				f++
			}
		}
		if t.create == opAcked {
			c++
		}
		if t.grow == opAcked {
			g++
		}
		if t.del == opAcked {
			d++
		}
	}
	return fmt.Sprintf("%d topics created, %d grown, %d deleted, %d requests failed (indeterminate)", c, g, d, f)
}

func diffTopics(a, b map[string]string) string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s %q vs %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s %q vs %q", k, "", v))
		}
	}
	slices.Sort(d)
	return strings.Join(d[:min(len(d), 5)], "; ")
}
