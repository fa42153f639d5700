// Package node is Spool's composition root: it builds one process's parts
// (the metadata quorum member, the storage manager and the broker role) in
// Kafka's start-up order and stops them in reverse.
//
// # Shape
//
//	Start       meta.properties → controller (raft) → storage.Manager →
//	            broker role: Listen → register with the controller → Start
//	Close       broker Shutdown (finish in-flight requests) → broker Close →
//	            storage Close (clean-shutdown marker) → controller Close
//
// The broker role (the Kafka API over the hosted partitions) lives in
// internal/server, which imports this package for BrokerDeps and the Broker
// interface; cmd/spool hands node.Start the constructor
// server.NewNodeBroker. The dependency points from server to node so that
// server's own integration tests can start whole nodes.
//
// # Concurrency
//
// Start and Close are called once each, from one goroutine. Everything the
// node starts is stopped by Close before it returns.
package node
