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
// (version 0: producer id, epoch, timeout, status, partitions, timestamps;
// version 1 once transaction.version 2 is finalized, adding the tagged
// PreviousProducerId, NextProducerId and ClientTransactionVersion; layouts
// in records.go) record in Kafka's own schemas, and replayed when the broker becomes the
// partition's leader (Load). A transaction found in PrepareCommit or
// PrepareAbort after a reload is completed: its markers are written again.
//
// Transaction version 2 (KIP-890 part 2): a transaction started by a
// Produce v12+ or TxnOffsetCommit v5+ implicit add, or ended by EndTxn v5+,
// records ClientTransactionVersion 2. Its every commit and abort bumps the
// producer epoch before the markers are written (an exhausted epoch moves
// to a new producer id, NextProducerId), so a late write of the finished
// transaction is fenced in each partition, and EndTxn returns the epoch to
// continue with. Which rules an EndTxn follows is the request's version's
// choice (v5+: version 2), not the transaction's: at version 2 an abort is
// accepted even with no transaction open (the client's records never
// reached the broker), and bumps the epoch like any other end.
// VerifyPartitions serves KIP-890 part 1 verification.
//
// Markers: ending a transaction records PrepareCommit/PrepareAbort, writes
// COMMIT or ABORT control batches to every partition in it (Markers: the
// broker appends those it leads and sends WriteTxnMarkers to the leaders
// of the others, retrying until all are written; a deleted partition needs
// none), then records the Complete state. Until then the transaction stays
// in its Prepare state: a broker that takes over the partition (Load)
// writes the markers again, and an Ongoing transaction it finds stays open
// for its producer to end, or is aborted when it times out, as in Kafka.
// Transactions open longer than their timeout are aborted proactively and
// their producer is fenced by an epoch bump.
//
// Concurrency: the Coordinator's methods are safe for concurrent use. One
// mutex guards the state, but is not held while a state record waits to
// be committed (the id is marked pending: other changes to it wait for
// that write, where Kafka answers CONCURRENT_TRANSACTIONS) nor while markers are
// written: a completion goroutine per transaction writes them (Markers
// sends them to the partitions' leaders) and then the Complete state.
// EndTxn and InitProducerId wait for it a bounded time.
package txn
