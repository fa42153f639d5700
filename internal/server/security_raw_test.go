package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/spool-broker/spool/protocol"
)

// rawCall sends one request on conn and reads its response (tests that
// need to see exactly what the broker answers before authentication).
func rawCall(t *testing.T, conn net.Conn, corr int32, key, v int16, req protocol.Request) (protocol.Response, error) {
	t.Helper()
	clientID := "raw"
	hdr := &protocol.RequestHeader{RequestAPIKey: key, RequestAPIVersion: v, CorrelationID: corr, ClientID: &clientID}
	out, err := protocol.AppendRequest(nil, hdr, req)
	require.NoError(t, err)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	h, resp, err := protocol.DecodeResponse(body, key, v)
	require.NoError(t, err)
	require.Equal(t, corr, h.CorrelationID)
	return resp, nil
}

// saslPlainExchange runs SaslHandshake v1 (PLAIN) and SaslAuthenticate v2
// on conn and returns SaslAuthenticate's error code.
func saslPlainExchange(t *testing.T, conn net.Conn, user, pass string) int16 {
	t.Helper()
	resp, err := rawCall(t, conn, 1, protocol.KeySaslHandshake, 1, &protocol.SaslHandshakeRequest{Mechanism: "PLAIN"})
	require.NoError(t, err)
	require.Zero(t, resp.(*protocol.SaslHandshakeResponse).ErrorCode)
	resp, err = rawCall(t, conn, 2, protocol.KeySaslAuthenticate, 2,
		&protocol.SaslAuthenticateRequest{AuthBytes: []byte("\x00" + user + "\x00" + pass)})
	require.NoError(t, err)
	return resp.(*protocol.SaslAuthenticateResponse).ErrorCode
}

// saslRawLogin runs SaslHandshake v1 and SaslAuthenticate v2 with a
// franz-go mechanism on conn (correlation ids from 1) and returns the last
// SaslAuthenticate answer: the one that completed the exchange, or the
// first with an error.
func saslRawLogin(t *testing.T, conn net.Conn, m sasl.Mechanism) *protocol.SaslAuthenticateResponse {
	t.Helper()
	resp, err := rawCall(t, conn, 1, protocol.KeySaslHandshake, 1, &protocol.SaslHandshakeRequest{Mechanism: m.Name()})
	require.NoError(t, err)
	require.Zero(t, resp.(*protocol.SaslHandshakeResponse).ErrorCode)
	sess, msg, err := m.Authenticate(context.Background(), conn.RemoteAddr().String())
	require.NoError(t, err)
	for corr := int32(2); ; corr++ {
		resp, err := rawCall(t, conn, corr, protocol.KeySaslAuthenticate, 2, &protocol.SaslAuthenticateRequest{AuthBytes: msg})
		require.NoError(t, err)
		ar := resp.(*protocol.SaslAuthenticateResponse)
		if ar.ErrorCode != 0 {
			return ar
		}
		var done bool
		done, msg, err = sess.Challenge(ar.AuthBytes)
		require.NoError(t, err)
		if done {
			return ar
		}
	}
}
