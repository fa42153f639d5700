package controller

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// The dynamic controller quorum (KIP-853) on hashicorp/raft.
//
// Kafka keeps the voter set in VotersRecords of the metadata log; Spool's
// voter set is hashicorp/raft's configuration, which raft replicates and
// persists the same way. The Kafka RPCs map onto it:
//
//	AddRaftVoter(id, dir, endpoint)   leader: checks as Kafka's AddVoterHandler,
//	                                  raft AddNonvoter → wait until its raft
//	                                  log reaches the commit index → AddVoter
//	RemoveRaftVoter(id, dir)          leader: raft DemoteVoter (the node learns
//	                                  it is no longer a voter, so a restart
//	                                  does not campaign) → RemoveServer
//	UpdateRaftVoter(id, dir, endpoint) voter → leader once per leader epoch:
//	                                  the leader learns the voter's directory
//	                                  ID and a changed address
//
// A controller that is not a voter in its raft configuration (started with
// only controller.quorum.bootstrap.servers, or removed) runs an Observer
// that fetches the metadata log from the leader with its node and
// directory ID, as Kafka's observers do: the leader lists it among the
// observers of DescribeQuorum and knows whether it is caught up, which
// AddRaftVoter requires.
//
// Directory IDs are the leader's soft state (members.dirs): from
// AddRaftVoter, UpdateRaftVoter and observers' fetches. A new leader
// relearns them within a membership tick from the voters' UpdateRaftVoter.
//
// Like Kafka, the leader runs one voter change at a time and refuses
// changes unless kraft.version is 1: a quorum started from
// controller.quorum.bootstrap.servers finalizes 1, one from
// controller.quorum.voters 0 until `kafka-features.sh upgrade --feature
// kraft.version=1`.

// KRaftVersionFeature is the finalized level of the quorum protocol:
// 0 static voters (controller.quorum.voters), 1 dynamic (KIP-853).
const KRaftVersionFeature = "kraft.version"

// observerSessionTimeout is how long the leader lists an observer that
// stopped fetching (Kafka's LeaderState.OBSERVER_SESSION_TIMEOUT_MS).
const observerSessionTimeout = 5 * time.Minute

// membershipTick is how often a controller checks whether it is a voter
// (starting or stopping its observer) and announces itself to a new leader.
const membershipTick = 250 * time.Millisecond

// members is the dynamic-quorum state of one controller.
type members struct {
	mu sync.Mutex
	// dirs are the voters' directory IDs as far as this node knows them.
	dirs map[int32]protocol.UUID
	// changing is set while the leader runs a voter change.
	changing bool
	// announced is the leader epoch this voter last sent UpdateRaftVoter
	// in (-1 none).
	announced int32
	// obs follows the quorum while this node is not a voter. Only
	// runMembership starts and stops it.
	obs *Observer
	rpc *kafkarpc.Client
	// soleTimed is set while raft runs with a sole voter's timing (50 ms
	// heartbeat timeout) that runMembership relaxes once there are more
	// voters. Only runMembership reads it after Open.
	soleTimed bool
}

func (m *members) dir(id int32) (protocol.UUID, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[id]
	return d, ok
}

func (m *members) setDir(id int32, dir protocol.UUID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirs[id] = dir
}

// begin claims the single voter-change slot.
func (m *members) begin() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changing {
		return false
	}
	m.changing = true
	return true
}

func (m *members) end() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changing = false
}

// replicaKey prints a voter as Kafka's ReplicaKey.toString does.
func replicaKey(id int32, dir protocol.UUID) string {
	return fmt.Sprintf("ReplicaKey(id=%d, directoryId=%s)", id, uuidString(dir))
}

// uuidString prints a UUID as Kafka's Uuid.toString (URL-safe base64, no
// padding).
func uuidString(u protocol.UUID) string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// ParseUUID reads a UUID as Kafka's Uuid.fromString (meta.properties'
// directory.id).
func ParseUUID(s string) (protocol.UUID, error) {
	var u protocol.UUID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(u) {
		return u, fmt.Errorf("controller: %q is not a UUID", s)
	}
	copy(u[:], b)
	return u, nil
}

