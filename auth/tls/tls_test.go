package tls

import (
	"context"
	"crypto"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth"
)

type handshakeResult struct {
	serverState cryptotls.ConnectionState
	serverErr   error
	clientState cryptotls.ConnectionState
	clientErr   error
}

// handshake runs one TLS handshake over loopback between a server config
// and a client config, then exchanges a byte each way so that a client
// certificate the server refuses (TLS 1.3 checks it after the client's
// handshake returns) surfaces on both sides.
func handshake(t *testing.T, server, client *cryptotls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var res handshakeResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			res.serverErr = err
			return
		}
		defer c.Close()
		tc := cryptotls.Server(c, server)
		if res.serverErr = tc.HandshakeContext(ctx); res.serverErr != nil {
			return
		}
		res.serverState = tc.ConnectionState()
		buf := make([]byte, 1)
		if _, res.serverErr = tc.Read(buf); res.serverErr == nil {
			_, res.serverErr = tc.Write(buf)
		}
	}()
	d := &cryptotls.Dialer{Config: client}
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		tc := c.(*cryptotls.Conn)
		res.clientState = tc.ConnectionState()
		if _, err = tc.Write([]byte{1}); err == nil {
			_, err = tc.Read(make([]byte, 1))
		}
		tc.Close()
	}
	res.clientErr = err
	<-done
	return res
}

func principalOf(t *testing.T, p Props, cs cryptotls.ConnectionState) auth.Principal {
	t.Helper()
	b, err := NewPrincipalBuilder(p)
	require.NoError(t, err)
	pr, err := b.Principal(cs)
	require.NoError(t, err)
	return pr
}

// TestKafkaDocsStoresHandshake uses keystores and truststores made with
// keytool and openssl as in Kafka's documentation, JKS and PKCS12, for real
// handshakes over loopback with each ssl.client.auth.
func TestKafkaDocsStoresHandshake(t *testing.T) {
	for _, storetype := range []string{"JKS", "PKCS12"} {
		t.Run(storetype, func(t *testing.T) {
			s := kafkaDocsStores(t, storetype)
			serverProps := func(clientAuth string) Props {
				return Props{
					PropKeystoreType: storetype, PropKeystoreLocation: s.serverKeystore,
					PropKeystorePassword: s.storePass, PropKeyPassword: s.keyPass,
					PropTruststoreType: storetype, PropTruststoreLocation: s.truststore, PropTruststorePassword: s.storePass,
					PropClientAuth: clientAuth,
				}
			}
			withCert := Props{
				PropKeystoreType: storetype, PropKeystoreLocation: s.clientKeystore,
				PropKeystorePassword: s.storePass, PropKeyPassword: s.keyPass,
				PropTruststoreType: storetype, PropTruststoreLocation: s.truststore, PropTruststorePassword: s.storePass,
			}
			noCert := Props{PropTruststoreType: storetype, PropTruststoreLocation: s.truststore, PropTruststorePassword: s.storePass}
			clientPrincipal := auth.User("CN=client,OU=eng,O=Acme,C=US")

			for _, tt := range []struct {
				clientAuth string
				client     Props
				refused    bool
				want       auth.Principal
			}{
				{"required", withCert, false, clientPrincipal},
				{"required", noCert, true, auth.Principal{}},
				{"requested", withCert, false, clientPrincipal},
				{"requested", noCert, false, auth.Anonymous},
				{"none", withCert, false, auth.Anonymous},
				{"none", noCert, false, auth.Anonymous},
			} {
				name := tt.clientAuth + "/with-cert"
				if tt.client[PropKeystoreLocation] == "" {
					name = tt.clientAuth + "/no-cert"
				}
				t.Run(name, func(t *testing.T) {
					srv, err := NewServer(serverProps(tt.clientAuth))
					require.NoError(t, err)
					cl, err := NewClient(tt.client, "localhost")
					require.NoError(t, err)
					res := handshake(t, srv.Config(), cl)
					if tt.refused {
						require.Error(t, res.serverErr, "the server refuses a client without a certificate")
						require.Error(t, res.clientErr, "the client sees the refusal")
						return
					}
					require.NoError(t, res.serverErr)
					require.NoError(t, res.clientErr)
					require.Equal(t, tt.want, principalOf(t, Props{}, res.serverState))
					require.Equal(t, "CN=localhost,OU=Eng,O=Acme\\, Inc.,C=US", RFC2253(res.clientState.PeerCertificates[0]))
				})
			}
		})
	}
}

