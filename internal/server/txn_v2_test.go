package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/protocol/records"
)

// rawConn sends requests at exactly the version the test asks for, which
// kgo does not let a caller pin.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	r    *bufio.Reader
	f    *kmsg.RequestFormatter
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c), f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))}
}

func (rc *rawConn) do(req kmsg.Request, version int16) kmsg.Response {
	rc.t.Helper()
	req.SetVersion(version)
	rc.corr++
	require.NoError(rc.t, rc.c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := rc.c.Write(rc.f.AppendRequest(nil, req, rc.corr))
	require.NoError(rc.t, err)
	var size [4]byte
	_, err = io.ReadFull(rc.r, size[:])
	require.NoError(rc.t, err)
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err = io.ReadFull(rc.r, body)
	require.NoError(rc.t, err)
	require.Equal(rc.t, rc.corr, int32(binary.BigEndian.Uint32(body)))
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(version)
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		body = body[1:] // empty tagged fields of the response header
	}
	require.NoError(rc.t, resp.ReadFrom(body))
	return resp
}

func (rc *rawConn) initProducer(id string) (int64, int16) {
	rc.t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = kmsg.StringPtr(id)
	req.TransactionTimeoutMillis = 60000
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp := rc.do(req, 5).(*kmsg.InitProducerIDResponse)
	require.Zero(rc.t, resp.ErrorCode)
	return resp.ProducerID, resp.ProducerEpoch
}

// produceTxn sends one transactional batch and returns the partition's code.
func (rc *rawConn) produceTxn(version int16, id, topic string, pid int64, epoch int16, seq int32, value string) int16 {
	rc.t.Helper()
	opts := records.NewBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional = pid, epoch, seq, true
	batch, err := records.AppendBatch(nil, opts, []records.Record{{Timestamp: time.Now().UnixMilli(), Value: []byte(value)}})
	require.NoError(rc.t, err)
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID = kmsg.StringPtr(id)
	req.Acks, req.TimeoutMillis = -1, 5000
	tr := kmsg.NewProduceRequestTopic()
	tr.Topic = topic
	pr := kmsg.NewProduceRequestTopicPartition()
	pr.Records = batch
	tr.Partitions = append(tr.Partitions, pr)
	req.Topics = append(req.Topics, tr)
	resp := rc.do(req, version).(*kmsg.ProduceResponse)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (rc *rawConn) endTxn(version int16, id string, pid int64, epoch int16, commit bool) *kmsg.EndTxnResponse {
	rc.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	return rc.do(req, version).(*kmsg.EndTxnResponse)
}

func (rc *rawConn) findCoordinator(id string) {
	rc.t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKeys = 1, []string{id}
	require.Eventually(rc.t, func() bool {
		resp := rc.do(req, 4).(*kmsg.FindCoordinatorResponse)
		return resp.Coordinators[0].ErrorCode == 0
	}, 10*time.Second, 50*time.Millisecond)
	// Wait until the coordinator has loaded its partition.
	require.Eventually(rc.t, func() bool {
		ip := kmsg.NewPtrInitProducerIDRequest()
		ip.TransactionalID, ip.TransactionTimeoutMillis, ip.ProducerID, ip.ProducerEpoch = kmsg.StringPtr(id+"-probe"), 60000, -1, -1
		return rc.do(ip, 5).(*kmsg.InitProducerIDResponse).ErrorCode == 0
	}, 10*time.Second, 50*time.Millisecond)
}

func errName16(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

// TestTransactionVersion2Raw drives KIP-890 part 2 at the wire: produce v12
// adds its partition without AddPartitionsToTxn, every EndTxn v5 bumps the
// epoch (and says so), markers fence the finished epoch, and a retried
// EndTxn is answered with the bumped epoch.
func TestTransactionVersion2Raw(t *testing.T) {
	n := startTestNode(t)
	txnTestTopic(t, n, "tv2", 1)
	rc := dialRaw(t, n.addr)
	rc.findCoordinator("tv2-id")
	pid, epoch := rc.initProducer("tv2-id")

	for i, commit := range []bool{true, false, true} {
		code := rc.produceTxn(12, "tv2-id", "tv2", pid, epoch, 0, "v")
		require.Equal(t, "NONE", errName16(code), "transaction %d", i)
		end := rc.endTxn(5, "tv2-id", pid, epoch, commit)
		require.Zero(t, end.ErrorCode)
		require.Equal(t, pid, end.ProducerID)
		require.Equal(t, epoch+1, end.ProducerEpoch, "EndTxn v5 bumps the epoch")
		// A retry of the same EndTxn is recognised and answered alike.
		retry := rc.endTxn(5, "tv2-id", pid, epoch, commit)
		require.Zero(t, retry.ErrorCode)
		require.Equal(t, end.ProducerEpoch, retry.ProducerEpoch)
		// A zombie write of the finished transaction is fenced by the
		// marker's epoch.
		code = rc.produceTxn(12, "tv2-id", "tv2", pid, epoch, 1, "zombie")
		require.Equal(t, errName16(int16(kerr.InvalidProducerEpoch.Code)), errName16(code))
		epoch = end.ProducerEpoch
	}
	require.ElementsMatch(t, []string{"v", "v"}, txnConsumeAll(t, n, "tv2", true))

	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr))
	require.NoError(t, err)
	defer cl.Close()
	desc, err := kadm.NewClient(cl).DescribeTransactions(context.Background(), "tv2-id")
	require.NoError(t, err)
	require.Equal(t, "CompleteCommit", desc["tv2-id"].State)
	require.Equal(t, epoch, desc["tv2-id"].ProducerEpoch)
}

