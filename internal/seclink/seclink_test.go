package seclink

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/protocol"
)

// serveOnce accepts one connection on ln, runs Accept and reports the
// principal (or the error), then answers one ApiVersions request.
func serveOnce(t *testing.T, ln net.Listener, ls *Listener) <-chan error {
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		c, p, err := ls.Accept(context.Background(), nc, 5*time.Second, func(*protocol.RequestHeader, protocol.Request) protocol.Response {
			return &protocol.ApiVersionsResponse{}
		})
		if err != nil {
			done <- err
			return
		}
		if p != auth.User("alice") {
			done <- &net.AddrError{Err: "wrong principal " + p.String()}
			return
		}
		frame, err := protocol.ReadFrame(c, 1<<20, nil)
		if err != nil {
			done <- err
			return
		}
		hdr, _, err := protocol.ParseRequest(frame)
		if err == nil {
			var out []byte
			out, err = protocol.AppendResponse(nil, hdr.CorrelationID, hdr.RequestAPIKey, hdr.RequestAPIVersion, &protocol.ApiVersionsResponse{})
			if err == nil {
				_, err = c.Write(out)
			}
		}
		done <- err
	}()
	return done
}

// TestDialAccept: the Dialer and Accept agree over SASL PLAIN and SCRAM:
// the principal is known after the exchange, a request sent right after it
// is read by the server, a wrong password is ErrAuthentication on the
// client and ErrRefused on the server, and a frame over the pre-auth cap
// is refused before it is read.
func TestDialAccept(t *testing.T) {
	store := sasl.NewMemoryStore()
	cred, err := sasl.ScramSHA512.NewCredential("alice-scram", 4096)
	require.NoError(t, err)
	store.SetUser(sasl.ScramSHA512, "alice", cred)
	scram, err := sasl.NewScram(sasl.ScramSHA512, store)
	require.NoError(t, err)
	ls := &Listener{Protocol: "SASL_PLAINTEXT", SASL: &auth.SASLConfig{
		Mechanisms: []sasl.Mechanism{sasl.NewPlain(map[string]string{"alice": "alice-secret"}), scram},
	}}
	for _, tc := range []struct {
		name, mech, pass string
		ok               bool
	}{
		{"plain", "PLAIN", "alice-secret", true},
		{"scram", "SCRAM-SHA-512", "alice-scram", true},
		{"plain wrong", "PLAIN", "nope", false},
		{"scram wrong", "SCRAM-SHA-512", "nope", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			done := serveOnce(t, ln, ls)
			d := &Dialer{Mechanism: tc.mech, Username: "alice", Password: tc.pass, ClientID: "t"}
			require.Equal(t, "SASL_PLAINTEXT", d.Protocol())
			nc, err := d.DialContext(context.Background(), ln.Addr().String())
			if !tc.ok {
				require.ErrorIs(t, err, ErrAuthentication)
				require.ErrorIs(t, <-done, ErrRefused)
				return
			}
			require.NoError(t, err)
			defer nc.Close()
			id := "t"
			hdr := protocol.RequestHeader{RequestAPIKey: protocol.KeyApiVersions, RequestAPIVersion: 3, CorrelationID: 7, ClientID: &id}
			frame, err := protocol.AppendRequest(nil, &hdr, &protocol.ApiVersionsRequest{ClientSoftwareName: "t", ClientSoftwareVersion: "1"})
			require.NoError(t, err)
			_, err = nc.Write(frame)
			require.NoError(t, err)
			_, err = protocol.ReadFrame(nc, 1<<20, nil)
			require.NoError(t, err)
			require.NoError(t, <-done)
		})
	}

	t.Run("oversized frame before authentication", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		done := serveOnce(t, ln, ls)
		nc, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer nc.Close()
		_, err = nc.Write(binary.BigEndian.AppendUint32(nil, 2<<30))
		require.NoError(t, err)
		require.ErrorIs(t, <-done, ErrRefused)
	})
}

func TestDialerProtocol(t *testing.T) {
	var d *Dialer
	require.Equal(t, "PLAINTEXT", d.Protocol())
	_, err := NewClientDialer(map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER",
		"sasl.jaas.config": `x required username="a" password="b";`}, "t")
	require.ErrorContains(t, err, "sasl.mechanism=OAUTHBEARER")
	_, err = NewClientDialer(map[string]string{"security.protocol": "bogus"}, "t")
	require.Error(t, err)
	pd, err := NewClientDialer(map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
		"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="b";`}, "t")
	require.NoError(t, err)
	require.Equal(t, "SASL_PLAINTEXT", pd.Protocol())
}