// TestPEMStores: inline PEM (ssl.keystore.key, ssl.keystore.certificate.chain,
// ssl.truststore.certificates), a PEM keystore file, and a key encrypted
// by openssl with PBES2 and ssl.key.password.
func TestPEMStores(t *testing.T) {
	ca := newTestCA(t, "PEM CA")
	serverCert, serverKey := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "localhost"}, dns: []string{"localhost"}})
	clientCert, clientKey := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "alice", Organization: []string{"Acme"}}})
	dir := t.TempDir()

	// The client's key, encrypted by openssl.
	plainKeyFile := writeFile(t, dir, "client-key.pem", keyPEM(t, clientKey))
	sh(t, dir, "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", plainKeyFile, "-out", "client-key-enc.pem", "-passout", "pass:k3y")
	encKey := readFile(t, filepath.Join(dir, "client-key-enc.pem"))
	sh(t, dir, "openssl", "pkcs8", "-topk8", "-v2", "des3", "-v2prf", "hmacWithSHA1", "-in", plainKeyFile, "-out", "client-key-3des.pem", "-passout", "pass:k3y")
	des3Key := readFile(t, filepath.Join(dir, "client-key-3des.pem"))

	serverProps := Props{
		PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, serverKey), PropKeystoreCertificateChain: certPEM(serverCert, ca.cert),
		PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert), PropClientAuth: "required",
	}
	srv, err := NewServer(serverProps)
	require.NoError(t, err)

	for name, client := range map[string]Props{
		"inline key and chain": {PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, clientKey), PropKeystoreCertificateChain: certPEM(clientCert),
			PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert)},
		"encrypted key (aes-256-cbc, hmacWithSHA256)": {PropKeystoreType: "PEM", PropKeystoreKey: encKey, PropKeyPassword: "k3y", PropKeystoreCertificateChain: certPEM(clientCert),
			PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert)},
		"encrypted key (des3, hmacWithSHA1)": {PropKeystoreType: "PEM", PropKeystoreKey: des3Key, PropKeyPassword: "k3y", PropKeystoreCertificateChain: certPEM(clientCert),
			PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert)},
		"PEM files": {PropKeystoreType: "PEM", PropKeystoreLocation: writeFile(t, dir, "client.pem", encKey+certPEM(clientCert)), PropKeyPassword: "k3y",
			PropTruststoreType: "PEM", PropTruststoreLocation: writeFile(t, dir, "ca.pem", certPEM(ca.cert))},
	} {
		t.Run(name, func(t *testing.T) {
			cl, err := NewClient(client, "localhost")
			require.NoError(t, err)
			res := handshake(t, srv.Config(), cl)
			require.NoError(t, res.serverErr)
			require.NoError(t, res.clientErr)
			require.Equal(t, auth.User("CN=alice,O=Acme"), principalOf(t, Props{}, res.serverState))
		})
	}

	_, err = NewClient(Props{PropKeystoreType: "PEM", PropKeystoreKey: encKey, PropKeyPassword: "wrong", PropKeystoreCertificateChain: certPEM(clientCert)}, "localhost")
	require.ErrorIs(t, err, ErrConfig)
	require.ErrorContains(t, err, "wrong ssl.key.password")
	_, err = NewClient(Props{PropKeystoreType: "PEM", PropKeystoreKey: encKey, PropKeystoreCertificateChain: certPEM(clientCert)}, "localhost")
	require.ErrorContains(t, err, "the private key is encrypted but ssl.key.password is not set")
	_, err = NewClient(Props{PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, serverKey), PropKeystoreCertificateChain: certPEM(clientCert)}, "localhost")
	require.ErrorContains(t, err, "the private key does not belong to the first certificate of the chain")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestStoreConfigErrors: Kafka's DefaultSslEngineFactory checks, with its
