package seclink

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/sasl"
	authtls "github.com/spool-broker/spool/auth/tls"
	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol"
)

// BenchmarkHandshake: logins per second on a listener, each a fresh TCP
// connection over loopback through Accept (the broker's side: TLS 1.3 full
// handshake without session resumption, then SaslHandshake and a
// SCRAM-SHA-512 exchange against a 4096-iteration credential) and the
// Dialer (the client's side: the same, plus PBKDF2 of the password, which
// only the client computes). Both sides run in this process, so with
// -cpu 1 the rate is what one core does for both ends: a lower bound for
// the broker alone. The ECDSA P-256 certificate is spooltest's.
//
//	go test -run '^$' -bench Handshake -cpu 1 ./internal/seclink/
func BenchmarkHandshake(b *testing.B) {
	pki := spooltest.NewPKI(b)
	tlsServer, err := authtls.NewServer(authtls.Props{"ssl.keystore.type": "PEM", "ssl.keystore.location": pki.KeystoreFile,
		"ssl.client.auth": "none"})
	if err != nil {
		b.Fatal(err)
	}
	store := sasl.NewMemoryStore()
	cred, err := sasl.ScramSHA512.NewCredential("alice-scram", sasl.ScramMinIterations)
	if err != nil {
		b.Fatal(err)
	}
	store.SetUser(sasl.ScramSHA512, "alice", cred)
	scram, err := sasl.NewScram(sasl.ScramSHA512, store)
	if err != nil {
		b.Fatal(err)
	}
	saslConfig := &auth.SASLConfig{Mechanisms: []sasl.Mechanism{scram}}
	clientTLS := func() *cryptotls.Config {
		// No ClientSessionCache: every connection is a full handshake.
		return &cryptotls.Config{RootCAs: pki.Pool, ServerName: "localhost", MinVersion: cryptotls.VersionTLS12}
	}
	for _, tc := range []struct {
		name string
		ls   *Listener
		d    *Dialer
	}{
		{"SSL", &Listener{Protocol: "SSL", TLS: tlsServer}, &Dialer{TLS: clientTLS()}},
		{"SASL_PLAINTEXT_SCRAM-SHA-512", &Listener{Protocol: "SASL_PLAINTEXT", SASL: saslConfig},
			&Dialer{Mechanism: "SCRAM-SHA-512", Username: "alice", Password: "alice-scram", ClientID: "bench"}},
		{"SASL_SSL_SCRAM-SHA-512", &Listener{Protocol: "SASL_SSL", TLS: tlsServer, SASL: saslConfig},
			&Dialer{TLS: clientTLS(), Mechanism: "SCRAM-SHA-512", Username: "alice", Password: "alice-scram", ClientID: "bench"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			served := make(chan error, 1)
			go func() {
				for {
					nc, err := ln.Accept()
					if err != nil {
						served <- nil
						return
					}
					c, _, err := tc.ls.Accept(context.Background(), nc, 10*time.Second, func(*protocol.RequestHeader, protocol.Request) protocol.Response {
						return &protocol.ApiVersionsResponse{}
					})
					if err == nil && tc.ls.TLS != nil && tc.ls.SASL == nil {
						// SSL: Accept returns after the handshake; the
						// client learns it is done at its first read.
						_, _ = c.Write([]byte{0})
					}
					_ = nc.Close()
					if err != nil && !errors.Is(err, net.ErrClosed) {
						served <- err
						return
					}
				}
			}()
			addr := ln.Addr().String()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				nc, err := tc.d.DialContext(context.Background(), addr)
				if err != nil {
					b.Fatal(err)
				}
				if tc.ls.SASL == nil {
					if _, err := nc.Read(make([]byte, 1)); err != nil {
						b.Fatal(err)
					}
				}
				_ = nc.Close()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			_ = ln.Close()
			if err := <-served; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkClientSaltedPassword is the client's share of a SCRAM-SHA-512
// login that the broker never does: PBKDF2 of the password with 4096
// iterations. BenchmarkHandshake's SCRAM rows minus this are the broker's
// and the rest of the client's work.
func BenchmarkClientSaltedPassword(b *testing.B) {
	salt := []byte("0123456789abcdef0123456789abcdef")
	for range b.N {
		if _, err := sasl.ScramSHA512.SaltedPassword("alice-scram", salt, sasl.ScramMinIterations); err != nil {
			b.Fatal(err)
		}
	}
}
