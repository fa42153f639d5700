package seclink

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spool-broker/spool/auth/sasl"
	authtls "github.com/spool-broker/spool/auth/tls"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol"
)

// ErrAuthentication marks a dial the server refused during SASL
// (SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM, ...): retrying
// with the same credentials will not help.
var ErrAuthentication = errors.New("seclink: authentication failed")

// Dialer connects to a Kafka listener as a client: TCP, then TLS when TLS
// is set, then SASL when Mechanism is set. The zero Dialer dials
// PLAINTEXT.
type Dialer struct {
	// TLS is the client TLS setup; nil for PLAINTEXT and SASL_PLAINTEXT.
	// Its ServerName, when empty, becomes the dialled host.
	TLS *cryptotls.Config
	// Mechanism is the SASL mechanism (PLAIN, SCRAM-SHA-256,
	// SCRAM-SHA-512); empty for no SASL.
	Mechanism          string
	Username, Password string
	// ClientID is sent in the SASL requests' headers.
	ClientID string
	// Timeout bounds connecting and authenticating (default 10 s).
	Timeout time.Duration
}

// Protocol is the security protocol the Dialer speaks.
func (d *Dialer) Protocol() string {
	switch {
	case d == nil:
		return "PLAINTEXT"
	case d.TLS != nil && d.Mechanism != "":
		return "SASL_SSL"
	case d.TLS != nil:
		return "SSL"
	case d.Mechanism != "":
		return "SASL_PLAINTEXT"
	}
	return "PLAINTEXT"
}

// NewDialer builds the Dialer a node uses towards listener (its security
// protocol from listener.security.protocol.map) with SASL mechanism
// mechanism (ignored unless the protocol is SASL_*). The password is read
// here and kept only in the Dialer; errors never include it.
func NewDialer(cfg *config.Broker, listener, mechanism, clientID string) (*Dialer, error) {
	protocol := cfg.ListenerSecurityProtocolMap[listener]
	if protocol == "" {
		protocol = "PLAINTEXT"
	}
	d := &Dialer{ClientID: clientID}
	switch protocol {
	case "PLAINTEXT", "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		tc, err := authtls.NewClient(authtls.ListenerProps(cfg.Security, listener), "")
		if err != nil {
			return nil, fmt.Errorf("client TLS towards listener %s: %w", listener, err)
		}
		d.TLS = tc
	default:
		return nil, fmt.Errorf("listener %s: unknown security protocol %q", listener, protocol)
	}
	if !strings.HasPrefix(protocol, "SASL_") {
		return d, nil
	}
	mechanism = strings.ToUpper(strings.TrimSpace(mechanism))
	key := listenerPrefix(listener) + strings.ToLower(mechanism) + ".sasl.jaas.config"
	v, ok := cfg.Security[key]
	if !ok {
		v, ok = saslProp(cfg, listener, "", "sasl.jaas.config")
	}
	if !ok {
		return nil, fmt.Errorf("listener %s is %s with mechanism %s: set %s with username=\"...\" password=\"...\" (the credentials this node authenticates with)",
			listener, protocol, mechanism, key)
	}
	entries, err := sasl.ParseJAAS(v)
	if err != nil || len(entries) == 0 {
		return nil, fmt.Errorf("%s: cannot parse the JAAS configuration", key)
	}
	d.Mechanism = mechanism
	d.Username, d.Password = entries[0].Options["username"], entries[0].Options["password"]
	if d.Username == "" {
		return nil, fmt.Errorf("%s: no username option: this node authenticates to %s with it", key, listener)
	}
	if _, err := sasl.NewClient(mechanism, d.Username, d.Password); err != nil {
		return nil, fmt.Errorf("listener %s: %w", listener, err)
	}
	return d, nil
}

// DialContext connects to addr and authenticates. The returned connection
// is ready for Kafka requests (or a raft preamble).
func (d *Dialer) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	timeout := 10 * time.Second
	if d != nil && d.Timeout > 0 {
		timeout = d.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nd := net.Dialer{}
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if d == nil {
		return nc, nil
	}
	ok := false
	defer func() {
		if !ok {
			_ = nc.Close()
		}
	}()
	if d.TLS != nil {
		c := d.TLS.Clone()
		if c.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			c.ServerName = host
		}
		tc := cryptotls.Client(nc, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		nc = tc
	}
	if d.Mechanism != "" {
		dl, _ := ctx.Deadline()
		_ = nc.SetDeadline(dl)
		stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
		err := d.authenticate(nc)
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("SASL %s with %s as %s: %w", d.Mechanism, addr, d.Username, err)
		}
		_ = nc.SetDeadline(time.Time{})
	}
	ok = true
	return nc, nil
}

