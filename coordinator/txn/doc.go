// Package txn is the transaction coordinator (KIP-98): it owns the state of
// every transactional.id whose __transaction_state partition this broker
// leads, and drives each transaction from Empty through Ongoing and
// PrepareCommit/PrepareAbort to CompleteCommit/CompleteAbort.
//
// Placement: a transactional.id belongs to partition
// abs(javaHashCode(id)) % transaction.state.log.num.partitions, as in Kafka.
//
// Persistence: every state change is appended to that partition (Log) as a
// TransactionLogKey (version 0: transactional id) / TransactionLogValue
// (version 0: producer id, epoch, timeout, status, partitions, timestamps)
// record in Kafka's own schemas, and replayed when the broker becomes the
// partition's leader (Load). A transaction found in PrepareCommit or
// PrepareAbort after a reload is completed: its markers are written again.
//
// Markers: ending a transaction writes COMMIT or ABORT control batches to
// every partition in it (Markers), then records the Complete state.
// Transactions open longer than their timeout are aborted proactively and
// their producer is fenced by an epoch bump.
//
// Concurrency: the Coordinator's methods are safe for concurrent use; one
// mutex serializes state changes, including their log and marker writes.
package txn
