package server

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/spool-broker/spool/protocol"
)

// readResponse reads one response frame (size prefix first).
func readResponse(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	_, err := readFull(c, size[:])
	require.NoError(t, err)
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err = readFull(c, b)
	require.NoError(t, err)
	return b
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// request encodes one request frame.
func request(t *testing.T, corr int32, key, v int16, req protocol.Request) []byte {
	t.Helper()
	id := "hostile"
	out, err := protocol.AppendRequest(nil, &protocol.RequestHeader{RequestAPIKey: key, RequestAPIVersion: v, CorrelationID: corr, ClientID: &id}, req)
	require.NoError(t, err)
	return out
}

// TestHostileBeforeAuthentication throws hostile input at a SASL listener
// before authentication: every bad connection is closed, memory stays
// bounded, and an authenticated client keeps producing throughout.
func TestHostileBeforeAuthentication(t *testing.T) {
	p := makePKI(t)
	n := startSecureNode(t, p)
	good, err := kgo.NewClient(kgo.SeedBrokers(n.saslPlain), kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()),
		kgo.DefaultProduceTopic("safe"), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer good.Close()
	check := func() {
		t.Helper()
		require.NoError(t, good.ProduceSync(ctx10(t), &kgo.Record{Value: []byte("still here")}).FirstErr())
	}
	check()
	dial := func(t *testing.T) net.Conn {
		c, err := net.Dial("tcp", n.saslPlain)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}

	garbage := make([]byte, 4096)
	_, _ = rand.Read(garbage)
	overCap := make([]byte, 4+auth524288+1)
	binary.BigEndian.PutUint32(overCap, auth524288+1)
	metadata := request(t, 1, protocol.KeyMetadata, 12, &protocol.MetadataRequest{})
	produce := request(t, 1, protocol.KeyProduce, 9, &protocol.ProduceRequest{Acks: -1, TimeoutMs: 1000})
	closed := map[string][]byte{
		"2 GiB frame":   {0x7f, 0xff, 0xff, 0xff, 1, 2, 3},
		"negative size": {0xff, 0xff, 0xff, 0xfe},
		"frame over sasl.server.max.receive.size": overCap[:4+1024], // the prefix alone decides
		"random bytes":                   garbage,
		"Metadata before authentication": metadata,
		"Produce before authentication":  produce,
		"unknown api key":                frame(requestHeader(9999, 0, 1)),
	}
	for name, payload := range closed {
		t.Run(name, func(t *testing.T) {
			c := dial(t)
			_, _ = c.Write(payload)
			expectClosed(t, c)
			check()
		})
	}

	t.Run("garbage SASL tokens", func(t *testing.T) {
		for _, mech := range []string{"SCRAM-SHA-512", "PLAIN"} {
			c := dial(t)
			_, err := c.Write(request(t, 1, protocol.KeySaslHandshake, 1, &protocol.SaslHandshakeRequest{Mechanism: mech}))
			require.NoError(t, err)
			readResponse(t, c)
			_, err = c.Write(request(t, 2, protocol.KeySaslAuthenticate, 2, &protocol.SaslAuthenticateRequest{AuthBytes: garbage}))
			require.NoError(t, err)
			_, resp, err := protocol.DecodeResponse(readResponse(t, c), protocol.KeySaslAuthenticate, 2)
			require.NoError(t, err)
			require.Equal(t, int16(58), resp.(*protocol.SaslAuthenticateResponse).ErrorCode, mech)
			expectClosed(t, c)
		}
		check()
	})

	t.Run("SCRAM exchange cut midway", func(t *testing.T) {
		before := runtime.NumGoroutine()
		for i := 0; i < 50; i++ {
			c, err := net.Dial("tcp", n.saslPlain)
			require.NoError(t, err)
			_, err = c.Write(request(t, 1, protocol.KeySaslHandshake, 1, &protocol.SaslHandshakeRequest{Mechanism: "SCRAM-SHA-512"}))
			require.NoError(t, err)
			readResponse(t, c)
			_, err = c.Write(request(t, 2, protocol.KeySaslAuthenticate, 2, &protocol.SaslAuthenticateRequest{AuthBytes: []byte("n,,n=alice,r=abcdefgh")}))
			require.NoError(t, err)
			readResponse(t, c)
			if i%2 == 0 {
				c.Close() // gone after the server-first message
			} else {
				_, _ = c.Write([]byte{0, 0, 1}) // half a size prefix, then gone
				c.Close()
			}
		}
		require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+5 },
			10*time.Second, 20*time.Millisecond, "every connection's goroutines end")
		check()
	})

	t.Run("a thousand failed logins", func(t *testing.T) {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		goroutines := runtime.NumGoroutine()
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int16]int{}
		for w := 0; w < 20; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					c, err := net.Dial("tcp", n.saslPlain)
					if err != nil {
						return
					}
					code := int16(-1)
					if _, err := c.Write(request(t, 1, protocol.KeySaslHandshake, 1, &protocol.SaslHandshakeRequest{Mechanism: "PLAIN"})); err == nil {
						_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
						if readOne(c) != nil {
							_, _ = c.Write(request(t, 2, protocol.KeySaslAuthenticate, 2, &protocol.SaslAuthenticateRequest{AuthBytes: []byte("\x00alice\x00wrong")}))
							if b := readOne(c); b != nil {
								if _, resp, err := protocol.DecodeResponse(b, protocol.KeySaslAuthenticate, 2); err == nil {
									code = resp.(*protocol.SaslAuthenticateResponse).ErrorCode
								}
							}
						}
					}
					c.Close()
					mu.Lock()
					codes[code]++
					mu.Unlock()
				}
			}()
		}
		check() // served while the logins fail
		wg.Wait()
		require.Equal(t, map[int16]int{58: 1000}, codes, "every one SASL_AUTHENTICATION_FAILED")
		require.Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+5 }, 10*time.Second, 20*time.Millisecond)
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		grown := int64(after.HeapInuse) - int64(before.HeapInuse)
		t.Logf("heap grew %d KiB after 1000 failed logins", grown/1024)
		require.Less(t, grown, int64(64<<20))
		check()
	})

	t.Run("nothing is read ahead: a pipelined request larger than the pre-auth cap after a login", func(t *testing.T) {
		// Handshake, login and a Metadata request of about 1 MiB, written at
		// once: the reader must read the Metadata frame only after the
		// login, under socket.request.max.bytes rather than the 512 KiB cap.
		big := &protocol.MetadataRequest{}
		for i := 0; i < 9000; i++ {
			name := protocol.TopicName(string(make([]byte, 100)))
			big.Topics = append(big.Topics, protocol.MetadataRequestTopic{Name: &name})
		}
		var out []byte
		out = append(out, request(t, 1, protocol.KeySaslHandshake, 1, &protocol.SaslHandshakeRequest{Mechanism: "PLAIN"})...)
		out = append(out, request(t, 2, protocol.KeySaslAuthenticate, 2, &protocol.SaslAuthenticateRequest{AuthBytes: []byte("\x00alice\x00alice-secret")})...)
		meta := request(t, 3, protocol.KeyMetadata, 12, big)
		require.Greater(t, len(meta), auth524288)
		out = append(out, meta...)
		c := dial(t)
		go func() { _, _ = c.Write(out) }()
		for _, key := range []int16{protocol.KeySaslHandshake, protocol.KeySaslAuthenticate, protocol.KeyMetadata} {
			hdr, resp, err := protocol.DecodeResponse(readResponse(t, c), key, map[int16]int16{17: 1, 36: 2, 3: 12}[key])
			require.NoError(t, err)
			if key == protocol.KeySaslAuthenticate {
				require.Zero(t, resp.(*protocol.SaslAuthenticateResponse).ErrorCode)
			}
			_ = hdr
		}
		check()
	})
}