// authenticate runs SaslHandshake v1 and SaslAuthenticate v2 on nc.
func (d *Dialer) authenticate(nc net.Conn) error {
	client, err := sasl.NewClient(d.Mechanism, d.Username, d.Password)
	if err != nil {
		return err
	}
	corr := int32(0)
	roundTrip := func(req protocol.Request, v int16) (protocol.Response, error) {
		corr++
		id := d.ClientID
		hdr := protocol.RequestHeader{RequestAPIKey: req.APIKey(), RequestAPIVersion: v, CorrelationID: corr, ClientID: &id}
		frame, err := protocol.AppendRequest(nil, &hdr, req)
		if err != nil {
			return nil, err
		}
		if _, err := nc.Write(frame); err != nil {
			return nil, err
		}
		resp, err := protocol.ReadFrame(nc, 1<<20, nil)
		if err != nil {
			return nil, err
		}
		rh, r, err := protocol.DecodeResponse(resp, req.APIKey(), v)
		if err == nil && rh.CorrelationID != corr {
			err = fmt.Errorf("correlation id %d, want %d", rh.CorrelationID, corr)
		}
		return r, err
	}
	r, err := roundTrip(&protocol.SaslHandshakeRequest{Mechanism: d.Mechanism}, 1)
	if err != nil {
		return err
	}
	if hs := r.(*protocol.SaslHandshakeResponse); hs.ErrorCode != 0 {
		return fmt.Errorf("%w: SaslHandshake error %d: the server enables %v", ErrAuthentication, hs.ErrorCode, hs.Mechanisms)
	}
	var challenge []byte
	for range 8 {
		out, done, err := client.Step(challenge)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAuthentication, err)
		}
		if out != nil {
			r, err := roundTrip(&protocol.SaslAuthenticateRequest{AuthBytes: out}, 2)
			if err != nil {
				return err
			}
			ar := r.(*protocol.SaslAuthenticateResponse)
			if ar.ErrorCode != 0 {
				msg := ""
				if ar.ErrorMessage != nil {
					msg = *ar.ErrorMessage
				}
				return fmt.Errorf("%w: error %d: %s", ErrAuthentication, ar.ErrorCode, msg)
			}
			challenge = ar.AuthBytes
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("%w: exchange did not finish", ErrAuthentication)
}

// NewClientDialer builds a Dialer from a Kafka client's properties (a
// --command-config file): security.protocol, sasl.mechanism,
// sasl.jaas.config (username/password of PlainLoginModule or
// ScramLoginModule), ssl.truststore.*, ssl.keystore.* for mutual TLS,
// ssl.endpoint.identification.algorithm.
func NewClientDialer(props map[string]string, clientID string) (*Dialer, error) {
	protocol := strings.ToUpper(strings.TrimSpace(props["security.protocol"]))
	if protocol == "" {
		protocol = "PLAINTEXT"
	}
	d := &Dialer{ClientID: clientID}
	switch protocol {
	case "PLAINTEXT", "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		tc, err := authtls.NewClient(authtls.ListenerProps(props, ""), "")
		if err != nil {
			return nil, fmt.Errorf("security.protocol=%s: %w", protocol, err)
		}
		d.TLS = tc
	default:
		return nil, fmt.Errorf("security.protocol=%s: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", protocol)
	}
	if !strings.HasPrefix(protocol, "SASL_") {
		return d, nil
	}
	mechanism := strings.ToUpper(strings.TrimSpace(props["sasl.mechanism"]))
	if mechanism == "" {
		mechanism = "GSSAPI" // Kafka's default
	}
	entries, err := sasl.ParseJAAS(props["sasl.jaas.config"])
	if err != nil || len(entries) == 0 {
		return nil, fmt.Errorf("security.protocol=%s needs sasl.jaas.config, e.g. org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"...\";", protocol)
	}
	d.Mechanism = mechanism
	d.Username, d.Password = entries[0].Options["username"], entries[0].Options["password"]
	if _, err := sasl.NewClient(mechanism, d.Username, d.Password); err != nil {
		return nil, fmt.Errorf("sasl.mechanism=%s: %w", mechanism, err)
	}
	if d.Username == "" {
		return nil, errors.New("sasl.jaas.config has no username option")
	}
	return d, nil
}
