package controller

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/wire"
)

// Envelope (API key 58) is how Kafka's brokers forward a client's request
// to the active controller with the client's principal, so the controller
// decides as the client: RequestData is the inner request (header and
// body, no size prefix), RequestPrincipal the principal as Kafka's
// DefaultKafkaPrincipalBuilder serializes it, ClientHostAddress the
// client's IP bytes; the answer's ResponseData is the inner response
// (header and body). Spool forwards the delegation token writes this way,
// because their outcome depends on who asks (owner, requester, renewers);
// the controller listener serves Envelope only to principals that may
// CLUSTER_ACTION (internal/node: unauthenticatedAdminWrite), as Kafka.
// The other forwarded writes are authorized at the forwarding broker and
// sent as plain requests (security_rpc.go).

// principalDataVersion is DefaultPrincipalData's version.
const principalDataVersion = 0

// EncodePrincipal is Kafka's DefaultKafkaPrincipalBuilder.serialize: the
// version-prefixed DefaultPrincipalData (flexible v0: compact strings Type
// and Name, the token-authenticated flag, no tagged fields).
func EncodePrincipal(p auth.Principal, tokenAuthenticated bool) []byte {
	b := wire.AppendInt16(nil, principalDataVersion)
	b = wire.AppendCompactString(b, p.Type)
	b = wire.AppendCompactString(b, p.Name)
	b = wire.AppendBool(b, tokenAuthenticated)
	return wire.AppendUvarint(b, 0)
}

// DecodePrincipal reads EncodePrincipal's bytes.
func DecodePrincipal(b []byte) (auth.Principal, bool, error) {
	r := wire.NewReader(b)
	if v := r.Int16(); r.Err() == nil && v != principalDataVersion {
		return auth.Principal{}, false, fmt.Errorf("controller: principal data version %d", v)
	}
	p := auth.Principal{Type: r.CompactString(), Name: r.CompactString()}
	token := r.Bool()
	for n := r.Uvarint(); n > 0 && r.Err() == nil; n-- { // tagged fields: skipped
		r.Uvarint()
		size := r.Uvarint()
		if int(size) > r.Len() {
			return auth.Principal{}, false, fmt.Errorf("controller: principal data: %w", wire.ErrShort)
		}
		r.Reset(r.Remaining()[size:])
	}
	if err := r.Err(); err != nil {
		return auth.Principal{}, false, fmt.Errorf("controller: principal data: %w", err)
	}
	if p.Type == "" {
		return auth.Principal{}, false, errors.New("controller: principal data without a type")
	}
	return p, token, nil
}

// envelopeVersions are the versions of the APIs this package forwards in
// an Envelope.
var envelopeVersions = map[int16]int16{
	protocol.KeyCreateDelegationToken: 3,
	protocol.KeyRenewDelegationToken:  2,
	protocol.KeyExpireDelegationToken: 2,
}

// wrapEnvelope puts req, sent by p from host, in an Envelope; it returns
// the inner version, which the answer is decoded at.
func wrapEnvelope(req protocol.Request, p auth.Principal, host string) (*protocol.EnvelopeRequest, int16, error) {
	v, ok := envelopeVersions[req.APIKey()]
	if !ok {
		return nil, 0, fmt.Errorf("controller: api key %d is not forwarded in an envelope", req.APIKey())
	}
	clientID := "spool-forwarder"
	hdr := protocol.RequestHeader{RequestAPIKey: req.APIKey(), RequestAPIVersion: v, ClientID: &clientID}
	frame, err := protocol.AppendRequest(nil, &hdr, req)
	if err != nil {
		return nil, 0, fmt.Errorf("controller: envelope: %w", err)
	}
	env := &protocol.EnvelopeRequest{RequestData: frame[4:], RequestPrincipal: EncodePrincipal(p, false)}
	if ip := net.ParseIP(host); ip != nil {
		if ip4 := ip.To4(); ip4 != nil {
			ip = ip4
		}
		env.ClientHostAddress = ip
	}
	return env, v, nil
}

// unwrapEnvelope reads the inner response of an Envelope answer.
func unwrapEnvelope(resp protocol.Response, key, v int16) (protocol.Response, error) {
	env, ok := resp.(*protocol.EnvelopeResponse)
	if !ok {
		return nil, fmt.Errorf("controller: envelope answered with key %d", resp.APIKey())
	}
	if env.ErrorCode != 0 {
		return nil, CodeError(env.ErrorCode, nil)
	}
	_, inner, err := protocol.DecodeResponse(env.ResponseData, key, v)
	if err != nil {
		return nil, fmt.Errorf("controller: envelope: %w", err)
	}
	return inner, nil
}

