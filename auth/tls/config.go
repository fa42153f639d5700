package tls

import (
	cryptotls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// ClientAuth is ssl.client.auth.
type ClientAuth int8

const (
	ClientAuthNone      ClientAuth = iota // no client certificate asked for
	ClientAuthRequested                   // asked for; a certificate sent must be trusted
	ClientAuthRequired                    // a trusted certificate is required
)

func (c ClientAuth) String() string {
	return [...]string{"none", "requested", "required"}[c]
}

// ParseClientAuth reads ssl.client.auth (Kafka's values, any case). Kafka's
// broker refuses other values at startup; so does Spool.
func ParseClientAuth(v string) (ClientAuth, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "none":
		return ClientAuthNone, nil
	case "requested":
		return ClientAuthRequested, nil
	case "required":
		return ClientAuthRequired, nil
	}
	return 0, configErr(PropClientAuth, v, "must be one of required, requested, none")
}

func (c ClientAuth) goClientAuth() cryptotls.ClientAuthType {
	switch c {
	case ClientAuthRequested:
		return cryptotls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		return cryptotls.RequireAndVerifyClientCert
	}
	return cryptotls.NoClientCert
}

// tls13Suites are the TLS 1.3 cipher suites; Go always enables all three
// and does not let a configuration choose among them.
var tls13Suites = map[string]uint16{
	"TLS_AES_128_GCM_SHA256":       cryptotls.TLS_AES_128_GCM_SHA256,
	"TLS_AES_256_GCM_SHA384":       cryptotls.TLS_AES_256_GCM_SHA384,
	"TLS_CHACHA20_POLY1305_SHA256": cryptotls.TLS_CHACHA20_POLY1305_SHA256,
}

// versions reads ssl.enabled.protocols (default TLSv1.2,TLSv1.3) and
// ssl.protocol. Only TLSv1.2 and TLSv1.3 are offered: the JDKs Kafka runs on
// disable the older protocols, and Spool refuses to enable them.
func versions(p Props) (minV, maxV uint16, err error) {
	switch v := p.str(PropProtocol, "TLSv1.3"); v {
	case "TLS", "TLSv1.2", "TLSv1.3":
	default:
		return 0, 0, configErr(PropProtocol, v, "supported: TLSv1.3, TLSv1.2, TLS")
	}
	list, ok := p.list(PropEnabledProtocols)
	if !ok {
		list = []string{"TLSv1.2", "TLSv1.3"}
	}
	if len(list) == 0 {
		return 0, 0, configErr(PropEnabledProtocols, "", "enables no protocol; supported: TLSv1.2, TLSv1.3")
	}
	for _, name := range list {
		var v uint16
		switch name {
		case "TLSv1.2":
			v = cryptotls.VersionTLS12
		case "TLSv1.3":
			v = cryptotls.VersionTLS13
		default:
			return 0, 0, configErr(PropEnabledProtocols, strings.Join(list, ","), "protocol %s is not supported; supported: TLSv1.2, TLSv1.3", name)
		}
		if minV == 0 || v < minV {
			minV = v
		}
		maxV = max(maxV, v)
	}
	return minV, maxV, nil
}

// cipherSuites maps ssl.cipher.suites (Java's names, which are the IANA
// names; an "SSL_" prefix is Java's alias for "TLS_") to Go's TLS 1.2
// suites, and narrows the protocol range the way the JDK would: without a
// TLS 1.3 suite in the list TLS 1.3 cannot be negotiated, without a TLS 1.2
// suite TLS 1.2 cannot. An unknown or insecure suite is refused with its
// name, as is a list naming only some of the TLS 1.3 suites, since Go
// always offers all three.
func cipherSuites(p Props, minV, maxV uint16) (suites []uint16, newMin, newMax uint16, err error) {
	list, ok := p.list(PropCipherSuites)
	if !ok || len(list) == 0 {
		return nil, minV, maxV, nil // the defaults
	}
	secure := map[string]uint16{}
	for _, s := range cryptotls.CipherSuites() {
		secure[s.Name] = s.ID
	}
	insecure := map[string]bool{}
	for _, s := range cryptotls.InsecureCipherSuites() {
		insecure[s.Name] = true
	}
	var n13 int
	seen13 := map[string]bool{}
	for _, name := range list {
		goName := name
		if rest, ok := strings.CutPrefix(name, "SSL_"); ok {
			goName = "TLS_" + rest
		}
		if _, ok := tls13Suites[goName]; ok {
			if !seen13[goName] {
				seen13[goName] = true
				n13++
			}
			continue
		}
		id, ok := secure[goName]
		if !ok {
			if insecure[goName] {
				return nil, 0, 0, configErr(PropCipherSuites, strings.Join(list, ","), "cipher suite %s is insecure and not supported", name)
			}
			return nil, 0, 0, configErr(PropCipherSuites, strings.Join(list, ","), "unknown cipher suite %s", name)
		}
		if !slices.Contains(suites, id) {
			suites = append(suites, id)
		}
	}
	if n13 != 0 && n13 != len(tls13Suites) {
		return nil, 0, 0, configErr(PropCipherSuites, strings.Join(list, ","),
			"names only some TLS 1.3 cipher suites; Go's TLS cannot restrict TLS 1.3 suites, list all of TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 or none")
	}
	if n13 == 0 && maxV == cryptotls.VersionTLS13 {
		maxV = cryptotls.VersionTLS12
	}
	if len(suites) == 0 && minV == cryptotls.VersionTLS12 {
		minV = cryptotls.VersionTLS13
	}
	if minV > maxV {
		return nil, 0, 0, configErr(PropCipherSuites, strings.Join(list, ","), "leaves no cipher suite for the protocols of %s", PropEnabledProtocols)
	}
	return suites, minV, maxV, nil
}

