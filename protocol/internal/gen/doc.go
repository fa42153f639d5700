// Command gen generates Spool's Kafka protocol messages and error codes from
// Kafka's JSON message specs (see protocol/doc.go and `make generate`).
//
//	go run ./protocol/internal/gen -specs DIR -old-specs DIR -errors FILE -out protocol
//
// -specs holds the specs of the newest supported release (4.3.1) and
// -old-specs those of the last 3.x release (3.9.2), whose old versions Kafka
// 4.x removed (KIP-896); the output serves the union. Every generated file
// is named zz_*_gen.go; stale ones in -out are removed.
package main
