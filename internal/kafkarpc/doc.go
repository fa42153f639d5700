// Package kafkarpc is the node's client for Kafka requests to other nodes
// of the same cluster: controller RPCs (registration, heartbeats,
// forwarded metadata writes, the observers' metadata fetches) and
// inter-broker requests such as WriteTxnMarkers.
//
// A Client pools connections per address; a connection carries one request
// at a time, so a long-polling Fetch on one never delays a heartbeat or a
// marker on another. Both ends are Spool, so a request is sent at the
// newest stable version of its API. Client is safe for concurrent use.
package kafkarpc