// refuseUnsupported fails on ssl.* settings that replace the JSSE machinery
// Spool does not have.
func refuseUnsupported(p Props) error {
	for _, prop := range []string{PropProvider, PropEngineFactoryClass, PropSecureRandom} {
		if v := p.str(prop, ""); v != "" {
			return configErr(prop, v, "is a Java security provider setting Spool does not support; remove it")
		}
	}
	for prop, ok := range map[string][]string{PropKeyManagerAlgorithm: {"SunX509", "PKIX", "NewSunX509"}, PropTrustManagerAlgorithm: {"PKIX", "SunX509"}} {
		if v := p.str(prop, ""); v != "" && !slices.Contains(ok, v) {
			return configErr(prop, v, "supported: %s", strings.Join(ok, ", "))
		}
	}
	return nil
}

// base builds what servers and clients share.
func base(p Props) (*cryptotls.Config, error) {
	if err := refuseUnsupported(p); err != nil {
		return nil, err
	}
	minV, maxV, err := versions(p)
	if err != nil {
		return nil, err
	}
	suites, minV, maxV, err := cipherSuites(p, minV, maxV)
	if err != nil {
		return nil, err
	}
	return &cryptotls.Config{MinVersion: minV, MaxVersion: maxV, CipherSuites: suites}, nil
}

// serverState is one generation of a listener's TLS setup.
type serverState struct {
	config   *cryptotls.Config
	identity *identity
	trust    *trust
}

// Server is a listener's TLS setup. Its Config stays the same for the
// listener's life; Reload swaps what it serves (keystore, truststore and
// the other ssl.* settings) for new handshakes, atomically, as Kafka's
// dynamic keystore update. It is safe for concurrent use.
type Server struct {
	mu    sync.Mutex // serializes Reload
	state atomic.Pointer[serverState]
	cfg   *cryptotls.Config
}

// NewServer builds a listener's TLS setup from its ssl.* properties
// (ListenerProps). A server needs a keystore.
func NewServer(p Props) (*Server, error) {
	st, err := buildServer(p)
	if err != nil {
		return nil, err
	}
	s := &Server{}
	s.state.Store(st)
	s.cfg = &cryptotls.Config{
		GetConfigForClient: func(*cryptotls.ClientHelloInfo) (*cryptotls.Config, error) {
			return s.state.Load().config, nil
		},
	}
	return s, nil
}

func buildServer(p Props) (*serverState, error) {
	cfg, err := base(p)
	if err != nil {
		return nil, err
	}
	id, err := loadKeystore(p)
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, configErr(PropKeystoreLocation, "", "a TLS listener needs a keystore (ssl.keystore.location, or ssl.keystore.key and ssl.keystore.certificate.chain with ssl.keystore.type=PEM)")
	}
	tr, err := loadTruststore(p)
	if err != nil {
		return nil, err
	}
	ca, err := ParseClientAuth(p.str(PropClientAuth, "none"))
	if err != nil {
		return nil, err
	}
	cfg.Certificates = id.certs
	cfg.ClientAuth = ca.goClientAuth()
	cfg.ClientCAs = tr.pool
	return &serverState{config: cfg, identity: id, trust: tr}, nil
}

// Config is the *tls.Config for the listener (tls.NewListener or
// tls.Server); it asks the Server for the current setup on every
// handshake.
func (s *Server) Config() *cryptotls.Config { return s.cfg }

