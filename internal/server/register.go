package server

import "github.com/spool-broker/spool/protocol"

// registerHandlers lists every API this broker serves and the versions it
// serves of each. ApiVersions advertises exactly this table.
//
// Version floors: Kafka 4.3's floors, lowered to what Kafka 3.9 served where
// the handler supports the old versions (old sarama, kafka-python and
// librdkafka builds still use them). Fetch stays at 4+: versions 0-3 would
// need message-format down-conversion, which Kafka 4 dropped too.
func (b *Broker) registerHandlers() map[int16]apiHandler {
	h := map[int16]apiHandler{}
	register(h, protocol.KeyApiVersions, 0, 4, b.handleApiVersions)
	register(h, protocol.KeyMetadata, 0, 13, b.handleMetadata)
	register(h, protocol.KeyProduce, 0, 13, b.handleProduce)
	register(h, protocol.KeyFetch, 4, 18, b.handleFetch)
	register(h, protocol.KeyListOffsets, 0, 11, b.handleListOffsets)
	return h
}
