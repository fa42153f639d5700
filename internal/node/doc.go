// Package node is Spool's composition root: it builds one process's parts
// for its process.roles, starts them in Kafka's order and stops them in
// reverse.
//
// # Roles
//
//	broker,controller  quorum member (controller.Controller) + broker
//	controller         quorum member only: the CONTROLLER listener, no
//	                   client listener, no partitions, never registered
//	broker             broker following the metadata log as an observer
//	                   (controller.Observer), found through
//	                   controller.quorum.voters or .bootstrap.servers
//
// A controller must be listed in controller.quorum.voters (a controller
// with only controller.quorum.bootstrap.servers is allowed standalone: the
// list is its own CONTROLLER listener). A node of a multi-node cluster
// needs CLUSTER_ID.
//
// # The CONTROLLER listener
//
// One port carries raft and Kafka's controller RPCs. A raft connection
// opens with the 10-byte preamble "SPOOLRAFT1"; listener.go peeks at each
// new connection and hands it to raft's NetworkTransport (through a
// raft.StreamLayer) or to the RPC loop, which answers requests one at a
// time with controller.HandleRPC. A Kafka frame starts with its int32
// size; "SP" as its top bytes would be a frame over 1.3 GB, which no
// socket.request.max.bytes allows, so the two never collide.
//
// # Start-up (broker role), as Kafka's BrokerServer
//
//	bind client listeners (ports known; connections wait in the backlog)
//	lifecycle: BrokerRegistration, retried with back-off until a controller
//	           leader exists (Start does not wait for it)
//	heartbeats until the controller says IsCaughtUp (the local image holds
//	           this broker's registration record, hence everything before)
//	broker.Start(image): open and reconcile partitions, follow metadata
//	heartbeat WantFence=false → unfenced (the controller gives back the
//	           leaderships of partitions with no other live ISR member)
//	broker.Serve: accept client connections → Ready closes
//
// (Kafka accepts requests before the broker is unfenced; Spool waits, so
// clients queued in the backlog do not see a restarted single node's
// partitions leaderless.)
//
// Start waits for Ready only when the quorum is this node alone, so a
// single node returns ready (in about 0.1 s) and cluster nodes may start in
// any order.
//
// # Shutdown
//
//	controlled shutdown (controlled.shutdown.enable, ctx not done):
//	           heartbeats with WantShutDown until ShouldShutDown, at most
//	           broker.session.timeout.ms
//	broker Shutdown (finish in-flight requests) → stop heartbeats →
//	broker Close → storage Close (clean-shutdown marker) → observer /
//	controller (an active controller hands leadership over first) →
//	CONTROLLER listener
//
// The broker role (the Kafka API over the hosted partitions) lives in
// internal/server, which imports this package for BrokerDeps and the
// Broker interface; cmd/spool hands Start the constructor
// server.NewNodeBroker. The dependency points from server to node so that
// server's own integration tests can start whole nodes.
//
// # Concurrency
//
// Start and Close are called once each, from one goroutine; Close may run
// while the node is still becoming ready. Node owns two goroutines besides
// its parts': becomeReady (waits for catch-up, starts the broker, asks to
// be unfenced) and the lifecycle's run loop (the only one that touches the
// registration and heartbeat state; the node signals it through channels).
// Close cancels and waits for both.
package node
