package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	seed                 int64
	duration             time.Duration
	maxFaults            int
	kinds                string
	nodes                int
	partitions           int
	producers            int
	txnProducers         int
	rate                 int
	repo, bin, out       string
	gapMin, gapMax       time.Duration
	holdMin, holdMax     time.Duration
	settle, recoverLimit time.Duration
	disks                bool
	target               string
	proxy                bool
	heartbeat, session   time.Duration
	groupConsumers       int
	group848Consumers    int
	ctpMembers           int
	hostile              time.Duration
	admin                bool
	diskSize             int64
	keep                 string
}

func main() {
	var o options
	flag.Int64Var(&o.seed, "seed", 0, "nemesis seed (0: from the clock; printed either way)")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long faults are injected")
	flag.IntVar(&o.maxFaults, "faults", 1000, "at most this many faults")
	flag.StringVar(&o.kinds, "kinds", strings.Join(faultKinds, ","), "fault kinds to choose from")
	flag.IntVar(&o.nodes, "nodes", 3, "cluster size (3-9): every node a broker and a controller (quorum voter); topics keep RF 3")
	flag.IntVar(&o.partitions, "partitions", 6, "partitions of the topic under test")
	flag.IntVar(&o.producers, "producers", 3, "idempotent acks=all producers")
	flag.IntVar(&o.txnProducers, "txn-producers", 1, "transactional producers (commit/abort mix) on a second topic, checked read_committed")
	flag.IntVar(&o.rate, "rate", 200, "records per second per producer")
	flag.StringVar(&o.repo, "repo", ".", "Spool source tree to build cmd/spool from")
	flag.StringVar(&o.bin, "bin", "", "spool binary (default: go build from -repo)")
	flag.StringVar(&o.out, "out", "", "directory for logs, data and the summary (default: a new temp dir)")
	flag.DurationVar(&o.gapMin, "gap-min", 2*time.Second, "healthy time between faults, lower bound")
	flag.DurationVar(&o.gapMax, "gap-max", 5*time.Second, "healthy time between faults, upper bound")
	flag.DurationVar(&o.holdMin, "hold-min", 1*time.Second, "time a fault lasts, lower bound")
	flag.DurationVar(&o.holdMax, "hold-max", 6*time.Second, "time a fault lasts, upper bound (pauses beyond the 2 s session timeout)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "time the workload goes on after the last fault healed")
	flag.DurationVar(&o.recoverLimit, "recover", 2*time.Minute, "limit for the cluster to recover after the faults")
	flag.IntVar(&o.groupConsumers, "group-consumers", 2, "members of a classic consumer group on the topic under test, committing offsets (0: no group workload)")
	flag.IntVar(&o.group848Consumers, "group848-consumers", 2, "members of a KIP-848 consumer group (consumer group protocol) on the topic under test, committing offsets and checked as the classic group (0: none)")
	flag.IntVar(&o.ctpMembers, "ctp", 1, "members of a consume-transform-produce group: read_committed from the topic under test, write each record to chaos-ctp-out and commit the offsets in the same transaction; checked exactly-once (0: none)")
	flag.DurationVar(&o.hostile, "hostile", 200*time.Millisecond, "hostile input while the workloads run: a malformed frame or wrong version to a random broker every this often (0: none); a node that crashes or panics fails the run")
	flag.BoolVar(&o.admin, "admin", true, "admin workload: create, grow and delete topics while faults run")
	flag.StringVar(&o.target, "target", "spool", "spool, or kafka: the reference Apache Kafka 4.3.1 (test/compat's jars in ~/.cache/spool-compat, make test-deps), same workloads, faults and checker")
	flag.DurationVar(&o.heartbeat, "heartbeat", 200*time.Millisecond, "broker.heartbeat.interval.ms of every node")
	flag.DurationVar(&o.session, "session", 2*time.Second, "broker.session.timeout.ms of every node (a JVM on a loaded machine needs more than the default 2 s: see docs/reliability.md)")
	flag.BoolVar(&o.proxy, "proxy", false, "carry all traffic between nodes through the harness's delay proxy (for the delay fault)")
	flag.BoolVar(&o.disks, "disks", false, "give each node its own loop-mounted ext4 (for disk-full and power-loss; needs mkfs.xfs for the reflink clones)")
	flag.StringVar(&o.keep, "keep", "chaos-txn-*", "with -disks: copy the partition dirs matching this glob from every node's log dir to <out>/kept/ before the filesystems are removed (\"\": none)")
	flag.Int64Var(&o.diskSize, "disk-size-mb", 1024, "size of each node's filesystem with -disks, MiB")
	flag.Parse()
	if o.kinds == "all" {
		o.kinds = strings.Join(allKinds, ",")
	}
	if strings.Contains(o.kinds, "delay") {
		o.proxy = true
	}
	if !o.disks && (strings.Contains(o.kinds, "disk-full") || strings.Contains(o.kinds, "power-loss")) {
		o.disks = true
	}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano() % 1_000_000_007
	}
	code, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: FAIL:", err)
		if code == 0 {
			code = 2
		}
	} else {
		fmt.Printf("chaos: PASS (seed %d): no safety violation, every partition back to a full ISR after the faults\n", o.seed)
	}
	os.Exit(code)
}