// messages, and Spool's own refusals.
func TestStoreConfigErrors(t *testing.T) {
	s := kafkaDocsStores(t, "JKS")
	tests := []struct {
		name  string
		props Props
		err   string
	}{
		{"key without PEM type", Props{PropKeystoreKey: "x", PropKeystoreCertificateChain: "y"}, "SSL private key can be specified only for PEM, but key store type is JKS."},
		{"key without chain", Props{PropKeystoreType: "PEM", PropKeystoreKey: "x"}, "SSL private key is specified, but certificate chain is not specified."},
		{"key and location", Props{PropKeystoreType: "PEM", PropKeystoreKey: "x", PropKeystoreCertificateChain: "y", PropKeystoreLocation: "/k"}, "Both SSL key store location and separate private key are specified."},
		{"key and store password", Props{PropKeystoreType: "PEM", PropKeystoreKey: "x", PropKeystoreCertificateChain: "y", PropKeystorePassword: "p"}, "SSL key store password cannot be specified with PEM format, only key password may be specified."},
		{"chain without key", Props{PropKeystoreType: "PEM", PropKeystoreCertificateChain: "y"}, "SSL certificate chain is specified, but private key is not specified"},
		{"password without store", Props{PropKeystorePassword: "p"}, "SSL key store is not specified, but key store password is specified."},
		{"store without password", Props{PropKeystoreLocation: s.serverKeystore}, "SSL key store is specified, but key store password is not specified."},
		{"no keystore on a server", Props{}, "a TLS listener needs a keystore"},
		{"wrong store password", Props{PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: "nope"}, "wrong ssl.keystore.password"},
		{"wrong key password", Props{PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: s.storePass, PropKeyPassword: "nope"}, "wrong ssl.key.password"},
		{"JKS read as PKCS12", Props{PropKeystoreType: "PKCS12", PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: s.storePass}, "cannot load the PKCS12 key store"},
		{"unknown store type", Props{PropKeystoreType: "JCEKS"}, "supported store types are JKS, PKCS12 and PEM"},
		{"JKS truststore without password", Props{PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: s.storePass, PropKeyPassword: s.keyPass,
			PropTruststoreLocation: s.truststore}, "Spool needs the password of a JKS trust store"},
		{"inline trust certs without PEM type", Props{PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: s.storePass, PropKeyPassword: s.keyPass,
			PropTruststoreCertificates: "x"}, "SSL trust store certs can be specified only for PEM, but trust store type is JKS."},
		{"PEM truststore with password", Props{PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: s.storePass, PropKeyPassword: s.keyPass,
			PropTruststoreType: "PEM", PropTruststoreLocation: s.caCert, PropTruststorePassword: "p"}, "SSL trust store password cannot be specified for PEM format."},
		{"client auth", Props{PropKeystoreLocation: s.serverKeystore, PropKeystorePassword: s.storePass, PropKeyPassword: s.keyPass, PropClientAuth: "maybe"}, "must be one of required, requested, none"},
		{"security provider", Props{PropProvider: "BC"}, "ssl.provider=BC"},
		{"engine factory", Props{PropEngineFactoryClass: "x.Y"}, "ssl.engine.factory.class=x.Y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(tt.props)
			require.ErrorIs(t, err, ErrConfig)
			require.ErrorContains(t, err, tt.err)
			require.NotContains(t, err.Error(), s.storePass, "passwords never appear in errors")
		})
	}
}