// rpcClient is the connection pool for voter-change RPCs (ApiVersions to a
// new voter, UpdateRaftVoter to the leader).
func (c *Controller) rpcClient() *kafkarpc.Client {
	c.members.mu.Lock()
	defer c.members.mu.Unlock()
	if c.members.rpc == nil {
		c.members.rpc = kafkarpc.NewDialing("spool-controller-"+strconv.Itoa(int(c.cfg.NodeID)), c.cfg.Dial)
	}
	return c.members.rpc
}

// raftServers returns the latest raft configuration (committed or not) and
// the index it was written at.
func (c *Controller) raftServers() ([]raft.Server, uint64) {
	f := c.raft.GetConfiguration()
	if f.Error() != nil {
		return nil, 0
	}
	return f.Configuration().Servers, f.Index()
}

// voterIDs are the node IDs with a vote in the latest configuration.
func (c *Controller) voterIDs() []int32 {
	servers, _ := c.raftServers()
	var out []int32
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if id, err := strconv.ParseInt(string(s.ID), 10, 32); err == nil {
			out = append(out, int32(id))
		}
	}
	slices.Sort(out)
	return out
}

// IsVoter reports whether this node has a vote in its latest raft
// configuration.
func (c *Controller) IsVoter() bool { return slices.Contains(c.voterIDs(), c.cfg.NodeID) }

// voterKeys prints the voter set as Kafka's VoterSet.voterKeys does.
func (c *Controller) voterKeys() string {
	var keys []string
	for _, id := range c.voterIDs() {
		d, _ := c.members.dir(id)
		keys = append(keys, replicaKey(id, d))
	}
	return "[" + strings.Join(keys, ", ") + "]"
}

