package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// TestErrorsCountedAtDispatch checks that request_errors_total counts, for
// every API, each error code of the response as it is sent at the request's
// version, once, with no help from the handler.
func TestErrorsCountedAtDispatch(t *testing.T) {
	b := &Broker{handlers: map[int16]apiHandler{}}
	register(b.handlers, protocol.KeyProduce, 0, 13, func(ctx context.Context, rc *reqCtx, req *protocol.ProduceRequest) (*protocol.ProduceResponse, error) {
		return &protocol.ProduceResponse{Responses: []protocol.ProduceResponseTopicProduceResponse{
			{PartitionResponses: []protocol.ProduceResponsePartitionProduceResponse{
				{ErrorCode: errcode.NotLeaderOrFollower}, {}, {ErrorCode: errcode.NotLeaderOrFollower},
			}},
			{PartitionResponses: []protocol.ProduceResponsePartitionProduceResponse{{ErrorCode: errcode.UnknownTopicOrPartition}}},
		}}, nil
	})
	register(b.handlers, protocol.KeyEndTxn, 0, 5, func(ctx context.Context, rc *reqCtx, req *protocol.EndTxnRequest) (*protocol.EndTxnResponse, error) {
		return &protocol.EndTxnResponse{ErrorCode: errcode.InvalidProducerEpoch}, nil
	})
	register(b.handlers, protocol.KeyHeartbeat, 0, 4, func(ctx context.Context, rc *reqCtx, req *protocol.HeartbeatRequest) (*protocol.HeartbeatResponse, error) {
		return &protocol.HeartbeatResponse{ErrorCode: errcode.RebalanceInProgress}, nil
	})
	register(b.handlers, protocol.KeyOffsetFetch, 0, 10, func(ctx context.Context, rc *reqCtx, req *protocol.OffsetFetchRequest) (*protocol.OffsetFetchResponse, error) {
		// As the v0-1 handler answers: the group's code on every partition,
		// and in the top-level field, which v0-1 do not send.
		return &protocol.OffsetFetchResponse{ErrorCode: errcode.NotCoordinator, Topics: []protocol.OffsetFetchResponseTopic{
			{Partitions: []protocol.OffsetFetchResponsePartition{{ErrorCode: errcode.NotCoordinator}}},
		}}, nil
	})
	reg := prometheus.NewRegistry()
	s := &Server{broker: b, metrics: newServerMetrics(reg, nil), logger: zaptest.NewLogger(t)}
	cfg, _, err := config.Load("", nil)
	require.NoError(t, err)
	s.quotas = newServerQuotas(cfg, reg, s.logger)
	c := &conn{s: s, ctx: context.Background(), logger: s.logger}

	for _, r := range []struct {
		key, version int16
	}{
		{protocol.KeyProduce, 9},
		{protocol.KeyEndTxn, 3},
		{protocol.KeyEndTxn, 5},
		{protocol.KeyHeartbeat, 4},
		{protocol.KeyOffsetFetch, 1},
	} {
		f := &inflight{
			hdr:      protocol.RequestHeader{RequestAPIKey: r.key, RequestAPIVersion: r.version},
			req:      protocol.NewRequest(r.key),
			received: time.Now(),
		}
		require.NoError(t, c.handle(f))
		require.NotEmpty(t, f.out)
	}

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != "kafka_network_requestmetrics_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["request"]+" "+labels["error"]] = m.GetCounter().GetValue()
		}
	}
	require.Equal(t, map[string]float64{
		"Produce NOT_LEADER_OR_FOLLOWER":     2,
		"Produce UNKNOWN_TOPIC_OR_PARTITION": 1,
		"EndTxn INVALID_PRODUCER_EPOCH":      2,
		"Heartbeat REBALANCE_IN_PROGRESS":    1,
		"OffsetFetch NOT_COORDINATOR":        1,
	}, got)
}

// BenchmarkCountErrors measures counting a response's errors at dispatch
// against encoding the same response, which every request pays anyway, for
// Produce and Fetch responses of 1, 100 and 1000 partitions without errors
// (the common case) and with one on every partition:
//
//	go test -run '^$' -bench CountErrors -benchtime 1s -count 3 ./internal/server/
func BenchmarkCountErrors(b *testing.B) {
	produce := func(n int, code int16) protocol.Response {
		t := protocol.ProduceResponseTopicProduceResponse{Name: "topic"}
		for i := range n {
			t.PartitionResponses = append(t.PartitionResponses, protocol.ProduceResponsePartitionProduceResponse{
				Index: int32(i), ErrorCode: code, BaseOffset: 1000, LogAppendTimeMs: -1, LogStartOffset: 0})
		}
		return &protocol.ProduceResponse{Responses: []protocol.ProduceResponseTopicProduceResponse{t}}
	}
	fetch := func(n int, code int16) protocol.Response {
		t := protocol.FetchResponseFetchableTopicResponse{Topic: "topic"}
		for i := range n {
			t.Partitions = append(t.Partitions, protocol.FetchResponsePartitionData{
				PartitionIndex: int32(i), ErrorCode: code, HighWatermark: 1000, LastStableOffset: 1000, Records: []byte{}})
		}
		return &protocol.FetchResponse{Responses: []protocol.FetchResponseFetchableTopicResponse{t}}
	}
	sm := newServerMetrics(nil, nil)
	c := &conn{s: &Server{metrics: sm}}
	for _, api := range []struct {
		name string
		key  int16
		v    int16
		make func(int, int16) protocol.Response
	}{{"Produce", protocol.KeyProduce, 9, produce}, {"Fetch", protocol.KeyFetch, 12, fetch}} {
		for _, n := range []int{1, 100, 1000} {
			for _, code := range []int16{0, errcode.NotLeaderOrFollower} {
				resp := api.make(n, code)
				name := fmt.Sprintf("%s/%dpartitions/%s", api.name, n, errName(code))
				b.Run(name+"/count", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						c.countErrors(sm.requests.Series(api.key, false), api.v, resp)
					}
				})
				b.Run(name+"/encode", func(b *testing.B) {
					b.ReportAllocs()
					buf := make([]byte, 0, 64<<10)
					for b.Loop() {
						out, err := protocol.AppendResponse(buf[:0], 1, api.key, api.v, resp)
						if err != nil {
							b.Fatal(err)
						}
						buf = out
					}
				})
			}
		}
	}
}