func TestProtocolsAndCipherSuites(t *testing.T) {
	tests := []struct {
		name     string
		props    Props
		min, max uint16
		suites   []uint16
		err      string
	}{
		{name: "defaults", props: Props{}, min: cryptotls.VersionTLS12, max: cryptotls.VersionTLS13},
		{name: "TLSv1.3 only", props: Props{PropEnabledProtocols: "TLSv1.3"}, min: cryptotls.VersionTLS13, max: cryptotls.VersionTLS13},
		{name: "TLSv1.2 only", props: Props{PropEnabledProtocols: " TLSv1.2 "}, min: cryptotls.VersionTLS12, max: cryptotls.VersionTLS12},
		{name: "TLSv1.1", props: Props{PropEnabledProtocols: "TLSv1.1,TLSv1.2"}, err: "protocol TLSv1.1 is not supported"},
		{name: "ssl.protocol SSLv3", props: Props{PropProtocol: "SSLv3"}, err: "ssl.protocol=SSLv3"},
		{name: "empty protocols", props: Props{PropEnabledProtocols: ""}, err: "enables no protocol"},
		{name: "TLS 1.2 suites only cap TLS 1.3", props: Props{PropCipherSuites: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, SSL_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
			min: cryptotls.VersionTLS12, max: cryptotls.VersionTLS12,
			suites: []uint16{cryptotls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, cryptotls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}},
		{name: "TLS 1.3 suites only raise the minimum", props: Props{PropCipherSuites: "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"},
			min: cryptotls.VersionTLS13, max: cryptotls.VersionTLS13},
		{name: "all of both", props: Props{PropCipherSuites: "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
			min: cryptotls.VersionTLS12, max: cryptotls.VersionTLS13, suites: []uint16{cryptotls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{name: "some TLS 1.3 suites", props: Props{PropCipherSuites: "TLS_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, err: "names only some TLS 1.3 cipher suites"},
		{name: "unknown suite", props: Props{PropCipherSuites: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_MADE_UP"}, err: "unknown cipher suite TLS_MADE_UP"},
		{name: "insecure suite", props: Props{PropCipherSuites: "TLS_RSA_WITH_RC4_128_SHA"}, err: "cipher suite TLS_RSA_WITH_RC4_128_SHA is insecure"},
		{name: "TLS 1.3 suites with TLSv1.2 only", props: Props{PropEnabledProtocols: "TLSv1.2", PropCipherSuites: "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"},
			err: "leaves no cipher suite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := base(tt.props)
			if tt.err != "" {
				require.ErrorIs(t, err, ErrConfig)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.min, cfg.MinVersion)
			require.Equal(t, tt.max, cfg.MaxVersion)
			require.Equal(t, tt.suites, cfg.CipherSuites)
		})
	}

	// Over the wire: a TLSv1.2-only server and a TLSv1.3-only client do not
	// agree; a chosen suite is the one negotiated.
	ca := newTestCA(t, "CA")
	cert, key := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "localhost"}, dns: []string{"localhost"}})
	serverProps := func(extra Props) Props {
		p := Props{PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, key), PropKeystoreCertificateChain: certPEM(cert)}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	trustCA := Props{PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert)}
	with := func(p Props, k, v string) Props {
		out := Props{}
		for a, b := range p {
			out[a] = b
		}
		out[k] = v
		return out
	}
	srv, err := NewServer(serverProps(Props{PropEnabledProtocols: "TLSv1.2", PropCipherSuites: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}))
	require.NoError(t, err)
	cl, err := NewClient(with(trustCA, PropEnabledProtocols, "TLSv1.3"), "localhost")
	require.NoError(t, err)
	res := handshake(t, srv.Config(), cl)
	require.Error(t, res.clientErr)
	cl, err = NewClient(trustCA, "localhost")
	require.NoError(t, err)
	res = handshake(t, srv.Config(), cl)
	require.NoError(t, res.clientErr)
	require.Equal(t, uint16(cryptotls.VersionTLS12), res.clientState.Version)
	require.Equal(t, cryptotls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, res.clientState.CipherSuite)
}

// TestEndpointIdentification: https (Kafka's client default) checks the
// host name; empty checks only the chain, which must still be trusted.
func TestEndpointIdentification(t *testing.T) {
	ca := newTestCA(t, "CA")
	other := newTestCA(t, "Other CA")
	cert, key := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "broker-1"}, dns: []string{"broker-1.example"}})
	srv, err := NewServer(Props{PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, key), PropKeystoreCertificateChain: certPEM(cert)})
	require.NoError(t, err)
	trust := func(c *x509.Certificate, alg *string) Props {
		p := Props{PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(c)}
		if alg != nil {
			p[PropEndpointIdentification] = *alg
		}
		return p
	}
	empty, https := "", "HTTPS"
	for _, tt := range []struct {
		name       string
		props      Props
		serverName string
		ok         bool
	}{
		{"default https, right name", trust(ca.cert, nil), "broker-1.example", true},
		{"default https, wrong name", trust(ca.cert, nil), "127.0.0.1", false},
		{"HTTPS, wrong name", trust(ca.cert, &https), "localhost", false},
		{"empty, wrong name", trust(ca.cert, &empty), "127.0.0.1", true},
		{"empty, untrusted chain", trust(other.cert, &empty), "127.0.0.1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := NewClient(tt.props, tt.serverName)
			require.NoError(t, err)
			res := handshake(t, srv.Config(), cl)
			if tt.ok {
				require.NoError(t, res.clientErr)
				return
			}
			require.Error(t, res.clientErr)
		})
	}
	bad := "ldaps"
	_, err = NewClient(trust(ca.cert, &bad), "x")
	require.ErrorContains(t, err, "ssl.endpoint.identification.algorithm=ldaps")
}

