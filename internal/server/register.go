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
	register(h, protocol.KeyApiVersions, 0, 5, b.handleApiVersions)
	register(h, protocol.KeyMetadata, 0, 13, b.handleMetadata)
	register(h, protocol.KeyProduce, 0, 13, b.handleProduce)
	register(h, protocol.KeyFetch, 4, 18, b.handleFetch)
	register(h, protocol.KeyListOffsets, 0, 11, b.handleListOffsets)
	register(h, protocol.KeyCreateTopics, 0, 7, b.handleCreateTopics)
	register(h, protocol.KeyDeleteTopics, 0, 6, b.handleDeleteTopics)
	register(h, protocol.KeyDeleteRecords, 0, 2, b.handleDeleteRecords)
	register(h, protocol.KeyOffsetForLeaderEpoch, 0, 4, b.handleOffsetForLeaderEpoch)
	register(h, protocol.KeyDescribeConfigs, 0, 4, b.handleDescribeConfigs)
	register(h, protocol.KeyAlterConfigs, 0, 2, b.handleAlterConfigs)
	register(h, protocol.KeyDescribeLogDirs, 0, 5, b.handleDescribeLogDirs)
	register(h, protocol.KeyAlterReplicaLogDirs, 0, 2, b.handleAlterReplicaLogDirs)
	register(h, protocol.KeyAddRaftVoter, 0, 1, b.handleAddRaftVoter)
	register(h, protocol.KeyRemoveRaftVoter, 0, 0, b.handleRemoveRaftVoter)
	register(h, protocol.KeyCreatePartitions, 0, 3, b.handleCreatePartitions)
	register(h, protocol.KeyElectLeaders, 0, 2, b.handleElectLeaders)
	register(h, protocol.KeyIncrementalAlterConfigs, 0, 1, b.handleIncrementalAlterConfigs)
	register(h, protocol.KeyAlterPartitionReassignments, 0, 1, b.handleAlterPartitionReassignments)
	register(h, protocol.KeyListPartitionReassignments, 0, 0, b.handleListPartitionReassignments)
	register(h, protocol.KeyDescribeCluster, 0, 2, b.handleDescribeCluster)
	register(h, protocol.KeyDescribeTopicPartitions, 0, 0, b.handleDescribeTopicPartitions)
	register(h, protocol.KeySaslHandshake, 0, 1, b.handleSaslHandshake)
	register(h, protocol.KeySaslAuthenticate, 0, 2, b.handleSaslAuthenticate)
	register(h, protocol.KeyDescribeAcls, 0, 3, b.handleDescribeAcls)
	register(h, protocol.KeyCreateAcls, 0, 3, b.handleCreateAcls)
	register(h, protocol.KeyDeleteAcls, 0, 3, b.handleDeleteAcls)
	register(h, protocol.KeyDescribeUserScramCredentials, 0, 0, b.handleDescribeUserScramCredentials)
	register(h, protocol.KeyAlterUserScramCredentials, 0, 0, b.handleAlterUserScramCredentials)
	register(h, protocol.KeyCreateDelegationToken, 1, 3, b.handleCreateDelegationToken)
	register(h, protocol.KeyRenewDelegationToken, 1, 2, b.handleRenewDelegationToken)
	register(h, protocol.KeyExpireDelegationToken, 1, 2, b.handleExpireDelegationToken)
	register(h, protocol.KeyDescribeDelegationToken, 1, 3, b.handleDescribeDelegationToken)
	register(h, protocol.KeyDescribeQuorum, 0, 2, b.handleDescribeQuorum)     // forwarded to the controller
	register(h, protocol.KeyUnregisterBroker, 0, 0, b.handleUnregisterBroker) // forwarded to the controller
	register(h, protocol.KeyUpdateFeatures, 0, 2, b.handleUpdateFeatures)     // forwarded to the controller
	register(h, protocol.KeyDescribeClientQuotas, 0, 1, b.handleDescribeClientQuotas)
	register(h, protocol.KeyAlterClientQuotas, 0, 1, b.handleAlterClientQuotas)
	register(h, protocol.KeyGetTelemetrySubscriptions, 0, 0, b.handleGetTelemetrySubscriptions)
	register(h, protocol.KeyPushTelemetry, 0, 0, b.handlePushTelemetry)
	register(h, protocol.KeyListConfigResources, 0, 1, b.handleListConfigResources)
	b.registerGroupHandlers(h) // keys 8-16, 42, 47, 68, 69, 88, 89: groups.go
	b.registerTxnHandlers(h)   // keys 22, 24, 26, 27, 61, 65, 66: txn.go
	b.registerShareHandlers(h) // keys 76-79, 83-87, 90-92: share.go
	return h
}
