// Command chaos is Spool's fault harness (issue 13, first slice): a Jepsen-style
// run of a 3-node Spool cluster whose nodes each live in their own network
// namespace, under a seeded random schedule of faults, with an acks=all
// idempotent producer workload and a checker.
//
// It is its own module (as test/bench) so that franz-go stays a test-only
// dependency and `go test ./...` in the root module never needs root: the
// harness creates network namespaces, veth pairs, a bridge and iptables rules,
// so it must run as root (`make chaos`, `make chaos-smoke`).
//
// # Topology
//
//	root namespace                     namespace spchaos-nN (N = 1..3)
//	  bridge spchaos0 10.77.0.254/24 ── veth spchaos-vN ── eth0 10.77.0.N
//	  harness (clients)                  spool serve (broker+controller)
//
// Every node listens on 10.77.0.N:49092 (PLAINTEXT) and :49093 (CONTROLLER).
// The harness removes leftovers of an earlier run before it starts, and tears
// the namespaces and the bridge down on exit, on error and on SIGINT/SIGTERM;
// the nodes die with the harness (Pdeathsig).
//
// # Faults (nemesis)
//
// One fault at a time, chosen with math/rand from the printed seed: kill
// (SIGKILL, down 1-4 s, restart), kill-leader (the same on the leader of a
// random partition under test), pause (SIGSTOP longer than the broker session
// timeout, then SIGCONT), partition (iptables DROP of everything on the node's
// eth0, both ways) and loss (iptables statistic --mode random drop on every
// node's eth0). Each fault is logged with its start and end time.
//
// # Checker
//
// Every acknowledged record (value, partition, offset) is recorded. A reader
// consumes while faults run and remembers what it saw at each offset; after the
// faults heal, a final reader reads every partition from the start to its end
// offset. Violations: an acknowledged record missing or with a different value
// at its acknowledged offset (lost), a value read twice (duplicate), one
// producer's sequence numbers going backwards within a partition (reorder), an
// offset read with two different values (offset changed meaning), and a value
// nobody produced. Any violation makes the exit status 1.
//
// Later sessions added fault kinds (split, oneway, delay, disk-full,
// power-loss, rolling: -kinds all), a Kafka reference mode (-target kafka),
// and workloads with their own checks: transactions read read_committed,
// classic and KIP-848 consumer groups committing offsets, consume-transform-
// produce through a group (exactly once), hostile input, and an admin
// workload; docs/chaos.md describes each.
package main
