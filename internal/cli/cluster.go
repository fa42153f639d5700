package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

type brokerInfo struct {
	ID        int32  `json:"id"`
	Host      string `json:"host"`
	Port      int32  `json:"port"`
	Rack      string `json:"rack,omitempty"`
	Fenced    bool   `json:"fenced"`
	Reachable *bool  `json:"reachable,omitempty"`
}

type clusterInfo struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Brokers    []brokerInfo `json:"brokers"`
}

// describeCluster asks DescribeCluster (with fenced brokers, v2+), falling
// back to Metadata on brokers without it.
func describeCluster(ctx context.Context, cl *Client) (clusterInfo, error) {
	var ci clusterInfo
	resp, err := cl.Any(ctx, &protocol.DescribeClusterRequest{EndpointType: 1, IncludeFencedBrokers: true})
	if err == nil {
		dc := resp.(*protocol.DescribeClusterResponse)
		if err := codeErr(dc.ErrorCode, dc.ErrorMessage, "cluster"); err != nil {
			return ci, err
		}
		ci.ClusterID, ci.Controller = dc.ClusterID, int32(dc.ControllerID)
		for _, b := range dc.Brokers {
			bi := brokerInfo{ID: int32(b.BrokerID), Host: b.Host, Port: b.Port, Fenced: b.IsFenced}
			if b.Rack != nil {
				bi.Rack = *b.Rack
			}
			ci.Brokers = append(ci.Brokers, bi)
		}
	} else {
		var ce *ConnectError
		if errors.As(err, &ce) {
			return ci, err
		}
		md, err := cl.Metadata(ctx, []string{})
		if err != nil {
			return ci, err
		}
		if md.ClusterID != nil {
			ci.ClusterID = *md.ClusterID
		}
		ci.Controller = int32(md.ControllerID)
		for _, b := range md.Brokers {
			bi := brokerInfo{ID: int32(b.NodeID), Host: b.Host, Port: b.Port}
			if b.Rack != nil {
				bi.Rack = *b.Rack
			}
			ci.Brokers = append(ci.Brokers, bi)
		}
	}
	sort.Slice(ci.Brokers, func(i, j int) bool { return ci.Brokers[i].ID < ci.Brokers[j].ID })
	return ci, nil
}

func runClusterInfo(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "cluster info")
	_, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	ci, err := describeCluster(cctx, cl)
	if err != nil {
		return s.exit(err)
	}
	if s.output == "json" {
		return s.exit(writeJSON(e.Stdout, ci))
	}
	fmt.Fprintf(e.Stdout, "CLUSTER\n  id:          %s\n  controller:  %d\n\nBROKERS\n", ci.ClusterID, ci.Controller)
	tb := newTable(e.Stdout, "  ID", "HOST", "PORT", "RACK", "STATE")
	for _, b := range ci.Brokers {
		id := strconv.Itoa(int(b.ID))
		if b.ID == ci.Controller {
			id += "*"
		}
		state := "active"
		if b.Fenced {
			state = "fenced"
		}
		rack := b.Rack
		if rack == "" {
			rack = "-"
		}
		tb.row("  "+id, b.Host, b.Port, rack, state)
	}
	tb.flush()
	return exitOK
}

// healthReport is `spool cluster health`: rpk's fields, with Kafka's
// definitions of under-replicated and offline partitions.
type healthReport struct {
	Healthy                  bool     `json:"healthy"`
	Reasons                  []string `json:"unhealthy_reasons"`
	ClusterID                string   `json:"cluster_id"`
	Controller               int32    `json:"controller"`
	Brokers                  []int32  `json:"brokers"`
	BrokersDown              []int32  `json:"brokers_down"`
	UnderReplicatedCount     int      `json:"under_replicated_partitions"`
	OfflineCount             int      `json:"offline_partitions"`
	UnderReplicatedPartition []string `json:"under_replicated,omitempty"`
	OfflinePartition         []string `json:"offline,omitempty"`
}

