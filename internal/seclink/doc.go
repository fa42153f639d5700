// Package seclink secures the links of a Spool node: how a listener
// authenticates the connections it accepts (Listener, built from Kafka's
// listener-prefixed ssl.* and sasl.* properties; used by the client
// listeners in internal/server and by the CONTROLLER listener in
// internal/node, where Accept runs the handshake), and how a node or the
// spool CLI dials out as a client (Dialer: TCP, then TLS, then
// SaslHandshake v1 and SaslAuthenticate v2 with the credentials of the
// broker's own configuration).
//
// Which listener and mechanism a node dials with, as Kafka:
//
//	replica fetchers, broker to broker   inter.broker.listener.name (or the listener named by
//	                                     security.inter.broker.protocol) with
//	                                     sasl.mechanism.inter.broker.protocol
//	raft, registration, heartbeats,      controller.listener.names[0] with
//	forwarded metadata writes, observers sasl.mechanism.controller.protocol
//
// Credentials come from the listener's own configuration, as Kafka's
// broker takes them: username and password from
// listener.name.<l>.<mechanism>.sasl.jaas.config (the same entry whose
// user_<name> options are the PLAIN users the listener accepts); the
// truststore, and for mutual TLS the keystore, from the listener's ssl.*
// properties (listener.name.<l>.ssl.* over ssl.*).
//
// # Concurrency
//
// Listener and Dialer are read-only once built and safe for concurrent use.
// Accept and Dial run on the caller's goroutine and own the connection
// until they return it.
package seclink
