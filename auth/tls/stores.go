package tls

import (
	"bytes"
	"crypto"
	cryptotls "crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Store types (ssl.keystore.type, ssl.truststore.type). Kafka's default for
// both is JKS.
const (
	TypeJKS    = "JKS"
	TypePKCS12 = "PKCS12"
	TypePEM    = "PEM"
)

// identity is a loaded keystore: one or more certificate chains with their
// private keys.
type identity struct {
	certs []cryptotls.Certificate
}

// leaves are the identity's end-entity certificates, in order.
func (id *identity) leaves() []*x509.Certificate {
	out := make([]*x509.Certificate, len(id.certs))
	for i, c := range id.certs {
		out[i] = c.Leaf
	}
	return out
}

func storeType(p Props, prop string) (string, error) {
	t := strings.ToUpper(p.str(prop, TypeJKS))
	switch t {
	case TypeJKS, TypePKCS12, TypePEM:
		return t, nil
	}
	return "", configErr(prop, p.str(prop, ""), "supported store types are JKS, PKCS12 and PEM")
}

// loadKeystore reads the identity as Kafka's DefaultSslEngineFactory.createKeystore,
// with its checks and messages. It returns nil when no keystore is
// configured.
func loadKeystore(p Props) (*identity, error) {
	typ, err := storeType(p, PropKeystoreType)
	if err != nil {
		return nil, err
	}
	path, hasPath := p.get(PropKeystoreLocation)
	hasPath = hasPath && strings.TrimSpace(path) != ""
	storePw, hasStorePw := p.password(PropKeystorePassword)
	keyPw, hasKeyPw := p.password(PropKeyPassword)
	keyPEM, hasKey := p.password(PropKeystoreKey)
	chainPEM, hasChain := p.password(PropKeystoreCertificateChain)

	switch {
	case hasKey:
		switch {
		case typ != TypePEM:
			return nil, configErr(PropKeystoreKey, "", "SSL private key can be specified only for PEM, but key store type is %s.", typ)
		case !hasChain:
			return nil, configErr(PropKeystoreKey, "", "SSL private key is specified, but certificate chain is not specified.")
		case hasPath:
			return nil, configErr(PropKeystoreLocation, path, "Both SSL key store location and separate private key are specified.")
		case hasStorePw:
			return nil, configErr(PropKeystorePassword, "", "SSL key store password cannot be specified with PEM format, only key password may be specified.")
		}
		c, err := pemIdentity([]byte(keyPEM), []byte(chainPEM), keyPw, hasKeyPw)
		if err != nil {
			return nil, &ConfigError{Property: PropKeystoreKey, Reason: "Invalid PEM keystore configs", Err: err}
		}
		return &identity{certs: []cryptotls.Certificate{c}}, nil
	case hasChain:
		return nil, configErr(PropKeystoreCertificateChain, "", "SSL certificate chain is specified, but private key is not specified")
	case typ == TypePEM && hasPath:
		if hasStorePw {
			return nil, configErr(PropKeystorePassword, "", "SSL key store password cannot be specified with PEM format, only key password may be specified")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &ConfigError{Property: PropKeystoreLocation, Value: path, Reason: "cannot read the key store", Err: err}
		}
		c, err := pemIdentity(b, b, keyPw, hasKeyPw)
		if err != nil {
			return nil, &ConfigError{Property: PropKeystoreLocation, Value: path, Reason: "Invalid PEM keystore configs", Err: err}
		}
		return &identity{certs: []cryptotls.Certificate{c}}, nil
	case !hasPath && hasStorePw:
		return nil, configErr(PropKeystorePassword, "", "SSL key store is not specified, but key store password is specified.")
	case hasPath && !hasStorePw:
		return nil, configErr(PropKeystoreLocation, path, "SSL key store is specified, but key store password is not specified.")
	case !hasPath:
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Property: PropKeystoreLocation, Value: path, Reason: "cannot read the key store", Err: err}
	}
	if !hasKeyPw {
		keyPw = storePw // Kafka: the key password defaults to the store password
	}
	var id *identity
	switch typ {
	case TypeJKS:
		id, err = jksIdentity(b, storePw, keyPw)
	case TypePKCS12:
		id, err = pkcs12Identity(b, storePw)
	}
	if err != nil {
		return nil, &ConfigError{Property: PropKeystoreLocation, Value: path, Reason: "cannot load the " + typ + " key store", Err: err}
	}
	return id, nil
}