// TestReload swaps the keystore of a running listener: new handshakes get
// the new certificate, a keystore with another DN or fewer SANs is refused
// (unless ssl.allow.dn.changes / ssl.allow.san.changes), and a refused
// update changes nothing.
func TestReload(t *testing.T) {
	ca := newTestCA(t, "CA")
	certA, keyA := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "localhost", Organization: []string{"Acme"}}, dns: []string{"localhost", "broker"}})
	certB, keyB := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "localhost", Organization: []string{"Acme"}}, dns: []string{"localhost", "broker", "extra"}})
	certC, keyC := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "other"}, dns: []string{"localhost", "broker"}})
	certD, keyD := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "localhost", Organization: []string{"Acme"}}, dns: []string{"localhost"}})
	pemProps := func(c *x509.Certificate, k crypto.Signer, extra ...string) Props {
		p := Props{PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, k), PropKeystoreCertificateChain: certPEM(c)}
		for i := 0; i+1 < len(extra); i += 2 {
			p[extra[i]] = extra[i+1]
		}
		return p
	}
	srv, err := NewServer(pemProps(certA, keyA))
	require.NoError(t, err)
	cl, err := NewClient(Props{PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert)}, "localhost")
	require.NoError(t, err)
	served := func() *x509.Certificate {
		res := handshake(t, srv.Config(), cl)
		require.NoError(t, res.clientErr)
		return res.clientState.PeerCertificates[0]
	}
	require.Equal(t, certA.Raw, served().Raw)

	require.NoError(t, srv.Reload(pemProps(certB, keyB)), "same DN, more SANs")
	require.Equal(t, certB.Raw, served().Raw)

	err = srv.Reload(pemProps(certC, keyC))
	require.ErrorIs(t, err, ErrIncompatibleKeystore)
	require.ErrorContains(t, err, "Keystore DistinguishedName does not match")
	require.Equal(t, certB.Raw, served().Raw, "a refused update changes nothing")

	err = srv.Reload(pemProps(certD, keyD))
	require.ErrorContains(t, err, "Keystore SubjectAltNames do not match")
	require.NoError(t, srv.Reload(pemProps(certD, keyD, PropAllowSANChanges, "true")))
	require.Equal(t, certD.Raw, served().Raw)
	require.NoError(t, srv.Reload(pemProps(certC, keyC, PropAllowDNChanges, "true", PropAllowSANChanges, "true")))
	require.Equal(t, certC.Raw, served().Raw)

	err = srv.Reload(Props{PropKeystoreType: "PEM", PropKeystoreKey: "garbage", PropKeystoreCertificateChain: "garbage"})
	require.ErrorIs(t, err, ErrConfig)
	err = srv.Reload(pemProps(certC, keyC, PropAllowDNChanges, "true", PropTruststoreType, "PEM", PropTruststoreCertificates, certPEM(ca.cert)))
	require.ErrorContains(t, err, "Cannot add SSL truststore to an existing listener for which no truststore was configured.")
	require.Equal(t, certC.Raw, served().Raw)
}