// auth524288 is sasl.server.max.receive.size's default.
const auth524288 = 524288

// readOne reads one response frame, nil on error.
func readOne(c net.Conn) []byte {
	var size [4]byte
	if _, err := readFull(c, size[:]); err != nil {
		return nil
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := readFull(c, b); err != nil {
		return nil
	}
	return b
}

// TestSaslHandshakeV0RawTokens: after SaslHandshake v0 (old clients such
// as sarama's default) the SASL tokens are bare frames, answered with bare
// frames; the connection then serves requests, and a wrong password closes
// it without an answer.
func TestSaslHandshakeV0RawTokens(t *testing.T) {
	p := makePKI(t)
	n := startSecureNode(t, p)
	login := func(t *testing.T, pass string) net.Conn {
		c, err := net.Dial("tcp", n.saslPlain)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		resp, err := rawCall(t, c, 1, protocol.KeySaslHandshake, 0, &protocol.SaslHandshakeRequest{Mechanism: "PLAIN"})
		require.NoError(t, err)
		require.Zero(t, resp.(*protocol.SaslHandshakeResponse).ErrorCode)
		_, err = c.Write(frame([]byte("\x00alice\x00" + pass)))
		require.NoError(t, err)
		return c
	}
	c := login(t, "alice-secret")
	require.Empty(t, readResponse(t, c), "PLAIN's final token is empty")
	resp, err := rawCall(t, c, 2, protocol.KeyMetadata, 1, &protocol.MetadataRequest{})
	require.NoError(t, err)
	require.NotEmpty(t, resp.(*protocol.MetadataResponse).Brokers)

	expectClosed(t, login(t, "wrong"))
}
