// Command spool-bench measures Spool against Apache Kafka on one machine.
//
// It is its own Go module so that the broker's module does not depend on
// franz-go's producer or on gonum/plot.
//
// Subcommands:
//
//	spool-bench run      the orchestrator behind `make bench`: starts each broker with a
//	                     fresh data directory, alternates them A/B/A/B, samples the broker's
//	                     CPU and RSS from /proc, and writes results.json, docs/benchmarks.md
//	                     and docs/bench/*.png
//	spool-bench cluster  the orchestrator behind `make bench-cluster`: three-node clusters of
//	                     Spool and Kafka (acks=all, RF 3, min ISR 2) alternated A/B on fresh
//	                     storage: throughput and broker CPU per MB, end-to-end latency at a
//	                     fixed rate, failover after SIGKILL of a leader, controlled-shutdown
//	                     stall; rewrites the cluster section of docs/benchmarks.md
//	spool-bench cluster-report   redraws that section from a cluster-results.json
//	spool-bench scale    the orchestrator behind `make bench-scale` (scenario R5): a
//	                     three-node cluster on 127.0.0.1 with per-node ports, idle partitions
//	                     added in steps (1k → 10k → 100k); per step the create time, the
//	                     propagation to every broker, RSS, open files, mappings and idle CPU
//	                     per node, acks=all probe latency at a fixed rate, and the restart
//	                     of one node (exit, live again, every replica in sync)
//	spool-bench load     one load-generator scenario against any bootstrap address
//	spool-bench report   redraws the report from a results.json
//	spool-bench tcp-recv / tcp-send / fsync   the machine's ceilings
//
// Latency is measured from each record's intended send time: a fixed-rate schedule
// assigns record i the time start + i/rate, and that time (not the time the client
// got round to sending it) is the start of both the produce latency and the
// end-to-end latency, so a stalled broker cannot hide its stall by slowing the
// generator down (no coordinated omission). The intended time travels in the first
// eight bytes of each value so the consumer can compute now − intended.
//
// Concurrency: every goroutine is started by a function that waits for it before
// returning; histograms are guarded by their own mutex.
package main
