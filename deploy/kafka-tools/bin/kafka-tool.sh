#!/bin/sh
# Runs an Apache Kafka CLI tool; each kafka-*.sh in this directory links here.
name=$(basename "$0" .sh)
case $name in
kafka-topics) main=org.apache.kafka.tools.TopicCommand ;;
kafka-console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
kafka-console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
kafka-consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
kafka-configs) main=kafka.admin.ConfigCommand ;;
kafka-broker-api-versions) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
kafka-get-offsets) main=org.apache.kafka.tools.GetOffsetShell ;;
kafka-delete-records) main=org.apache.kafka.tools.DeleteRecordsCommand ;;
kafka-producer-perf-test) main=org.apache.kafka.tools.ProducerPerformance ;;
kafka-consumer-perf-test) main=org.apache.kafka.tools.ConsumerPerformance ;;
kafka-transactions) main=org.apache.kafka.tools.TransactionsCommand ;;
kafka-log-dirs) main=org.apache.kafka.tools.LogDirsCommand ;;
kafka-reassign-partitions) main=org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
kafka-leader-election) main=org.apache.kafka.tools.LeaderElectionCommand ;;
kafka-acls) main=kafka.admin.AclCommand ;;
*) echo "$name: not shipped in the Spool image" >&2; exit 2 ;;
esac
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -cp "/opt/kafka/libs/*" "$main" "$@"