// runMembership keeps this node's role in step with the raft
// configuration: an observer while it is not a voter, and as a voter it
// tells each new leader its directory ID and endpoint (UpdateRaftVoter).
func (c *Controller) runMembership(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(membershipTick)
	defer t.Stop()
	for {
		if c.members.soleTimed && len(c.voterIDs()) > 1 {
			// The multi-voter defaults of doc.go (the leader lease is not
			// reloadable and keeps the sole voter's).
			rc := c.raft.ReloadableConfig()
			rc.HeartbeatTimeout, rc.ElectionTimeout = 500*time.Millisecond, 500*time.Millisecond
			if err := c.raft.ReloadConfig(rc); err == nil {
				c.members.soleTimed = false
			}
		}
		if c.IsVoter() {
			c.stopObserving()
			c.announce(ctx)
		} else {
			c.startObserving()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startObserving starts fetching the metadata log as an observer.
func (c *Controller) startObserving() {
	c.members.mu.Lock()
	defer c.members.mu.Unlock()
	if c.members.obs != nil {
		return
	}
	var bootstrap []string
	for _, a := range c.cfg.Bootstrap {
		if a != c.cfg.Advertise {
			bootstrap = append(bootstrap, a)
		}
	}
	var voters []Voter
	for _, v := range c.cfg.Voters {
		if v.ID != c.cfg.NodeID {
			voters = append(voters, v)
		}
	}
	servers, _ := c.raftServers()
	for _, s := range servers {
		if id, err := strconv.ParseInt(string(s.ID), 10, 32); err == nil && int32(id) != c.cfg.NodeID {
			voters = append(voters, Voter{ID: int32(id), Addr: string(s.Address)})
		}
	}
	if len(bootstrap) == 0 && len(voters) == 0 {
		return
	}
	obs, err := OpenObserver(ObserverConfig{
		NodeID: c.cfg.NodeID, DirectoryID: c.cfg.DirectoryID, ClusterID: c.cfg.ClusterID,
		Voters: voters, Bootstrap: bootstrap, Logger: c.logger.Named("observer"),
		FetchTimeout: c.cfg.FetchTimeout, Dial: c.cfg.Dial,
		fsm: c.fsm, startOffset: int64(c.Image().Offset()) + 1,
	})
	if err != nil {
		c.logger.Warn("cannot observe the metadata quorum", zap.Error(err))
		return
	}
	c.logger.Info("not a voter of the metadata quorum: observing it")
	c.members.obs = obs
}

// stopObserving stops the observer, if any.
func (c *Controller) stopObserving() {
	c.members.mu.Lock()
	obs := c.members.obs
	c.members.obs = nil
	c.members.mu.Unlock()
	if obs != nil {
		_ = obs.Close()
		c.logger.Info("voter of the metadata quorum: stopped observing")
	}
}

// closeMembers stops the observer and the RPC pool (Close).
func (c *Controller) closeMembers() {
	c.members.mu.Lock()
	obs, rpc := c.members.obs, c.members.rpc
	c.members.obs, c.members.rpc = nil, nil
	c.members.mu.Unlock()
	if rpc != nil {
		rpc.Close()
	}
	if obs != nil {
		_ = obs.Close()
		c.logger.Info("voter of the metadata quorum: stopped observing")
	}
}

// observer is the running observer, or nil.
func (c *Controller) observer() *Observer {
	c.members.mu.Lock()
	defer c.members.mu.Unlock()
	return c.members.obs
}

// appliedIndex is how far this member applied the metadata log: raft's
// applied index, or the observer's while it fetches ahead of raft.
func (c *Controller) appliedIndex() uint64 {
	n := c.raft.AppliedIndex()
	if o := c.observer(); o != nil {
		n = max(n, o.applied.Load())
	}
	return n
}

// announce sends UpdateRaftVoter to a leader that has not heard from this
// voter in its epoch, once kraft.version allows it.
func (c *Controller) announce(ctx context.Context) {
	if c.raft.State() == raft.Leader {
		return
	}
	id, addr, ok := c.leaderEndpoint()
	term := c.term()
	c.members.mu.Lock()
	done := c.members.announced == term
	c.members.mu.Unlock()
	if !ok || id == c.cfg.NodeID || done || c.Image().Feature(KRaftVersionFeature) < 1 {
		return
	}
	host, port := splitEndpoint(c.cfg.Advertise)
	clusterID := c.cfg.ClusterID
	req := &protocol.UpdateRaftVoterRequest{
		CurrentLeaderEpoch: term, VoterID: c.cfg.NodeID, VoterDirectoryID: c.cfg.DirectoryID,
		Listeners:           []protocol.UpdateRaftVoterRequestListener{{Name: c.cfg.ListenerName, Host: host, Port: uint16(port)}},
		KRaftVersionFeature: protocol.UpdateRaftVoterRequestKRaftVersionFeature{MinSupportedVersion: 0, MaxSupportedVersion: 1},
	}
	if clusterID != "" {
		req.ClusterID = &clusterID
	}
	rpc := c.rpcClient()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r, err := rpc.Call(cctx, addr, req)
	if err != nil {
		c.logger.Debug("update raft voter", zap.Error(err))
		return
	}
	if code := r.(*protocol.UpdateRaftVoterResponse).ErrorCode; code != 0 {
		c.logger.Debug("update raft voter refused", zap.String("error", errcode.Name(code)))
		return
	}
	c.members.mu.Lock()
	c.members.announced = term
	c.members.mu.Unlock()
}

// listenerAddr finds the endpoint of this quorum's controller listener.
func (c *Controller) listenerAddr(names []string, hosts []string, ports []uint16) (string, bool) {
	for i, n := range names {
		if strings.EqualFold(n, c.cfg.ListenerName) {
			return net.JoinHostPort(hosts[i], strconv.Itoa(int(ports[i]))), true
		}
	}
	return "", false
}

// voterChangeReady runs the checks every voter change shares (Kafka's
// handlers 1-3): leader with an established high watermark, kraft.version
// 1, and no uncommitted configuration. what is "adding" or "removing".
func (c *Controller) voterChangeReady(what string) (int16, string) {
	if !c.ready.Load() {
		return errcode.RequestTimedOut, "Request timed out waiting for leader to establish HWM and fence previous voter changes"
	}
	if lvl := c.Image().Feature(KRaftVersionFeature); lvl < 1 {
		return errcode.UnsupportedVersion, fmt.Sprintf("Cluster doesn't support %s voter because the %s feature is %d", what, KRaftVersionFeature, lvl)
	}
	if _, idx := c.raftServers(); idx > c.raft.CommitIndex() {
		return errcode.RequestTimedOut, fmt.Sprintf("Request timed out waiting for voters to commit the latest voter change at %d with HWM %d", idx, c.raft.CommitIndex()+1)
	}
	return 0, ""
}

func (c *Controller) clusterIDMismatch(id *string) (string, bool) {
	if id == nil || *id == c.cfg.ClusterID {
		return "", false
	}
	return fmt.Sprintf("The given id \"%s\" doesn't match the cluster id \"%s\"", *id, c.cfg.ClusterID), true
}

// handleAddRaftVoter adds a caught-up observer to the voters (Kafka's
// KafkaRaftClient.handleAddVoterRequest and AddVoterHandler).
func (c *Controller) handleAddRaftVoter(ctx context.Context, r *protocol.AddRaftVoterRequest) *protocol.AddRaftVoterResponse {
	resp := &protocol.AddRaftVoterResponse{}
	fail := func(code int16, msg string) *protocol.AddRaftVoterResponse {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp
	}
	if msg, bad := c.clusterIDMismatch(r.ClusterID); bad {
		return fail(errcode.InconsistentClusterID, msg)
	}
	if c.raft.State() != raft.Leader {
		return fail(errcode.NotLeaderOrFollower, "")
	}
	if r.VoterID < 0 || r.VoterDirectoryID == (protocol.UUID{}) {
		return fail(errcode.InvalidRequest, "Add voter request didn't include a valid voter")
	}
	var names, hosts []string
	var ports []uint16
	for _, l := range r.Listeners {
		names, hosts, ports = append(names, l.Name), append(hosts, l.Host), append(ports, l.Port)
	}
	addr, ok := c.listenerAddr(names, hosts, ports)
	if !ok {
		return fail(errcode.InvalidRequest, fmt.Sprintf("Add voter request didn't include the endpoint (%s) for the default listener %s", endpointsString(names, hosts, ports), c.cfg.ListenerName))
	}
	key := replicaKey(r.VoterID, r.VoterDirectoryID)
	if !c.members.begin() {
		return fail(errcode.RequestTimedOut, "Request timed out waiting for leader to handle previous voter change request")
	}
	defer c.members.end()
	if code, msg := c.voterChangeReady("adding"); code != 0 {
		return fail(code, msg)
	}
	if slices.Contains(c.voterIDs(), r.VoterID) {
		return fail(errcode.DuplicateVoter, fmt.Sprintf("The voter id for %s is already part of the set of voters %s.", key, c.voterKeys()))
	}
	timeout := time.Duration(r.TimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The new voter must answer ApiVersions on its controller listener and
	// support the finalized kraft.version.
	actx, acancel := context.WithTimeout(ctx, 5*time.Second)
	av, err := c.rpcClient().Call(actx, addr, &protocol.ApiVersionsRequest{ClientSoftwareName: "apache-kafka-java", ClientSoftwareVersion: "4.3.1"})
	acancel()
	if err != nil {
		return fail(errcode.RequestTimedOut, fmt.Sprintf("New voter %s is not ready to receive requests", key))
	}
	lvl := c.Image().Feature(KRaftVersionFeature)
	supported := false
	rangeText := "(min: 0, max: 0)"
	for _, f := range av.(*protocol.ApiVersionsResponse).SupportedFeatures {
		if f.Name == KRaftVersionFeature {
			rangeText = fmt.Sprintf("(min: %d, max: %d", f.MinVersion, f.MaxVersion)
			supported = f.MinVersion <= lvl && lvl <= f.MaxVersion
		}
	}
	if !supported {
		return fail(errcode.InvalidRequest, fmt.Sprintf("Aborted add voter operation for %s since the %s range %s doesn't support the finalized version %d", key, KRaftVersionFeature, rangeText, lvl))
	}
	if !c.observerCaughtUp(r.VoterID, r.VoterDirectoryID, time.Now()) {
		return fail(errcode.RequestTimedOut, fmt.Sprintf("Aborted add voter operation for %s since it is lagging behind", key))
	}

	// raft: replicate to it without a vote until its log holds what is
	// committed now, then give it the vote.
	sid, saddr := raft.ServerID(strconv.Itoa(int(r.VoterID))), raft.ServerAddress(addr)
	if err := c.raft.AddNonvoter(sid, saddr, 0, timeout).Error(); err != nil {
		return fail(errcode.RequestTimedOut, fmt.Sprintf("Aborted add voter operation for %s: %v", key, err))
	}
	target := c.raft.CommitIndex()
	if !c.waitReplicated(ctx, sid, target) {
		_ = c.raft.RemoveServer(sid, 0, timeout).Error()
		return fail(errcode.RequestTimedOut, fmt.Sprintf("Aborted add voter operation for %s since it is lagging behind", key))
	}
	if err := c.raft.AddVoter(sid, saddr, 0, timeout).Error(); err != nil {
		return fail(errcode.RequestTimedOut, fmt.Sprintf("Aborted add voter operation for %s: %v", key, err))
	}
	c.members.setDir(r.VoterID, r.VoterDirectoryID)
	c.logger.Info("added voter to the metadata quorum", zap.Int32("voter_id", r.VoterID), zap.String("directory_id", uuidString(r.VoterDirectoryID)),
		zap.String("addr", addr), zap.String("voters", c.voterKeys()))
	return resp
}

// waitReplicated waits until raft's log on server id reaches index.
func (c *Controller) waitReplicated(ctx context.Context, id raft.ServerID, index uint64) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if st, ok := c.voters.get(id); ok && st.lastLog >= index {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// handleRemoveRaftVoter removes a voter (Kafka's RemoveVoterHandler). A
// leader that removes itself steps down once the change commits.
func (c *Controller) handleRemoveRaftVoter(ctx context.Context, r *protocol.RemoveRaftVoterRequest) *protocol.RemoveRaftVoterResponse {
	resp := &protocol.RemoveRaftVoterResponse{}
	fail := func(code int16, msg string) *protocol.RemoveRaftVoterResponse {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp
	}
	if msg, bad := c.clusterIDMismatch(r.ClusterID); bad {
		return fail(errcode.InconsistentClusterID, msg)
	}
	if c.raft.State() != raft.Leader {
		return fail(errcode.NotLeaderOrFollower, "")
	}
	if r.VoterID < 0 || r.VoterDirectoryID == (protocol.UUID{}) {
		return fail(errcode.InvalidRequest, "Remove voter request didn't include a valid voter")
	}
	if !c.members.begin() {
		return fail(errcode.RequestTimedOut, "Request timed out waiting for leader to handle previous voter change request")
	}
	defer c.members.end()
	if code, msg := c.voterChangeReady("removing"); code != 0 {
		return fail(code, msg)
	}
	key := replicaKey(r.VoterID, r.VoterDirectoryID)
	voters := c.voterIDs()
	dir, known := c.members.dir(r.VoterID)
	if !slices.Contains(voters, r.VoterID) || (known && dir != r.VoterDirectoryID) || len(voters) == 1 {
		return fail(errcode.VoterNotFound, fmt.Sprintf("Cannot remove voter %s from the set of voters %s", key, c.voterKeys()))
	}
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	sid := raft.ServerID(strconv.Itoa(int(r.VoterID)))
	if r.VoterID != c.cfg.NodeID {
		// Demote first so the voter's own log says it has no vote: a
		// restart then observes instead of campaigning. A voter that is
		// down does not get this; it is removed all the same.
		f := c.raft.DemoteVoter(sid, 0, timeout)
		if err := f.Error(); err != nil {
			return fail(errcode.RequestTimedOut, fmt.Sprintf("Request timed out removing voter %s: %v", key, err))
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c.waitReplicated(wctx, sid, f.Index())
		cancel()
	}
	if err := c.raft.RemoveServer(sid, 0, timeout).Error(); err != nil {
		return fail(errcode.RequestTimedOut, fmt.Sprintf("Request timed out removing voter %s: %v", key, err))
	}
	c.logger.Info("removed voter from the metadata quorum", zap.Int32("voter_id", r.VoterID), zap.String("directory_id", uuidString(r.VoterDirectoryID)),
		zap.String("voters", c.voterKeys()))
	return resp
}

// handleUpdateRaftVoter records a voter's directory ID and endpoint
// (Kafka's UpdateVoterHandler; voters send it to each new leader).
func (c *Controller) handleUpdateRaftVoter(r *protocol.UpdateRaftVoterRequest) *protocol.UpdateRaftVoterResponse {
	resp := &protocol.UpdateRaftVoterResponse{}
	resp.CurrentLeader = protocol.UpdateRaftVoterResponseCurrentLeader{LeaderID: -1, LeaderEpoch: c.term()}
	if id, addr, ok := c.leaderEndpoint(); ok {
		host, port := splitEndpoint(addr)
		resp.CurrentLeader = protocol.UpdateRaftVoterResponseCurrentLeader{LeaderID: protocol.BrokerID(id), LeaderEpoch: c.term(), Host: host, Port: int32(port)}
	}
	fail := func(code int16) *protocol.UpdateRaftVoterResponse {
		resp.ErrorCode = code
		return resp
	}
	if _, bad := c.clusterIDMismatch(r.ClusterID); bad {
		return fail(errcode.InconsistentClusterID)
	}
	switch term := c.term(); {
	case r.CurrentLeaderEpoch < term:
		return fail(errcode.FencedLeaderEpoch)
	case r.CurrentLeaderEpoch > term:
		return fail(errcode.UnknownLeaderEpoch)
	}
	if c.raft.State() != raft.Leader {
		return fail(errcode.NotLeaderOrFollower)
	}
	var names, hosts []string
	var ports []uint16
	for _, l := range r.Listeners {
		names, hosts, ports = append(names, l.Name), append(hosts, l.Host), append(ports, l.Port)
	}
	addr, ok := c.listenerAddr(names, hosts, ports)
	kv := r.KRaftVersionFeature
	if r.VoterID < 0 || r.VoterDirectoryID == (protocol.UUID{}) || !ok ||
		kv.MinSupportedVersion < 0 || kv.MaxSupportedVersion < kv.MinSupportedVersion {
		return fail(errcode.InvalidRequest)
	}
	if c.Image().Feature(KRaftVersionFeature) < 1 {
		return fail(errcode.UnsupportedVersion)
	}
	servers, _ := c.raftServers()
	var current *raft.Server
	for i := range servers {
		if servers[i].ID == raft.ServerID(strconv.Itoa(int(r.VoterID))) && servers[i].Suffrage == raft.Voter {
			current = &servers[i]
		}
	}
	if current == nil {
		return fail(errcode.VoterNotFound)
	}
	if dir, known := c.members.dir(r.VoterID); known && dir != r.VoterDirectoryID && dir != (protocol.UUID{}) {
		return fail(errcode.VoterNotFound)
	}
	if string(current.Address) != addr {
		if !c.members.begin() {
			return fail(errcode.RequestTimedOut)
		}
		err := c.raft.AddVoter(current.ID, raft.ServerAddress(addr), 0, 10*time.Second).Error()
		c.members.end()
		if err != nil {
			return fail(errcode.RequestTimedOut)
		}
	}
	c.members.setDir(r.VoterID, r.VoterDirectoryID)
	return resp
}

func endpointsString(names, hosts []string, ports []uint16) string {
	var parts []string
	for i := range names {
		parts = append(parts, fmt.Sprintf("%s=%s/<unresolved>:%d", names[i], hosts[i], ports[i]))
	}
	return "Endpoints(endpoints={" + strings.Join(parts, ", ") + "})"
}

// observerCaughtUp reports whether an observer with this key fetched up to
// the leader's log end within the fetch timeout (Kafka's
// LeaderState.isReplicaCaughtUp).
func (c *Controller) observerCaughtUp(id int32, dir protocol.UUID, now time.Time) bool {
	c.observers.mu.Lock()
	defer c.observers.mu.Unlock()
	st, ok := c.observers.m[id]
	if !ok || (st.dirID != (protocol.UUID{}) && st.dirID != dir) || st.caughtUpAt.IsZero() {
		return false
	}
	return now.Sub(st.caughtUpAt) <= c.cfg.FetchTimeout
}

// handleDescribeCluster answers DescribeCluster on the controller listener
// (kafka-*.sh --bootstrap-controller): the voters' controller endpoints and
// the active controller (Kafka's ControllerApis with EndpointType
// CONTROLLER).
func (c *Controller) handleDescribeCluster(v int16, r *protocol.DescribeClusterRequest) *protocol.DescribeClusterResponse {
	const controllerEndpoint = 2
	resp := &protocol.DescribeClusterResponse{ClusterID: c.cfg.ClusterID, ControllerID: -1, EndpointType: controllerEndpoint,
		ClusterAuthorizedOperations: -2147483648, Brokers: []protocol.DescribeClusterResponseDescribeClusterBroker{}}
	if r.EndpointType != controllerEndpoint {
		code := errcode.MismatchedEndpointType
		msg := fmt.Sprintf("The request was sent to an endpoint of type CONTROLLER, but we wanted an endpoint of type %s", endpointTypeName(r.EndpointType))
		if r.EndpointType != 1 {
			code, msg = errcode.UnsupportedEndpointType, fmt.Sprintf("Unsupported endpoint type %d", r.EndpointType)
		}
		if v == 0 {
			code = errcode.InvalidRequest
		}
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		resp.EndpointType = r.EndpointType
		return resp
	}
	leader, _, _ := c.leaderEndpoint()
	servers, _ := c.raftServers()
	for _, s := range servers {
		id, err := strconv.ParseInt(string(s.ID), 10, 32)
		if err != nil || s.Suffrage != raft.Voter {
			continue
		}
		host, port := splitEndpoint(string(s.Address))
		resp.Brokers = append(resp.Brokers, protocol.DescribeClusterResponseDescribeClusterBroker{BrokerID: protocol.BrokerID(id), Host: host, Port: int32(port)})
		if int32(id) == leader {
			resp.ControllerID = protocol.BrokerID(id)
		}
	}
	return resp
}

func endpointTypeName(t int8) string {
	switch t {
	case 1:
		return "BROKER"
	case 2:
		return "CONTROLLER"
	}
	return "UNKNOWN"
}

// ChangeRaftVoters implements Client: it answers an AddRaftVoter or
// RemoveRaftVoter request as the controller listener does.
func (c *Controller) ChangeRaftVoters(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	switch r := req.(type) {
	case *protocol.AddRaftVoterRequest:
		return c.handleAddRaftVoter(ctx, r), nil
	case *protocol.RemoveRaftVoterRequest:
		return c.handleRemoveRaftVoter(ctx, r), nil
	}
	return nil, fmt.Errorf("%w: %T is not a voter change", ErrInvalidRequest, req)
}