// checkHealth builds the report. A broker counts as down when it is fenced,
// when it holds replicas but is not registered, or when it does not answer
// a connection of its own (a dead broker stays registered until its session
// times out, so the direct check notices first).
func checkHealth(ctx context.Context, cl *Client) (healthReport, error) {
	h := healthReport{Reasons: []string{}, Brokers: []int32{}, BrokersDown: []int32{}}
	ci, err := describeCluster(ctx, cl)
	if err != nil {
		return h, err
	}
	h.ClusterID, h.Controller = ci.ClusterID, ci.Controller
	down := map[int32]bool{}
	known := map[int32]bool{}
	for _, b := range ci.Brokers {
		h.Brokers = append(h.Brokers, b.ID)
		known[b.ID] = true
		if b.Fenced {
			down[b.ID] = true
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := cl.Broker(pctx, protocol.BrokerID(b.ID), &protocol.ApiVersionsRequest{ClientSoftwareName: "spool-cli", ClientSoftwareVersion: "1"})
		cancel()
		if err != nil {
			down[b.ID] = true
		}
	}
	topics, err := describeTopics(ctx, cl, nil)
	if err != nil && topics == nil {
		return h, err
	}
	for _, t := range topics {
		for _, p := range t.Partitions {
			name := fmt.Sprintf("%s-%d", t.Topic, p.Partition)
			for _, r := range p.Replicas {
				if !known[r] {
					down[r] = true
				}
			}
			if p.unavailable() || down[p.Leader] {
				h.OfflineCount++
				h.OfflinePartition = append(h.OfflinePartition, name)
			} else if p.underReplicated() {
				h.UnderReplicatedCount++
				h.UnderReplicatedPartition = append(h.UnderReplicatedPartition, name)
			}
		}
	}
	for id := range down {
		h.BrokersDown = append(h.BrokersDown, id)
	}
	slices.Sort(h.BrokersDown)
	if h.Controller < 0 {
		h.Reasons = append(h.Reasons, "no active controller")
	}
	if len(h.BrokersDown) > 0 {
		h.Reasons = append(h.Reasons, "brokers down: "+joinIDs(h.BrokersDown))
	}
	if h.OfflineCount > 0 {
		h.Reasons = append(h.Reasons, fmt.Sprintf("%d offline partitions", h.OfflineCount))
	}
	if h.UnderReplicatedCount > 0 {
		h.Reasons = append(h.Reasons, fmt.Sprintf("%d under-replicated partitions", h.UnderReplicatedCount))
	}
	h.Healthy = len(h.Reasons) == 0
	return h, nil
}

func runClusterHealth(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "cluster health")
	_, cl, cctx, done, err := s.start(ctx, args)
	if err != nil {
		return s.exit(err)
	}
	defer done()
	h, err := checkHealth(cctx, cl)
	if err != nil {
		// An unreachable cluster is an unhealthy one: say so in the
		// requested format as well as on stderr, and exit 1.
		if s.output == "json" {
			h.Reasons = append(h.Reasons, err.Error())
			_ = writeJSON(e.Stdout, h)
		}
		return s.exit(err)
	}
	if s.output == "json" {
		_ = writeJSON(e.Stdout, h)
	} else {
		fmt.Fprintf(e.Stdout, "CLUSTER HEALTH OVERVIEW\n=======================\n")
		fmt.Fprintf(e.Stdout, "Healthy:                      %t\n", h.Healthy)
		fmt.Fprintf(e.Stdout, "Unhealthy reasons:            %s\n", strings.Join(h.Reasons, "; "))
		fmt.Fprintf(e.Stdout, "Controller ID:                %d\n", h.Controller)
		fmt.Fprintf(e.Stdout, "All nodes:                    %s\n", joinIDs(h.Brokers))
		fmt.Fprintf(e.Stdout, "Nodes down:                   %s\n", joinIDs(h.BrokersDown))
		fmt.Fprintf(e.Stdout, "Offline partitions:           %d %s\n", h.OfflineCount, strings.Join(h.OfflinePartition, ","))
		fmt.Fprintf(e.Stdout, "Under-replicated partitions:  %d %s\n", h.UnderReplicatedCount, strings.Join(h.UnderReplicatedPartition, ","))
	}
	if !h.Healthy {
		return exitFail
	}
	return exitOK
}

// runHealthcheck checks the node this process runs beside: it reads the
// node's configuration the way `spool serve` does (built-in defaults, an
// optional server.properties, KAFKA_* variables), connects to its first
// PLAINTEXT client listener, and requires that the node answers Metadata and
// lists itself among the registered brokers.
func runHealthcheck(ctx context.Context, e *Env, args []string) int {
	s := newSetup(e, "healthcheck")
	cfgPath := s.fs.String("config", "", "the node's server.properties (its KAFKA_* variables are read too)")
	s.timeout = 5 * time.Second
	s.fs.Lookup("timeout").DefValue = "5s"
	if _, err := parse(s.fs, args); err != nil {
		return s.exit(flagError{err})
	}
	nodeID := int32(-1)
	if s.bootstrap == "" {
		var environ []string
		if e.Environ != nil {
			environ = e.Environ()
		}
		cfg, _, err := config.Load(*cfgPath, environ)
		if err != nil {
			return s.exit(fmt.Errorf("read the node's configuration: %w", err))
		}
		addr, err := localListener(cfg)
		if err != nil {
			return s.exit(err)
		}
		s.bootstrap, nodeID = addr, cfg.NodeID
	}
	cl, err := s.client(e)
	if err != nil {
		return s.exit(err)
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	md, err := cl.Metadata(cctx, []string{})
	if err != nil {
		return s.exit(fmt.Errorf("node not serving: %w", err))
	}
	if nodeID >= 0 && !slices.ContainsFunc(md.Brokers, func(b protocol.MetadataResponseBroker) bool { return int32(b.NodeID) == nodeID }) {
		return s.exit(fmt.Errorf("node %d answers on %s but is not registered with the controller yet", nodeID, s.bootstrap))
	}
	if md.ErrorCode != errcode.None {
		return s.exit(codeErr(md.ErrorCode, nil, "metadata"))
	}
	fmt.Fprintf(e.Stdout, "ok: node %d serving on %s (%d brokers, controller %d)\n", nodeID, s.bootstrap, len(md.Brokers), md.ControllerID)
	return exitOK
}

// nodeListener is the local node's client listener when the environment
// configures one the apache/kafka way (KAFKA_LISTENERS, as in the container
// images), so `podman exec kafka spool topic list` needs no flag; "" otherwise.
func nodeListener(e *Env) string {
	if e.Environ == nil || e.Getenv("KAFKA_LISTENERS") == "" {
		return ""
	}
	cfg, _, err := config.Load("", e.Environ())
	if err != nil {
		return ""
	}
	addr, err := localListener(cfg)
	if err != nil {
		return ""
	}
	return addr
}

// localListener is the address to reach cfg's first PLAINTEXT client
// listener from the same host.
func localListener(cfg *config.Broker) (string, error) {
	for _, l := range cfg.Listeners {
		if slices.Contains(cfg.ControllerListenerNames, l.Name) || !strings.EqualFold(l.SecurityProtocol, "PLAINTEXT") {
			continue
		}
		host := l.Host
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		return net.JoinHostPort(host, strconv.Itoa(l.Port)), nil
	}
	return "", errors.New("the node has no PLAINTEXT client listener to check; pass --bootstrap-server")
}