// handleEnvelope answers an Envelope: the inner request runs as the
// principal it carries. Only the delegation token writes are accepted
// (INVALID_REQUEST otherwise); an unreadable principal is
// PRINCIPAL_DESERIALIZATION_FAILURE, as Kafka.
func (c *Controller) handleEnvelope(ctx context.Context, env *protocol.EnvelopeRequest) *protocol.EnvelopeResponse {
	p, _, err := DecodePrincipal(env.RequestPrincipal)
	if err != nil {
		return &protocol.EnvelopeResponse{ErrorCode: errcode.PrincipalDeserializationFailure}
	}
	host := ""
	if len(env.ClientHostAddress) == net.IPv4len || len(env.ClientHostAddress) == net.IPv6len {
		host = net.IP(env.ClientHostAddress).String()
	}
	hdr, req, err := protocol.ParseRequest(env.RequestData)
	if err != nil {
		return &protocol.EnvelopeResponse{ErrorCode: errcode.InvalidRequest}
	}
	var resp protocol.Response
	switch r := req.(type) {
	case *protocol.CreateDelegationTokenRequest:
		out, err := c.CreateDelegationToken(ctx, p, host, r)
		if err != nil {
			out = &protocol.CreateDelegationTokenResponse{PrincipalType: p.Type, PrincipalName: p.Name}
			out.ErrorCode, _ = ErrorCode(err)
		}
		resp = out
	case *protocol.RenewDelegationTokenRequest:
		out, err := c.RenewDelegationToken(ctx, p, host, r)
		if err != nil {
			out = &protocol.RenewDelegationTokenResponse{}
			out.ErrorCode, _ = ErrorCode(err)
		}
		resp = out
	case *protocol.ExpireDelegationTokenRequest:
		out, err := c.ExpireDelegationToken(ctx, p, host, r)
		if err != nil {
			out = &protocol.ExpireDelegationTokenResponse{}
			out.ErrorCode, _ = ErrorCode(err)
		}
		resp = out
	default:
		return &protocol.EnvelopeResponse{ErrorCode: errcode.InvalidRequest}
	}
	frame, err := protocol.AppendResponse(nil, hdr.CorrelationID, hdr.RequestAPIKey, hdr.RequestAPIVersion, resp)
	if err != nil {
		return &protocol.EnvelopeResponse{ErrorCode: errcode.UnknownServerError}
	}
	return &protocol.EnvelopeResponse{ResponseData: frame[4:]}
}

// forwardEnveloped runs local on the active local controller, or sends req
// in an Envelope as p from host to the active controller, retrying
// NOT_CONTROLLER (in the envelope or in the inner answer's code) and
// connection failures.
func forwardEnveloped[T protocol.Response](ctx context.Context, r *Router, name string, p auth.Principal, host string, req protocol.Request,
	local func(context.Context, *Controller) (T, error), code func(T) int16) (T, error) {
	env, v, err := wrapEnvelope(req, p, host)
	if err != nil {
		var zero T
		return zero, err
	}
	return forward(ctx, r, name, true, local, func(context.Context) protocol.Request { return env }, func(resp protocol.Response) (T, error) {
		var zero T
		inner, err := unwrapEnvelope(resp, req.APIKey(), v)
		if err != nil {
			return zero, err
		}
		out, ok := inner.(T)
		if !ok {
			return zero, fmt.Errorf("controller: envelope: unexpected %T", inner)
		}
		if err := CodeError(code(out), nil); retriable(err) {
			return zero, err
		}
		return out, nil
	})
}

// CreateDelegationToken implements Client.
func (r *Router) CreateDelegationToken(ctx context.Context, requester auth.Principal, host string, req *protocol.CreateDelegationTokenRequest) (*protocol.CreateDelegationTokenResponse, error) {
	return forwardEnveloped(ctx, r, "CreateDelegationToken", requester, host, req,
		func(ctx context.Context, l *Controller) (*protocol.CreateDelegationTokenResponse, error) {
			return l.CreateDelegationToken(ctx, requester, host, req)
		},
		func(resp *protocol.CreateDelegationTokenResponse) int16 { return resp.ErrorCode })
}

// RenewDelegationToken implements Client.
func (r *Router) RenewDelegationToken(ctx context.Context, principal auth.Principal, host string, req *protocol.RenewDelegationTokenRequest) (*protocol.RenewDelegationTokenResponse, error) {
	return forwardEnveloped(ctx, r, "RenewDelegationToken", principal, host, req,
		func(ctx context.Context, l *Controller) (*protocol.RenewDelegationTokenResponse, error) {
			return l.RenewDelegationToken(ctx, principal, host, req)
		},
		func(resp *protocol.RenewDelegationTokenResponse) int16 { return resp.ErrorCode })
}

// ExpireDelegationToken implements Client.
func (r *Router) ExpireDelegationToken(ctx context.Context, principal auth.Principal, host string, req *protocol.ExpireDelegationTokenRequest) (*protocol.ExpireDelegationTokenResponse, error) {
	return forwardEnveloped(ctx, r, "ExpireDelegationToken", principal, host, req,
		func(ctx context.Context, l *Controller) (*protocol.ExpireDelegationTokenResponse, error) {
			return l.ExpireDelegationToken(ctx, principal, host, req)
		},
		func(resp *protocol.ExpireDelegationTokenResponse) int16 { return resp.ErrorCode })
}