// run returns 1 on a safety violation, 2 when the harness could not finish.
func run(o options) (int, error) {
	if o.nodes < 3 || o.nodes > maxNodes {
		return 2, fmt.Errorf("-nodes %d: want 3 to %d", o.nodes, maxNodes)
	}
	if os.Geteuid() != 0 {
		return 2, errors.New("must run as root: it creates network namespaces and iptables rules")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 2, fmt.Errorf("needs %s on PATH (Debian: apt-get install iproute2 iptables): %w", tool, err)
		}
	}
	// One run at a time on a machine: the bridge, namespaces and
	// addresses are fixed names. The lock goes with the process.
	lock, err := os.OpenFile("/run/spool-chaos.lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return 2, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Println("chaos: another run holds /run/spool-chaos.lock; waiting")
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			return 2, fmt.Errorf("lock: %w", err)
		}
	}
	if o.out == "" {
		if o.out, err = os.MkdirTemp("", fmt.Sprintf("spool-chaos-%d-", o.seed)); err != nil {
			return 2, err
		}
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return 2, err
	}
	evf, err := os.Create(filepath.Join(o.out, "events.log"))
	if err != nil {
		return 2, err
	}
	defer evf.Close()
	logger := log.New(io.MultiWriter(os.Stdout, evf), "", log.LUTC|log.Ldate|log.Lmicroseconds)
	logf := logger.Printf
	logf("target=%s seed=%d nodes=%d duration=%s faults<=%d kinds=%s out=%s", o.target, o.seed, o.nodes, o.duration, o.maxFaults, o.kinds, o.out)

	// SIGINT/SIGTERM cancel ctx; every step below then returns and the
	// deferred cleanups kill the nodes and remove the namespaces.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if abs, err := filepath.Abs(o.repo); err == nil {
		o.repo = abs
	}
	if o.target != "spool" && o.target != "kafka" {
		return 2, fmt.Errorf("-target %q: want spool or kafka", o.target)
	}
	if o.target == "spool" && o.bin == "" {
		o.bin = filepath.Join(o.out, "spool")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "./cmd/spool")
		cmd.Dir = o.repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return 2, fmt.Errorf("go build ./cmd/spool: %w\n%s", err, out)
		}
	}

	nw := &network{bridge: "spchaos0", prefix: "spchaos", subnet: "10.77.0", nodes: o.nodes, logf: logf}
	defer func() { nw.teardown(); logf("network removed") }()
	if err := nw.setup(); err != nil {
		return 2, err
	}
	var px *proxy
	if o.proxy {
		px = &proxy{nw: nw, logf: logf}
		defer px.stop()
		if err := px.start(ctx); err != nil {
			return 2, err
		}
		logf("proxy: every connection between nodes goes through the harness (%s.254:%d+)", nw.subnet, proxyPortBase)
	}
	var dk *disks
	if o.disks {
		dk = &disks{out: o.out, nodes: o.nodes, size: o.diskSize << 20, logf: logf}
		defer func() { dk.keep(o.keep); dk.teardown(); logf("disks removed") }()
		if err := dk.setup(); err != nil {
			return 2, err
		}
		logf("disks: each node's log dir on its own %d MiB ext4 (loop image in an XFS for reflink clones)", o.diskSize)
	}
	c, err := newCluster(o.target, o.repo, o.bin, o.out, nw, dk, o.heartbeat, o.session)
	if err != nil {
		return 2, err
	}
	defer c.stopAll()
	for i := 1; i <= nw.nodes; i++ {
		if err := c.start(i); err != nil {
			return 2, err
		}
	}
	var exited error
	if err := waitFor(ctx, 90*time.Second, fmt.Sprintf("%d live brokers", nw.nodes), func() bool {
		for i := 1; i <= nw.nodes; i++ {
			if !c.running(i) {
				exited = fmt.Errorf("node %d exited at startup; tail of %s:\n%s", i, c.node[i-1].logPath, tail(c.node[i-1].logPath, 20))
				return true
			}
		}
		for i := 1; i <= nw.nodes; i++ {
			if !c.brokersUp(ctx, i) {
				return false
			}
		}
		return true
	}); err != nil {
		return 2, err
	}
	if exited != nil {
		return 2, exited
	}
	logf("cluster up: %v", c.seeds())

	const topic, txnTopic, txnPartitions = "chaos", "chaos-txn", 3
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return 2, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	created, err := adm.CreateTopic(cctx, int32(o.partitions), 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	cancel()
	if err == nil {
		err = created.Err
	}
	if err != nil {
		return 2, fmt.Errorf("create topic: %w", err)
	}
	if o.txnProducers > 0 {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		created, err := adm.CreateTopic(cctx, txnPartitions, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, txnTopic)
		cancel()
		if err == nil {
			err = created.Err
		}
		if err != nil {
			return 2, fmt.Errorf("create topic %s: %w", txnTopic, err)
		}
	}
	if o.ctpMembers > 0 {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		created, err := adm.CreateTopic(cctx, 3, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "chaos-ctp-out")
		cancel()
		if err == nil {
			err = created.Err
		}
		if err != nil {
			return 2, fmt.Errorf("create topic chaos-ctp-out: %w", err)
		}
	}
	// fullISR: every partition of every topic (internal ones included)
	// has a leader and all its replicas in the ISR; lagging keeps the
	// last list of those that do not, for the report.
	var lagging []string
	fullISR := func() bool {
		st, err := describeTopic(ctx, adm, topic)
		if err != nil || len(st) != o.partitions {
			lagging = []string{fmt.Sprintf("topic %s: %d partitions known, err %v", topic, len(st), err)}
			return false
		}
		lag, err := underReplicated(ctx, adm)
		if err != nil {
			lag = []string{err.Error()}
		}
		lagging = lag
		return len(lag) == 0
	}
	if err := waitFor(ctx, 60*time.Second, "every partition with a full ISR", fullISR); err != nil {
		return 2, err
	}
	logf("topic %s: %d partitions, RF 3, min.insync.replicas 2", topic, o.partitions)

	h := newHistory()
	wctx, stopWorkload := context.WithCancel(ctx)
	defer stopWorkload()
	var wg sync.WaitGroup
	for id := 1; id <= o.producers; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := produce(wctx, c.seeds(), topic, id, o.partitions, o.rate, time.Minute, h); err != nil {
				logf("producer %d: %v", id, err)
			}
		}()
	}
	th := newTxnHistory()
	// The transactional producers have their own group: franz-go's
	// BeginTransaction takes no context and retries InitProducerID for as
	// long as the coordinator answers CONCURRENT_TRANSACTIONS, so the run
	// waits for them only so long (a stuck one is reported, and leaks
	// until the harness exits).
	var twg sync.WaitGroup
	for id := 1; id <= o.txnProducers; id++ {
		twg.Add(1)
		go func() {
			defer twg.Done()
			produceTxns(wctx, c.seeds(), txnTopic, id, o.seed, th)
		}()
	}
	// The consumer groups: the classic one, the KIP-848 one, each checked
	// on its own; their OffsetFetch watchers go to the coordinator directly.
	type groupRun struct {
		name, kind string
		members    int
		kip848     bool
		h          *groupHistory
	}
	groups := []*groupRun{
		{name: "chaos-group", kind: "classic", members: o.groupConsumers},
		{name: "chaos-group-848", kind: "consumer (KIP-848)", members: o.group848Consumers, kip848: true},
	}
	gctx, stopGroup := context.WithCancel(ctx)
	defer stopGroup()
	var gwg sync.WaitGroup
	for _, gr := range groups {
		gr.h = newGroupHistory(o.nodes)
		for id := 1; id <= gr.members; id++ {
			gwg.Add(1)
			go func() {
				defer gwg.Done()
				if err := consumeGroup(gctx, c.seeds(), topic, gr.name, id, gr.kip848, gr.h); err != nil {
					logf("group %s member %d: %v", gr.name, id, err)
				}
			}()
		}
		if gr.members > 0 {
			gwg.Add(1)
			go func() { defer gwg.Done(); watchCommits(gctx, admCl, adm, gr.name, time.Second, gr.h) }()
		}
	}
	const ctpGroup, ctpTopic, ctpPartitions = "chaos-ctp", "chaos-ctp-out", 3
	ch := &ctpHistory{}
	ctpCtx, stopCTP := context.WithCancel(ctx)
	defer stopCTP()
	var cwg sync.WaitGroup
	for id := 1; id <= o.ctpMembers; id++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			transform(ctpCtx, c.seeds(), topic, ctpTopic, ctpGroup, ctpPartitions, id, ch)
		}()
	}
	hh := &hostileHistory{}
	hctx, stopHostile := context.WithCancel(ctx)
	defer stopHostile()
	var hwg sync.WaitGroup
	if o.hostile > 0 {
		hwg.Add(1)
		go func() { defer hwg.Done(); runHostile(hctx, c, admCl, topic, o.hostile, o.seed, hh) }()
	}
	ah := newAdminHistory()
	actx, stopAdmin := context.WithCancel(ctx)
	defer stopAdmin()
	var awg sync.WaitGroup
	if o.admin {
		awg.Add(1)
		go func() { defer awg.Done(); runAdmin(actx, adm, time.Second, ah) }()
	}
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		if err := liveRead(rctx, c.seeds(), topic, h); err != nil {
			logf("live reader: %v", err)
		}
	}()
	if err := waitFor(ctx, 60*time.Second, "first acknowledgements", func() bool { return h.ackCount() >= 100 }); err != nil {
		return 2, err
	}

	nem := &nemesis{c: c, disks: dk, proxy: px, cl: admCl, adm: adm, topic: topic, rng: newRand(o.seed), logf: logf, kinds: strings.Split(o.kinds, ","),
		gapMin: o.gapMin, gapMax: o.gapMax, holdMin: o.holdMin, holdMax: o.holdMax}
	// A progress line every 15 s until the checks begin, so a CI log
	// shows a run that is alive (and how the cluster is doing).
	pctx, stopProgress := context.WithCancel(ctx)
	defer stopProgress()
	go progress(pctx, logf, 15*time.Second, nem, h, th)
	fctx, cancel := context.WithTimeout(ctx, o.duration)
	faultStart := time.Now()
	nemErr := nem.run(fctx, o.maxFaults)
	cancel()
	faultEnd := time.Now()
	if nemErr != nil {
		logf("nemesis: %v", nemErr)
	}
	if ctx.Err() != nil {
		return 2, errors.New("interrupted")
	}

	// Heal: every node running, no rules left; wait for the cluster.
	for i := 1; i <= nw.nodes; i++ {
		_ = nw.heal(i)
		if !c.running(i) {
			c.mu.Lock()
			c.node[i-1].cmd = nil
			c.mu.Unlock()
			logf("node %d was not running after the faults; restarting (see node%d.log)", i, i)
			if err := c.start(i); err != nil {
				return 2, err
			}
		}
	}
	recovered := time.Now()
	recErr := waitFor(ctx, o.recoverLimit, "full ISR after healing", fullISR)
	if recErr != nil {
		recErr = fmt.Errorf("%w; %d partitions without a full ISR: %s", recErr, len(lagging), strings.Join(lagging[:min(len(lagging), 10)], "; "))
		logf("liveness: %v", recErr)
		logf("acknowledgements per partition in the last 30 s: %v", h.recentAcks(30*time.Second))
		if st, err := describeTopic(ctx, adm, topic); err == nil {
			logf("partition states (leader, ISR): %v", st)
		}
		// A goroutine dump of every node (Go prints all stacks on
		// SIGQUIT and exits) shows where a stuck node waits.
		for i := 1; i <= nw.nodes; i++ {
			c.dump(i)
		}
		for i := 1; i <= nw.nodes; i++ {
			if err := c.start(i); err != nil {
				return 2, err
			}
		}
		logf("goroutine dumps written to node*.log (SIGQUIT); nodes restarted to check safety")
		_ = waitFor(ctx, o.recoverLimit, "full ISR after restarting every node", fullISR)
	} else {
		logf("recovered: full ISR %s after the last heal", time.Since(recovered).Round(time.Millisecond))
	}
	before := h.ackCount()
	sleepCtx(ctx, o.settle)
	stopProgress()
	logf("acknowledgements during the %s after healing: %d", o.settle, h.ackCount()-before)
	stopWorkload()
	wg.Wait()
	txnDone := make(chan struct{})
	go func() { twg.Wait(); close(txnDone) }()
	var txnStuck error
	select {
	case <-txnDone:
	case <-time.After(90 * time.Second):
		txnStuck = errors.New("a transactional producer did not stop within 90 s of the end of the workload (stuck in BeginTransaction/InitProducerID)")
		logf("liveness: %v", txnStuck)
	}
	stopReader()
	rwg.Wait()
	stopGroup()
	stopAdmin()
	stopCTP()
	stopHostile()
	gwg.Wait()
	awg.Wait()
	cwg.Wait()
	hwg.Wait()

	endMap := map[int32]int64{}
	var endErr error
	_ = waitFor(ctx, time.Minute, "end offsets", func() bool {
		ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ectx, topic)
		if err != nil {
			endErr = fmt.Errorf("list end offsets: %w", err)
			return false
		}
		endErr = nil
		ends.Each(func(lo kadm.ListedOffset) {
			endMap[lo.Partition] = lo.Offset
			if lo.Err != nil {
				endErr = fmt.Errorf("end offset of partition %d: %w", lo.Partition, lo.Err)
			}
		})
		return endErr == nil
	})
	if endErr != nil {
		return 2, endErr
	}
	rdctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	final, readErr := readAll(rdctx, c.seeds(), topic, endMap)
	cancel()
	if readErr != nil {
		logf("%v", readErr)
	}
	v := check(h, final)
	if err := h.write(filepath.Join(o.out, "history.csv")); err != nil {
		logf("history: %v", err)
	}
	if o.txnProducers > 0 {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		txnFinal, err := readCommitted(tctx, c.seeds(), txnTopic, txnPartitions)
		cancel()
		if err != nil {
			logf("%v", err)
			readErr = errors.Join(readErr, err)
		}
		readErr = errors.Join(readErr, txnStuck)
		v.TxnStats, v.TxnViolations = checkTxns(th, txnFinal)
		th.mu.Lock()
		v.TxnErrors = slices.Clone(th.errs)
		th.mu.Unlock()
	}
	for _, gr := range groups {
		if gr.members == 0 {
			continue
		}
		// The final check: one OffsetFetch after every member stopped.
		gh := gr.h
		if err := waitFor(ctx, 30*time.Second, "a final OffsetFetch of "+gr.name, func() bool { return gh.observe(ctx, admCl, adm, gr.name) == nil }); err != nil {
			readErr = errors.Join(readErr, err)
		}
		gh.mu.Lock()
		for _, l := range gh.violations {
			v.GroupViolations = append(v.GroupViolations, gr.name+": "+l)
		}
		for _, l := range gh.staleDeposed {
			v.GroupStale = append(v.GroupStale, gr.name+": "+l)
		}
		for _, l := range gh.errs {
			v.WorkloadErrors = append(v.WorkloadErrors, gr.name+": "+l)
		}
		gh.mu.Unlock()
		v.GroupStats = append(v.GroupStats, fmt.Sprintf("%s, %s: %s", gr.name, gr.kind, gh.stats()))
		// That the group really ran the protocol asked for: its type as
		// ListGroups v5 reports it.
		if typ, err := groupType(ctx, adm, gr.name); err != nil || (gr.kip848 != (typ == "consumer")) {
			v.WorkloadErrors = append(v.WorkloadErrors, fmt.Sprintf("%s: group type %q (err %v), want kip848=%v", gr.name, typ, err, gr.kip848))
		}
	}
	if o.ctpMembers > 0 {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := readCommitted(tctx, c.seeds(), ctpTopic, ctpPartitions)
		cancel()
		var committed map[int32]int64
		if err == nil {
			err = waitFor(ctx, time.Minute, "the consume-transform-produce group's stable offsets", func() bool {
				var ferr error
				committed, ferr = ctpCommitted(ctx, adm, ctpGroup, topic)
				return ferr == nil
			})
		}
		if err != nil {
			readErr = errors.Join(readErr, fmt.Errorf("consume-transform-produce check: %w", err))
		} else {
			var stats string
			stats, v.CTPViolations = checkCTP(final, out, committed)
			v.CTPStats = ch.stats() + "; " + stats
		}
		ch.mu.Lock()
		v.WorkloadErrors = append(v.WorkloadErrors, ch.errs...)
		ch.mu.Unlock()
	}
	if o.hostile > 0 {
		v.HostileStats, v.HostileViolations = hh.check(c)
	}
	if o.admin {
		var bad []string
		if err := waitFor(ctx, time.Minute, "admin metadata to converge on every broker", func() bool {
			bad = ah.checkAdmin(ctx, c.seeds())
			return len(bad) == 0
		}); err != nil {
			v.AdminViolations = bad
		}
		v.AdminStats = ah.stats()
		ah.mu.Lock()
		v.WorkloadErrors = append(v.WorkloadErrors, ah.errs...)
		ah.mu.Unlock()
	}
	v.Exits = nem.exits
	sum := summary(o, nem.faults, faultStart, faultEnd, h, v, recErr, readErr)
	fmt.Print(sum)
	if err := os.WriteFile(filepath.Join(o.out, "summary.md"), []byte(sum), 0o644); err != nil {
		return 2, err
	}
	switch {
	case v.violations() > 0:
		return 1, fmt.Errorf("%d safety violations (seed %d, logs in %s)", v.violations(), o.seed, o.out)
	case readErr != nil || recErr != nil || nemErr != nil:
		return 2, fmt.Errorf("run incomplete (seed %d, logs in %s)", o.seed, o.out)
	}
	return 0, nil
}