// TestTransactionVersion2AbortWithoutPartitions: a transaction.version 2
// producer sends EndTxn(abort) for a transaction whose records never
// reached the broker (the application aborted after a rebalance while they
// were still buffered). As in Kafka, such an abort at the current epoch is
// accepted with no transaction open, in Empty, CompleteCommit and
// CompleteAbort, and bumps the epoch; the producer goes on with it. A
// commit there is INVALID_TXN_STATE, and a retried abort is answered with
// the epoch it got.
func TestTransactionVersion2AbortWithoutPartitions(t *testing.T) {
	n := startTestNode(t)
	txnTestTopic(t, n, "tv2e", 1)
	rc := dialRaw(t, n.addr)
	rc.findCoordinator("tv2e-id")
	pid, epoch := rc.initProducer("tv2e-id")

	abort := func(state string) {
		t.Helper()
		end := rc.endTxn(5, "tv2e-id", pid, epoch, false)
		require.Equal(t, "NONE", errName16(end.ErrorCode), "abort in %s", state)
		require.Equal(t, pid, end.ProducerID)
		require.Equal(t, epoch+1, end.ProducerEpoch, "abort in %s bumps the epoch", state)
		retry := rc.endTxn(5, "tv2e-id", pid, epoch, false)
		require.Equal(t, "NONE", errName16(retry.ErrorCode), "retried abort in %s", state)
		require.Equal(t, end.ProducerEpoch, retry.ProducerEpoch)
		epoch = end.ProducerEpoch
	}
	commitTxn := func(value string) {
		t.Helper()
		require.Equal(t, "NONE", errName16(rc.produceTxn(12, "tv2e-id", "tv2e", pid, epoch, 0, value)))
		end := rc.endTxn(5, "tv2e-id", pid, epoch, true)
		require.Equal(t, "NONE", errName16(end.ErrorCode))
		epoch = end.ProducerEpoch
	}

	abort("Empty")
	commitTxn("one")
	abort("CompleteCommit")
	abort("CompleteAbort")
	code := rc.endTxn(5, "tv2e-id", pid, epoch, true).ErrorCode
	require.Equal(t, kerr.InvalidTxnState.Error(), errName16(code), "a commit with nothing to commit")
	commitTxn("two")
	require.Equal(t, []string{"one", "two"}, txnConsumeAll(t, n, "tv2e", true))

	// Before transaction version 2 an abort with no transaction stays
	// INVALID_TXN_STATE, and the epoch is never bumped.
	rc.findCoordinator("tv1e-id")
	pid1, epoch1 := rc.initProducer("tv1e-id")
	code = rc.endTxn(4, "tv1e-id", pid1, epoch1, false).ErrorCode
	require.Equal(t, kerr.InvalidTxnState.Error(), errName16(code))
}

