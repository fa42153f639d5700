// Package sasl owns the server side of Kafka's SASL mechanisms as state
// machines without network code: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
// OAUTHBEARER, plus the parser for Kafka's sasl.jaas.config syntax.
//
// # Shape
//
// A Mechanism is configured once per listener and mechanism (users, a
// credential store, a token validator) and is safe for concurrent use. For
// each authentication exchange the connection calls NewServer and feeds the
// client's tokens, in order, to Server.Step; a Server belongs to one
// connection and is not safe for concurrent use. Step returns the token to
// send back and done=true once the client is authenticated; Outcome then
// gives the authorization ID (the principal is User:<id>), whether a
// delegation token was used, and the credential's expiry for the session
// lifetime (KIP-368). A failure is an *AuthError wrapping
// ErrAuthenticationFailed; MessageForClient is what the SaslAuthenticate
// response carries: the mechanism's own message where Kafka sends one
// (PLAIN, authzid mismatches, OAUTHBEARER's JSON error), otherwise Kafka's
// generic "Authentication failed during authentication due to invalid
// credentials with SASL mechanism X".
//
// # Kafka's configuration
//
//	listener.name.<l>.plain.sasl.jaas.config        PLAIN users: user_<name>="<password>"
//	listener.name.<l>.scram-sha-256.sasl.jaas.config  (ScramLoginModule; users come from the metadata log)
//	listener.name.<l>.oauthbearer.sasl.jaas.config  unsecuredValidator* options (UnsecuredValidator)
//	listener.name.<l>.oauthbearer.sasl.server.callback.handler.class=
//	    org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
//	    selects JWKSValidator with sasl.oauthbearer.jwks.endpoint.url,
//	    sasl.oauthbearer.expected.audience, sasl.oauthbearer.expected.issuer,
//	    sasl.oauthbearer.clock.skew.seconds, sasl.oauthbearer.{sub,scope}.claim.name,
//	    sasl.oauthbearer.jwks.endpoint.{refresh,retry.backoff,retry.backoff.max}.ms
//
// A broker-wide sasl.jaas.config without the listener and mechanism prefix
// is ignored by Kafka's brokers (with a warning); the caller should do the
// same.
//
// # Secrets
//
// Passwords, SCRAM proofs and keys, and bearer tokens never appear in an
// error, a String method or a log line. PLAIN passwords are kept as keyed
// digests; comparisons are constant-time and do the same work for unknown
// users (a dummy digest for PLAIN, a dummy credential with a stable salt
// for SCRAM, which fails only at the proof), so neither the answer nor its
// timing tells a client whether a user exists.
//
// # Differences from Kafka, on purpose
//
//   - SCRAM: Kafka fails an unknown user at the first message; Spool runs
//     the exchange to the proof (RFC 5802 section 9). A mandatory "m="
//     extension and a channel binding other than "n,," or the gs2 header
//     are refused (Kafka ignores them). A stored credential below 4096
//     iterations never authenticates. An expired delegation token is
//     refused at authentication.
//   - OAUTHBEARER: after the JSON error challenge only the client's %x01 is
//     accepted (Kafka would parse another initial response), so a
//     connection gets one token per exchange. JWKSValidator refuses HMAC
//     (HS*) algorithms and keys that are not public.
package sasl