// jksIdentity reads every private-key entry of a JKS keystore (keytool's
// proprietary key protection, decrypted by keystore-go) with its chain.
func jksIdentity(b []byte, storePw, keyPw string) (*identity, error) {
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(b), []byte(storePw)); err != nil {
		return nil, fmt.Errorf("wrong ssl.keystore.password or not a JKS key store: %w", err)
	}
	id := &identity{}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPw))
		if err != nil {
			return nil, fmt.Errorf("entry %q: wrong ssl.key.password: %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("entry %q: private key: %w", alias, err)
		}
		chain := make([][]byte, len(e.CertificateChain))
		for i, c := range e.CertificateChain {
			if c.Type != "X.509" && c.Type != "X509" {
				return nil, fmt.Errorf("entry %q: certificate type %s", alias, c.Type)
			}
			chain[i] = c.Content
		}
		c, err := newCertificate(chain, key)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		id.certs = append(id.certs, c)
	}
	if len(id.certs) == 0 {
		return nil, errors.New("no private key entry")
	}
	return id, nil
}

// pkcs12Identity reads a PKCS12 keystore with one private key (go-pkcs12
// handles the PBE and MAC variants keytool and openssl write).
func pkcs12Identity(b []byte, pw string) (*identity, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(b, pw)
	if err != nil {
		return nil, fmt.Errorf("wrong ssl.keystore.password, not a PKCS12 key store, or more than one key: %w", err)
	}
	chain := [][]byte{leaf.Raw}
	for _, c := range cas {
		chain = append(chain, c.Raw)
	}
	c, err := newCertificate(chain, key)
	if err != nil {
		return nil, err
	}
	return &identity{certs: []cryptotls.Certificate{c}}, nil
}

func newCertificate(chain [][]byte, key any) (cryptotls.Certificate, error) {
	if len(chain) == 0 {
		return cryptotls.Certificate{}, errors.New("no certificate chain")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return cryptotls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return cryptotls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	if !publicKeysEqual(leaf.PublicKey, signer.Public()) {
		return cryptotls.Certificate{}, errors.New("the private key does not belong to the first certificate of the chain")
	}
	return cryptotls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// pemIdentity reads a PKCS#8 private key (encrypted with the key password
// when one is set, as Kafka requires) and a certificate chain, as Kafka's
// PemStore.
func pemIdentity(keyPEM, chainPEM []byte, keyPw string, hasKeyPw bool) (cryptotls.Certificate, error) {
	var keys [][]byte
	var encrypted []bool
	for rest := keyPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			keys = append(keys, blk.Bytes)
			encrypted = append(encrypted, blk.Type == "ENCRYPTED PRIVATE KEY")
		}
	}
	if len(keys) == 0 {
		return cryptotls.Certificate{}, errors.New("Private key not provided") //lint:ignore ST1005 Kafka's message
	}
	if len(keys) != 1 {
		return cryptotls.Certificate{}, fmt.Errorf("Expected one private key, but found %d", len(keys)) //lint:ignore ST1005 Kafka's message
	}
	der := keys[0]
	switch {
	case hasKeyPw:
		if !encrypted[0] {
			return cryptotls.Certificate{}, errors.New("ssl.key.password is set but the private key is not encrypted (Kafka expects an ENCRYPTED PRIVATE KEY)")
		}
		var err error
		if der, err = decryptPKCS8(der, keyPw); err != nil {
			return cryptotls.Certificate{}, err
		}
	case encrypted[0]:
		return cryptotls.Certificate{}, errors.New("the private key is encrypted but ssl.key.password is not set")
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return cryptotls.Certificate{}, fmt.Errorf("Private key could not be loaded (Kafka reads PKCS#8 keys: BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY): %w", err) //lint:ignore ST1005 Kafka's message
	}
	chain, err := pemCertificates(chainPEM)
	if err != nil {
		return cryptotls.Certificate{}, err
	}
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	return newCertificate(raw, key)
}

func pemCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out), err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("At least one certificate expected, but none found") //lint:ignore ST1005 Kafka's message
	}
	return out, nil
}

// trust is a loaded truststore: nil pool means the system's roots, as Java
// falls back to the JVM's cacerts when no truststore is configured.
type trust struct {
	pool  *x509.CertPool
	certs []*x509.Certificate
}

// loadTruststore reads the trust anchors as Kafka's createTruststore.
func loadTruststore(p Props) (*trust, error) {
	typ, err := storeType(p, PropTruststoreType)
	if err != nil {
		return nil, err
	}
	path, hasPath := p.get(PropTruststoreLocation)
	hasPath = hasPath && strings.TrimSpace(path) != ""
	pw, hasPw := p.password(PropTruststorePassword)
	inline, hasInline := p.password(PropTruststoreCertificates)

	var certs []*x509.Certificate
	switch {
	case hasInline:
		switch {
		case typ != TypePEM:
			return nil, configErr(PropTruststoreCertificates, "", "SSL trust store certs can be specified only for PEM, but trust store type is %s.", typ)
		case hasPath:
			return nil, configErr(PropTruststoreLocation, path, "Both SSL trust store location and separate trust certificates are specified.")
		case hasPw:
			return nil, configErr(PropTruststorePassword, "", "SSL trust store password cannot be specified for PEM format.")
		}
		if certs, err = pemCertificates([]byte(inline)); err != nil {
			return nil, &ConfigError{Property: PropTruststoreCertificates, Reason: "Invalid PEM truststore configs", Err: err}
		}
	case typ == TypePEM && hasPath:
		if hasPw {
			return nil, configErr(PropTruststorePassword, "", "SSL trust store password cannot be specified for PEM format.")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &ConfigError{Property: PropTruststoreLocation, Value: path, Reason: "cannot read the trust store", Err: err}
		}
		if certs, err = pemCertificates(b); err != nil {
			return nil, &ConfigError{Property: PropTruststoreLocation, Value: path, Reason: "Invalid PEM truststore configs", Err: err}
		}
	case !hasPath && hasPw:
		return nil, configErr(PropTruststorePassword, "", "SSL trust store is not specified, but trust store password is specified.")
	case !hasPath:
		return &trust{}, nil
	default:
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &ConfigError{Property: PropTruststoreLocation, Value: path, Reason: "cannot read the trust store", Err: err}
		}
		switch typ {
		case TypeJKS:
			if !hasPw {
				// Java loads a JKS store without a password by skipping its
				// integrity check; keystore-go always checks it.
				return nil, configErr(PropTruststorePassword, "", "Spool needs the password of a JKS trust store to check its integrity; set ssl.truststore.password (or use a PEM or PKCS12 trust store)")
			}
			certs, err = jksTrusted(b, pw)
		case TypePKCS12:
			certs, err = pkcs12.DecodeTrustStore(b, pw)
		}
		if err != nil {
			return nil, &ConfigError{Property: PropTruststoreLocation, Value: path, Reason: "cannot load the " + typ + " trust store", Err: err}
		}
	}
	if len(certs) == 0 {
		return nil, configErr(PropTruststoreLocation, path, "the trust store holds no trusted certificate")
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &trust{pool: pool, certs: certs}, nil
}

// jksTrusted reads the trusted-certificate entries of a JKS store (Java's
// trust manager uses those, not the chains of private-key entries).
func jksTrusted(b []byte, pw string) ([]*x509.Certificate, error) {
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(b), []byte(pw)); err != nil {
		return nil, fmt.Errorf("wrong ssl.truststore.password or not a JKS store: %w", err)
	}
	var out []*x509.Certificate
	for _, alias := range ks.Aliases() {
		if !ks.IsTrustedCertificateEntry(alias) {
			continue
		}
		e, err := ks.GetTrustedCertificateEntry(alias)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		c, err := x509.ParseCertificate(e.Certificate.Content)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		out = append(out, c)
	}
	return out, nil
}