// TestTransactionVerificationRaw is KIP-890 part 1: a transaction.version
// 0/1 client's transactional produce to a partition it did not add is
// rejected, with the error its produce version understands, and EndTxn
// below v5 keeps the epoch.
func TestTransactionVerificationRaw(t *testing.T) {
	n := startTestNode(t)
	txnTestTopic(t, n, "tv1", 1)
	rc := dialRaw(t, n.addr)
	rc.findCoordinator("tv1-id")
	pid, epoch := rc.initProducer("tv1-id")

	for _, tc := range []struct {
		version int16
		want    error
	}{
		{version: 9, want: kerr.InvalidTxnState},
		{version: 10, want: kerr.InvalidTxnState},
		{version: 11, want: kerr.TransactionAbortable},
	} {
		code := rc.produceTxn(tc.version, "tv1-id", "tv1", pid, epoch, 0, "stray")
		require.Equal(t, tc.want.Error(), errName16(code), "produce v%d", tc.version)
	}

	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "tv1-id", pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "tv1", []int32{0}
	add.Topics = append(add.Topics, at)
	ar := rc.do(add, 3).(*kmsg.AddPartitionsToTxnResponse)
	require.Zero(t, ar.Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, "NONE", errName16(rc.produceTxn(11, "tv1-id", "tv1", pid, epoch, 0, "ok")))
	require.Equal(t, "NONE", errName16(rc.produceTxn(11, "tv1-id", "tv1", pid, epoch, 1, "ok")))
	end := rc.endTxn(4, "tv1-id", pid, epoch, true)
	require.Zero(t, end.ErrorCode)
	// After the marker the partition is out of the transaction again.
	code := rc.produceTxn(11, "tv1-id", "tv1", pid, epoch, 2, "late")
	require.Equal(t, kerr.TransactionAbortable.Error(), errName16(code))
	require.Equal(t, []string{"ok", "ok"}, txnConsumeAll(t, n, "tv1", true))
}

// TestTransactionVersion2Kgo checks that franz-go negotiates
// transaction.version 2 with Spool: once it has the cluster's features, each
// of its commits bumps the epoch by one. (Its very first transaction may
// start before the features are known, so it is not counted.)
func TestTransactionVersion2Kgo(t *testing.T) {
	n := startTestNode(t)
	txnTestTopic(t, n, "kgo2", 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.TransactionalID("kgo2-id"))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var epochs []int16
	for i := 0; i < 4; i++ {
		produceTxn(t, cl, "kgo2", "r", 4, true)
		desc, err := adm.DescribeTransactions(context.Background(), "kgo2-id")
		require.NoError(t, err)
		require.Equal(t, "CompleteCommit", desc["kgo2-id"].State)
		epochs = append(epochs, desc["kgo2-id"].ProducerEpoch)
	}
	for i := 2; i < len(epochs); i++ {
		require.Equal(t, epochs[i-1]+1, epochs[i], "epochs %v", epochs)
	}
	require.Len(t, txnConsumeAll(t, n, "kgo2", true), 16)
}

// TestTransactionalIDExpiration: an id idle for transactional.id.expiration.ms
// after its last transaction is removed, and stays removed after a restart
// (its tombstone is replayed); the next InitProducerId starts afresh.
func TestTransactionalIDExpiration(t *testing.T) {
	n := startTestNode(t, "KAFKA_TRANSACTIONAL_ID_EXPIRATION_MS=1000",
		"KAFKA_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS=200")
	txnTestTopic(t, n, "exp", 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.TransactionalID("exp-id"))
	require.NoError(t, err)
	produceTxn(t, cl, "exp", "r", 2, true)
	cl.Close()

	adm, err := kgo.NewClient(kgo.SeedBrokers(n.addr))
	require.NoError(t, err)
	defer adm.Close()
	describe := func() error {
		desc, err := kadm.NewClient(adm).DescribeTransactions(context.Background(), "exp-id")
		if err != nil {
			return err
		}
		return desc["exp-id"].Err
	}
	require.NoError(t, describe())
	require.Eventually(t, func() bool { return errors.Is(describe(), kerr.TransactionalIDNotFound) }, 10*time.Second, 100*time.Millisecond)

	n.restart()
	require.Eventually(t, func() bool { return errors.Is(describe(), kerr.TransactionalIDNotFound) }, 10*time.Second, 100*time.Millisecond)
	cl2, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.TransactionalID("exp-id"))
	require.NoError(t, err)
	defer cl2.Close()
	produceTxn(t, cl2, "exp", "again", 2, true)
	require.Len(t, txnConsumeAll(t, n, "exp", true), 4)
}
