package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

// handleUnregisterBroker forwards UnregisterBroker (kafka-cluster
// unregister) to the active controller, which takes the broker out of
// every ISR and leadership and removes its registration. A broker that is
// still running registers again.
func (b *Broker) handleUnregisterBroker(ctx context.Context, rc *reqCtx, req *protocol.UnregisterBrokerRequest) (*protocol.UnregisterBrokerResponse, error) {
	resp := &protocol.UnregisterBrokerResponse{}
	if err := b.ctrl.UnregisterBroker(ctx, int32(req.BrokerID)); err != nil {
		code, msg := controllerErrorCode(err)
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		b.metrics.errors.WithLabelValues("UnregisterBroker", errName(code)).Inc()
		return resp, nil
	}
	b.syncImage()
	return resp, nil
}