// Leaves are the current keystore's end-entity certificates.
func (s *Server) Leaves() []*x509.Certificate { return s.state.Load().identity.leaves() }

// Reload rebuilds the setup from new properties and swaps it in for the
// next handshakes; connections already up keep theirs. As Kafka's
// SslFactory, the new keystore must keep the subject DN of every entry
// (unless ssl.allow.dn.changes=true) and its subject alternative names
// (unless ssl.allow.san.changes=true), and a truststore cannot be added
// where none was configured. On error nothing changes.
func (s *Server) Reload(p Props) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	next, err := buildServer(p)
	if err != nil {
		return fmt.Errorf("tls: Validation of dynamic config update of SSLFactory failed: %w", err)
	}
	if old.trust.pool == nil && next.trust.pool != nil {
		return fmt.Errorf("tls: Validation of dynamic config update of SSLFactory failed: %w",
			configErr(PropTruststoreLocation, "", "Cannot add SSL truststore to an existing listener for which no truststore was configured."))
	}
	allowDN, err := p.boolean(PropAllowDNChanges, false)
	if err != nil {
		return err
	}
	allowSAN, err := p.boolean(PropAllowSANChanges, false)
	if err != nil {
		return err
	}
	if err := compatible(old.identity.leaves(), next.identity.leaves(), allowDN, allowSAN); err != nil {
		return fmt.Errorf("tls: Validation of dynamic config update of SSLFactory failed: %w", err)
	}
	s.state.Store(next)
	return nil
}

// ErrIncompatibleKeystore marks a reload whose keystore changes the
// broker's identity.
var ErrIncompatibleKeystore = errors.New("tls: incompatible keystore")

// compatible is Kafka's SslFactory.CertificateEntries.ensureCompatible.
func compatible(old, next []*x509.Certificate, allowDN, allowSAN bool) error {
	if !allowDN || !allowSAN {
		if len(old) != len(next) {
			return fmt.Errorf("%w: Keystore entries do not match, existing store contains %d entries, new store contains %d entries",
				ErrIncompatibleKeystore, len(old), len(next))
		}
	}
	for i := range old {
		if !allowDN {
			o, n := RFC2253(old[i]), RFC2253(next[i])
			if !strings.EqualFold(o, n) {
				return fmt.Errorf("%w: Keystore DistinguishedName does not match:  existing={DN=%s}, new={DN=%s}", ErrIncompatibleKeystore, o, n)
			}
		}
		if !allowSAN {
			have := sanSet(next[i])
			for san := range sanSet(old[i]) {
				if !have[san] {
					return fmt.Errorf("%w: Keystore SubjectAltNames do not match:  existing={SAN=%v}, new={SAN=%v}", ErrIncompatibleKeystore,
						sanList(old[i]), sanList(next[i]))
				}
			}
		}
	}
	return nil
}

func sanList(c *x509.Certificate) []string {
	var out []string
	for _, d := range c.DNSNames {
		out = append(out, "DNS:"+d)
	}
	for _, ip := range c.IPAddresses {
		out = append(out, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		out = append(out, "email:"+e)
	}
	for _, u := range c.URIs {
		out = append(out, "URI:"+u.String())
	}
	return out
}

func sanSet(c *x509.Certificate) map[string]bool {
	m := map[string]bool{}
	for _, s := range sanList(c) {
		m[s] = true
	}
	return m
}

// NewClient builds the *tls.Config a client (an inter-broker or controller
// connection, a test client) uses to reach serverName. With
// ssl.endpoint.identification.algorithm=https (Kafka's default) the server
// certificate must name serverName; with it empty only the chain is
// verified. A keystore, when configured, is offered for client
// authentication.
func NewClient(p Props, serverName string) (*cryptotls.Config, error) {
	cfg, err := base(p)
	if err != nil {
		return nil, err
	}
	id, err := loadKeystore(p)
	if err != nil {
		return nil, err
	}
	if id != nil {
		cfg.Certificates = id.certs
	}
	tr, err := loadTruststore(p)
	if err != nil {
		return nil, err
	}
	cfg.RootCAs = tr.pool
	cfg.ServerName = serverName
	switch alg := p.str(PropEndpointIdentification, "https"); strings.ToLower(alg) {
	case "https":
	case "":
		// Verify the chain, not the name: Go's InsecureSkipVerify turns off
		// both, so the chain check moves to VerifyConnection.
		roots := tr.pool
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs cryptotls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		}
	default:
		return nil, configErr(PropEndpointIdentification, alg, "supported: https, or empty for no host name verification")
	}
	return cfg, nil
}
