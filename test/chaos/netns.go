package main

import (
	"fmt"
	"os/exec"
	"strings"
)

// network is the harness's bridge and one network namespace per node.
// Its methods shell out to ip(8) and iptables(8); they are called from one
// goroutine at a time (setup, then the nemesis, then teardown).
type network struct {
	bridge  string // bridge in the root namespace, e.g. spchaos0
	prefix  string // namespace and veth name prefix, e.g. spchaos
	subnet  string // first three octets, e.g. 10.77.0
	nodes   int
	logf    func(format string, args ...any)
	created bool
}

func (nw *network) ns(i int) string   { return fmt.Sprintf("%s-n%d", nw.prefix, i) }
func (nw *network) veth(i int) string { return fmt.Sprintf("%s-v%d", nw.prefix, i) }

// host is node i's address (1-based), inside its own namespace.
func (nw *network) host(i int) string { return fmt.Sprintf("%s.%d", nw.subnet, i) }

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setup removes what an earlier run may have left, then creates the bridge
// (with the harness's address .254) and one namespace per node, joined to the
// bridge by a veth pair whose inner end is eth0.
func (nw *network) setup() error {
	nw.teardown()
	nw.created = true
	steps := [][]string{
		{"ip", "link", "add", nw.bridge, "type", "bridge"},
		{"ip", "addr", "add", nw.subnet + ".254/24", "dev", nw.bridge},
		{"ip", "link", "set", nw.bridge, "up"},
	}
	for i := 1; i <= nw.nodes; i++ {
		ns := nw.ns(i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", nw.veth(i), "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "link", "set", nw.veth(i), "master", nw.bridge, "up"},
			[]string{"ip", "-n", ns, "addr", "add", nw.host(i) + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return fmt.Errorf("network setup: %w", err)
		}
	}
	return nil
}

// maxNodes bounds -nodes; teardown removes that many namespaces, so the
// leftovers of an earlier, larger run go too.
const maxNodes = 9

// teardown deletes the namespaces (which deletes their veth pairs and
// iptables rules) and the bridge. Errors are ignored: it also runs on
// leftovers that may not exist.
func (nw *network) teardown() {
	for i := 1; i <= maxNodes; i++ {
		_ = sh("ip", "netns", "del", nw.ns(i))
		_ = sh("ip", "link", "del", nw.veth(i))
	}
	_ = sh("ip", "link", "del", nw.bridge)
}

func (nw *network) iptables(i int, args ...string) error {
	return sh(append([]string{"ip", "netns", "exec", nw.ns(i), "iptables", "-w"}, args...)...)
}

// isolate drops every packet in and out of node i's eth0 (loopback inside
// the namespace keeps working): the node is cut off from its peers and from
// the clients.
func (nw *network) isolate(i int) error {
	if err := nw.iptables(i, "-A", "INPUT", "-i", "eth0", "-j", "DROP"); err != nil {
		return err
	}
	return nw.iptables(i, "-A", "OUTPUT", "-o", "eth0", "-j", "DROP")
}

// loss drops each packet in and out of node i's eth0 with probability p.
func (nw *network) loss(i int, p float64) error {
	prob := fmt.Sprintf("%.3f", p)
	if err := nw.iptables(i, "-A", "INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP"); err != nil {
		return err
	}
	return nw.iptables(i, "-A", "OUTPUT", "-o", "eth0", "-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP")
}

// heal removes every filter rule in node i's namespace (the proxy's nat
// rules stay).
func (nw *network) heal(i int) error { return nw.iptables(i, "-F") }

// cut drops everything between node i and each of peers, both ways; the
// clients (the harness's .254) still reach node i. Run on both sides of a
// split, it cuts the cluster in two while each side keeps serving clients.
func (nw *network) cut(i int, peers []int) error {
	for _, j := range peers {
		h := nw.host(j)
		if err := nw.iptables(i, "-A", "INPUT", "-i", "eth0", "-s", h, "-j", "DROP"); err != nil {
			return err
		}
		if err := nw.iptables(i, "-A", "OUTPUT", "-o", "eth0", "-d", h, "-j", "DROP"); err != nil {
			return err
		}
		// Through the proxy the packets go to .254: conntrack still
		// knows the connection's original destination.
		if err := nw.iptables(i, "-A", "OUTPUT", "-o", "eth0", "-m", "conntrack", "--ctorigdst", h, "-j", "DROP"); err != nil {
			return err
		}
	}
	return nil
}

// oneWay drops packets with probability p in one direction of node i's eth0
// only: "in" (INPUT) or "out" (OUTPUT). Packets the other way pass.
func (nw *network) oneWay(i int, dir string, p float64) error {
	chain, flag := "INPUT", "-i"
	if dir == "out" {
		chain, flag = "OUTPUT", "-o"
	}
	args := []string{"-A", chain, flag, "eth0"}
	if p < 1 {
		args = append(args, "-m", "statistic", "--mode", "random", "--probability", fmt.Sprintf("%.3f", p))
	}
	return nw.iptables(i, append(args, "-j", "DROP")...)
}
