// Package tls owns Spool's TLS setup from Kafka's ssl.* properties: the
// *tls.Config of SSL and SASL_SSL listeners (NewServer) and of connections
// Spool makes (NewClient), keystore reload for dynamic config updates
// (Server.Reload), and the principal of a client certificate
// (PrincipalBuilder).
//
// # Properties
//
// ListenerProps resolves a listener's properties: listener.name.<l>.ssl.*
// (listener name in lower case) overrides ssl.*; ServerProps adds Kafka's
// rule that a SASL_SSL listener takes ssl.client.auth only
// listener-prefixed. The store properties
// follow Kafka's DefaultSslEngineFactory, with its checks and messages:
//
//	ssl.keystore.type         JKS (default), PKCS12, PEM
//	ssl.keystore.location     file; with ssl.keystore.password (JKS, PKCS12)
//	ssl.key.password          JKS key password (default: the store password);
//	                          for PEM the password of an encrypted PKCS#8 key
//	ssl.keystore.key          inline PEM key (type PEM)
//	ssl.keystore.certificate.chain  inline PEM chain (type PEM)
//	ssl.truststore.type/location/password, ssl.truststore.certificates (PEM)
//	                          no truststore: the system's roots, as Java's cacerts
//	ssl.client.auth           none, requested, required
//	ssl.enabled.protocols     TLSv1.2, TLSv1.3 (older ones are refused)
//	ssl.cipher.suites         Java/IANA names; TLS 1.3 suites all or none
//	ssl.endpoint.identification.algorithm  https (client default) or empty
//	ssl.principal.mapping.rules  RULE:pattern/replacement/[LU], DEFAULT
//	ssl.allow.dn.changes, ssl.allow.san.changes  (reload checks)
//
// Errors are *ConfigError naming the property (never a secret's value) and
// wrap ErrConfig; the broker refuses to start on them.
//
// # Formats
//
// JKS is read with github.com/pavlo-v-chernykh/keystore-go/v4 and PKCS12
// with software.sslmate.com/src/go-pkcs12: keytool's formats (JKS's
// proprietary key protection and integrity digest, PKCS12's many PBE and MAC
// variants) are easy to get subtly wrong by hand. Encrypted PEM keys use
// PBES2 (pbes2.go), which openssl and Java write by default.
//
// # Concurrency
//
// A Server is safe for concurrent use: Config returns one *tls.Config for
// the listener's life whose GetConfigForClient reads the current setup
// from an atomic pointer, and Reload builds, validates and swaps a new
// setup (serialized by a mutex). Handshakes in flight keep the setup they
// started with. Nothing here starts goroutines.
//
// # Principals
//
// PrincipalBuilder.Principal is Kafka's DefaultKafkaPrincipalBuilder for
// SSL: User:ANONYMOUS without a client certificate, otherwise
// User:<mapped subject>, the subject printed as Java's
// X500Principal.getName() (RFC2253), which is checked against Java itself
// in the tests, as are the mapping rules against Kafka's SslPrincipalMapper.
// On SASL_SSL listeners the SASL identity is the principal instead.
package tls