func summary(o options, faults []fault, start, end time.Time, h *history, v verdict, recErr, readErr error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## chaos run target=%s seed=%d nodes=%d\n\n", o.target, o.seed, o.nodes)
	fmt.Fprintf(&b, "Faults for %s (%s): %d injected; workload %d idempotent acks=all producers x %d rec/s over %d partitions (RF 3, min.insync.replicas 2).\n\n",
		end.Sub(start).Round(time.Second), o.kinds, len(faults), o.producers, o.rate, o.partitions)
	h.mu.Lock()
	ackTimes := make([]time.Time, len(h.acks))
	for i, a := range h.acks {
		ackTimes[i] = a.at
	}
	live, liveErrs := h.liveReads, slices.Clone(h.liveErrors)
	h.mu.Unlock()
	sort.Slice(ackTimes, func(i, j int) bool { return ackTimes[i].Before(ackTimes[j]) })
	b.WriteString("| fault | count | max ack stall | median ack stall |\n|---|---|---|---|\n")
	byKind := map[string][]time.Duration{}
	for _, f := range faults {
		byKind[f.Kind] = append(byKind[f.Kind], stall(ackTimes, f.Start, f.End.Add(2*time.Second)))
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ds := byKind[k]
		slices.Sort(ds)
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", k, len(ds), ds[len(ds)-1].Round(time.Millisecond), ds[len(ds)/2].Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "\n| records | count |\n|---|---|\n| attempted | %d |\n| acknowledged | %d |\n| failed (indeterminate) | %d |\n| failed but present | %d |\n| read back | %d |\n| read live during faults | %d |\n",
		v.Attempted, v.Acked, v.Failed, v.FailedPresent, v.Read, live)
	fmt.Fprintf(&b, "\n| check | violations |\n|---|---|\n| lost acknowledged writes | %d |\n| duplicates | %d |\n| reordered | %d |\n| offset changed value | %d |\n| unknown values | %d |\n",
		len(v.Lost), len(v.Duplicated), len(v.Reordered), len(v.Changed), len(v.Unknown))
	if o.txnProducers > 0 {
		fmt.Fprintf(&b, "| transactions (%s) | %d |\n", v.TxnStats, len(v.TxnViolations))
	}
	if len(v.GroupStats) > 0 {
		fmt.Fprintf(&b, "| consumer groups (%s) | %d |\n", strings.Join(v.GroupStats, "; "), len(v.GroupViolations))
	}
	if o.ctpMembers > 0 {
		fmt.Fprintf(&b, "| consume-transform-produce, exactly once (%s) | %d |\n", v.CTPStats, len(v.CTPViolations))
	}
	if o.hostile > 0 {
		fmt.Fprintf(&b, "| hostile input (%s) | %d |\n", v.HostileStats, len(v.HostileViolations))
	}
	if o.admin {
		fmt.Fprintf(&b, "| admin (%s) | %d |\n", v.AdminStats, len(v.AdminViolations))
	}
	verdictLine := "PASS: lost=0 dup=0 reorder=0 changed=0 txn=0 group=0 ctp=0 hostile=0 admin=0"
	if v.violations() > 0 {
		verdictLine = fmt.Sprintf("FAIL: %d safety violations", v.violations())
	}
	fmt.Fprintf(&b, "\n**%s**\n", verdictLine)
	if recErr != nil {
		fmt.Fprintf(&b, "\nLiveness: %v\n", recErr)
	}
	if readErr != nil {
		fmt.Fprintf(&b, "\nFinal read: %v\n", readErr)
	}
	for _, l := range []struct {
		name  string
		lines []string
	}{{"lost", v.Lost}, {"duplicated", v.Duplicated}, {"reordered", v.Reordered}, {"changed", v.Changed}, {"unknown", v.Unknown}, {"transactions", v.TxnViolations}, {"consumer group", v.GroupViolations}, {"consume-transform-produce", v.CTPViolations}, {"hostile input", v.HostileViolations}, {"admin", v.AdminViolations}, {"consumer group: stale answers of a deposed coordinator (as Kafka; not violations)", v.GroupStale}, {"live reader errors", liveErrs}, {"transactional producer errors (not violations)", v.TxnErrors}, {"group and admin errors (not violations)", v.WorkloadErrors}, {"nodes that exited by themselves (restarted; findings, not safety violations)", v.Exits}} {
		if len(l.lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s (%d, first 20):\n", l.name, len(l.lines))
		for _, s := range l.lines[:min(20, len(l.lines))] {
			fmt.Fprintf(&b, "    %s\n", s)
		}
	}
	flags := ""
	if o.kinds != strings.Join(faultKinds, ",") {
		flags += " -kinds " + o.kinds
	}
	if o.nodes != 3 {
		flags += fmt.Sprintf(" -nodes %d", o.nodes)
	}
	if o.target != "spool" {
		flags += " -target " + o.target
	}
	if o.heartbeat != 200*time.Millisecond || o.session != 2*time.Second {
		flags += fmt.Sprintf(" -heartbeat %s -session %s", o.heartbeat, o.session)
	}
	if flags != "" {
		flags = fmt.Sprintf(" CHAOS_FLAGS='%s'", strings.TrimSpace(flags))
	}
	fmt.Fprintf(&b, "\nReproduce the fault schedule: `sudo make chaos SEED=%d%s` (gaps %s-%s, holds %s-%s; logs: events.log, node*.log in %s).\n",
		o.seed, flags, o.gapMin, o.gapMax, o.holdMin, o.holdMax, o.out)
	return b.String()
}

// progress logs the faults injected and the writes acknowledged every
// period until ctx ends.
func progress(ctx context.Context, logf func(string, ...any), period time.Duration, nem *nemesis, h *history, th *txnHistory) {
	t := time.NewTicker(period)
	defer t.Stop()
	start, last := time.Now(), h.ackCount()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		acked := h.ackCount()
		logf("progress: %s in, %d faults, %d writes acknowledged (+%d), %s",
			time.Since(start).Round(time.Second), nem.injected.Load(), acked, acked-last, th.summary())
		last = acked
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