func TestListenerProps(t *testing.T) {
	all := map[string]string{
		"ssl.keystore.location":                        "/global.jks",
		"ssl.client.auth":                              "none",
		"listener.name.internal.ssl.keystore.location": "/internal.jks",
		"listener.name.internal.ssl.client.auth":       "required",
		"listener.name.external.ssl.cipher.suites":     "X",
		"sasl.enabled.mechanisms":                      "PLAIN",
	}
	require.Equal(t, Props{"ssl.keystore.location": "/internal.jks", "ssl.client.auth": "required"}, ListenerProps(all, "INTERNAL"))
	require.Equal(t, Props{"ssl.keystore.location": "/global.jks", "ssl.client.auth": "none", "ssl.cipher.suites": "X"}, ListenerProps(all, "EXTERNAL"))

	all["ssl.client.auth"] = "required"
	require.Equal(t, "required", ServerProps(all, "EXTERNAL", "SSL")[PropClientAuth])
	require.Equal(t, "none", ServerProps(all, "EXTERNAL", "SASL_SSL")[PropClientAuth], "broker-wide ssl.client.auth does not apply to SASL_SSL")
	require.Equal(t, "required", ServerProps(all, "INTERNAL", "SASL_SSL")[PropClientAuth], "listener-prefixed does")
}

func TestPrincipalWithoutMatchingRule(t *testing.T) {
	ca := newTestCA(t, "CA")
	c, _ := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "x", OrganizationalUnit: []string{"Other"}}})
	b, err := NewPrincipalBuilder(Props{PropPrincipalMappingRules: "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/"})
	require.NoError(t, err)
	_, err = b.Principal(cryptotls.ConnectionState{PeerCertificates: []*x509.Certificate{c}})
	require.ErrorIs(t, err, ErrNoMatchingRule)
	require.ErrorContains(t, err, "Failed to map name for 'CN=x,OU=Other' based on SSL principal mapping rules")
	p, err := b.Principal(cryptotls.ConnectionState{})
	require.NoError(t, err)
	require.Equal(t, auth.Anonymous, p)
}

// TestRequestedRefusesUntrustedCertificate: with ssl.client.auth=requested a
// client may send no certificate, but one it sends must be trusted (as
// Java's wantClientAuth).
func TestRequestedRefusesUntrustedCertificate(t *testing.T) {
	ca, rogue := newTestCA(t, "CA"), newTestCA(t, "Rogue CA")
	sc, sk := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "localhost"}, dns: []string{"localhost"}})
	cc, ck := rogue.issue(t, leafOpts{subject: pkix.Name{CommonName: "mallory"}})
	srv, err := NewServer(Props{PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, sk), PropKeystoreCertificateChain: certPEM(sc),
		PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert), PropClientAuth: "requested"})
	require.NoError(t, err)
	cl, err := NewClient(Props{PropKeystoreType: "PEM", PropKeystoreKey: keyPEM(t, ck), PropKeystoreCertificateChain: certPEM(cc),
		PropTruststoreType: "PEM", PropTruststoreCertificates: certPEM(ca.cert)}, "localhost")
	require.NoError(t, err)
	// A Go (or Java) client offers only a certificate from a CA the server
	// lists, so it sends none here and is let in as ANONYMOUS...
	res := handshake(t, srv.Config(), cl)
	require.NoError(t, res.serverErr)
	require.Equal(t, auth.Anonymous, principalOf(t, Props{}, res.serverState))
	// ...a client that sends it anyway is refused.
	forced := cl.Clone()
	chain := forced.Certificates[0]
	forced.Certificates = nil
	forced.GetClientCertificate = func(*cryptotls.CertificateRequestInfo) (*cryptotls.Certificate, error) { return &chain, nil }
	res = handshake(t, srv.Config(), forced)
	require.Error(t, res.serverErr)
	require.Error(t, res.clientErr)
}
