// Command gen generates Spool's Kafka protocol messages and error codes from
// Kafka's JSON message specs (see protocol/doc.go and `make generate`).
//
//	go run ./protocol/internal/gen -specs DIR -old-specs DIR[,DIR...] -errors FILE -out protocol
//
// -specs holds the specs of the newest supported release (4.4.0) and
// -old-specs those of older releases, newest first (4.3.1, then the last 3.x
// release 3.9.2, whose old versions Kafka 4.x removed, KIP-896); they are
// merged from the oldest up, each release's versions below its floor coming
// from the releases before it, and the output serves the union. Every generated file
// is named zz_*_gen.go; stale ones in -out are removed.
package main
