package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spool-broker/spool/metrics"
)

// lagStatusRow is one partition of `spool group lag`.
type lagStatusRow struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset *int64 `json:"current_offset"`
	LogEndOffset  *int64 `json:"log_end_offset"`
	Lag           *int64 `json:"lag"`
	Status        string `json:"status"`
}

type groupLagStatus struct {
	Group      string         `json:"group"`
	Status     string         `json:"status"`
	TotalLag   int64          `json:"total_lag"`
	Partitions []lagStatusRow `json:"partitions"`
}

// runGroupLag evaluates groups as Burrow does (metrics.EvaluatePartition):
// it samples each group's committed offsets and log end offsets --samples
// times, --interval apart, and applies Burrow's rules to the window. The
// Kafka protocol does not say when an offset was committed, so a sample's
// time is when it was taken: a consumer that stopped committing shows as
// STALL (the same offset while the lag grows) rather than STOP, which
// needs commit times (the broker's spool_consumergroup_status has them).
// Exit 1 when a group is ERR.
func runGroupLag(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "group lag")
	samples := s.fs.Int("samples", 3, "how many times to sample the offsets (Burrow's window is the last 10 commits)")
	interval := s.fs.Duration("interval", time.Second, "time between samples")
	groups, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	if len(groups) == 0 {
		return s.exit(usageErr(errors.New("name at least one group: spool group lag GROUP [--samples N] [--interval 1s]")))
	}
	if *samples < 1 || *samples > metrics.LagWindow || *interval < 0 {
		return s.exit(usageErr(fmt.Errorf("--samples must be 1..%d and --interval not negative", metrics.LagWindow)))
	}
	hist := metrics.NewLagHistory()
	last := map[string]groupDescription{}
	status := map[metrics.LagKey]metrics.LagStatus{}
	var errs []error
	for i := range *samples {
		if i > 0 {
			select {
			case <-time.After(*interval):
			case <-cctx.Done():
				return s.exit(cctx.Err())
			}
		}
		now := time.Now()
		for _, g := range groups {
			d, err := describeGroupLag(cctx, cl, g)
			if err != nil {
				if i == 0 {
					errs = append(errs, err)
				}
				continue
			}
			last[g] = d
			for _, r := range d.Partitions {
				if r.CurrentOffset == nil || r.Lag == nil {
					continue
				}
				k := metrics.LagKey{Group: g, Topic: r.Topic, Partition: r.Partition}
				// Every sample counts as a commit: the protocol has no
				// commit time, so the same offset seen again is kept.
				status[k] = hist.Observe(k, *r.CurrentOffset, now, *r.Lag, *r.LogEndOffset, now)
			}
		}
	}
	var out []groupLagStatus
	failed := false
	for _, g := range groups {
		d, ok := last[g]
		if !ok {
			continue
		}
		gl := groupLagStatus{Group: g, TotalLag: d.TotalLag, Partitions: []lagStatusRow{}}
		var sts []metrics.LagStatus
		for _, r := range d.Partitions {
			row := lagStatusRow{Topic: r.Topic, Partition: r.Partition, CurrentOffset: r.CurrentOffset, LogEndOffset: r.LogEndOffset, Lag: r.Lag, Status: "-"}
			if st, ok := status[metrics.LagKey{Group: g, Topic: r.Topic, Partition: r.Partition}]; ok {
				row.Status = st.String()
				sts = append(sts, st)
			}
			gl.Partitions = append(gl.Partitions, row)
		}
		st := metrics.EvaluateGroup(sts)
		gl.Status = st.String()
		failed = failed || st == metrics.LagErr
		out = append(out, gl)
	}
	if s.output == "json" {
		if out == nil {
			out = []groupLagStatus{}
		}
		_ = writeJSON(e.Stdout, out)
	} else {
		for i, g := range out {
			if i > 0 {
				fmt.Fprintln(e.Stdout)
			}
			fmt.Fprintf(e.Stdout, "Consumer group '%s' status %s, total lag %d\n\n", g.Group, g.Status, g.TotalLag)
			tb := newTable(e.Stdout, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "STATUS")
			for _, r := range g.Partitions {
				tb.row(g.Group, r.Topic, r.Partition, dash(r.CurrentOffset), dash(r.LogEndOffset), dash(r.Lag), r.Status)
			}
			tb.flush()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s.exit(err)
	}
	if failed {
		return exitFail
	}
	return exitOK
}
