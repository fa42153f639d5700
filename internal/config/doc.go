// Package config owns Spool's broker configuration and its catalogue of
// Kafka-compatible broker and topic configs.
//
// Sources, lowest precedence first:
//
//	built-in defaults (Kafka 4.3's, plus Spool's zero-config single node)
//	  < server.properties (Java properties syntax)
//	  < environment (apache/kafka image convention: KAFKA_FOO_BAR -> foo.bar)
//
// Load parses and validates everything once and returns an immutable *Broker.
// Nothing in this package starts goroutines or holds locks: a *Broker and the
// catalogue are read-only after Load and safe for concurrent readers. Dynamic
// overrides (AlterConfigs) are owned by the controller; callers pass them in to
// ResolveTopic, ResolveBroker and LogConfigForTopic as plain maps.
//
// Errors are Go errors naming the property, the bad value and what is allowed;
// the request handlers turn them into INVALID_CONFIG / INVALID_REQUEST codes.
//
// The broker catalogue (brokerdefs.go) marks each property supported, ignored
// (with what happens instead) or refused (support.go); Broker.Caveats reports
// ignored settings at startup. Security fails closed: protections.go holds the
// one table of protections (TLS, SASL and its mechanisms, client
// certificates, ACLs) and whether each is implemented, and
// Broker.CheckProtections refuses any setting that asks for an unimplemented
// one. Loading such a configuration succeeds; starting it does not.
package config
