package seclink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
	authtls "github.com/spool-broker/spool/auth/tls"
	"github.com/spool-broker/spool/internal/config"
)

// Listener is how one listener secures its connections. It is read-only
// once built and shared by the listener's connections.
type Listener struct {
	Protocol   string                    // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	TLS        *authtls.Server           // SSL, SASL_SSL
	Principals *authtls.PrincipalBuilder // SSL
	SASL       *auth.SASLConfig          // SASL_PLAINTEXT, SASL_SSL
	// closers release what the setup started (a JWKS refresher).
	closers []func()
}

// UsesTLS reports whether connections start with a TLS handshake.
func (ls *Listener) UsesTLS() bool { return ls.TLS != nil }

// Close releases what the setup started.
func (ls *Listener) Close() {
	for _, c := range ls.closers {
		c()
	}
}

// Plaintext is the setup of a PLAINTEXT listener.
var Plaintext = &Listener{Protocol: "PLAINTEXT"}

// The OAUTHBEARER server callback handler that selects JWKS validation;
// Kafka 3.x named it in the .secured package, Kafka 4 moved it.
var jwksCallbackHandlers = []string{
	"org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
	"org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
}

// NewListener builds a listener's setup from the broker's
// properties. creds are the SCRAM credentials (the metadata image); when
// creds is also a sasl.TokenStore, SCRAM accepts delegation tokens.
func NewListener(ctx context.Context, cfg *config.Broker, listener string, creds sasl.CredentialStore, log *zap.Logger) (*Listener, error) {
	protocol := cfg.ListenerSecurityProtocolMap[listener]
	if protocol == "" {
		protocol = "PLAINTEXT"
	}
	ls := &Listener{Protocol: protocol}
	ok := false
	defer func() {
		if !ok {
			ls.Close()
		}
	}()
	switch protocol {
	case "PLAINTEXT":
		ok = true
		return Plaintext, nil
	case "SSL", "SASL_SSL":
		props := authtls.ServerProps(cfg.Security, listener, protocol)
		srv, err := authtls.NewServer(props)
		if err != nil {
			return nil, fmt.Errorf("listener %s (%s): %w", listener, protocol, err)
		}
		ls.TLS = srv
		if protocol == "SSL" {
			pb, err := authtls.NewPrincipalBuilder(props)
			if err != nil {
				return nil, fmt.Errorf("listener %s (%s): %w", listener, protocol, err)
			}
			ls.Principals = pb
		}
	case "SASL_PLAINTEXT":
	default:
		return nil, fmt.Errorf("listener %s: unknown security protocol %q", listener, protocol)
	}
	if strings.HasPrefix(protocol, "SASL_") {
		sc, closers, err := newSASLConfig(ctx, cfg, listener, creds, log)
		ls.closers = append(ls.closers, closers...)
		if err != nil {
			return nil, fmt.Errorf("listener %s (%s): %w", listener, protocol, err)
		}
		ls.SASL = sc
	}
	ok = true
	return ls, nil
}

// listenerPrefix is Kafka's ListenerName.configPrefix.
func listenerPrefix(listener string) string {
	return "listener.name." + strings.ToLower(listener) + "."
}

// saslProp looks a SASL property up as Kafka's SaslChannelBuilder sees it:
// listener.name.<l>.<mechanism>.<name>, then listener.name.<l>.<name>, then
// <name> (mechanism "" skips the first).
func saslProp(cfg *config.Broker, listener, mechanism, name string) (string, bool) {
	lp := listenerPrefix(listener)
	if mechanism != "" {
		if v, ok := cfg.Security[lp+strings.ToLower(mechanism)+"."+name]; ok {
			return v, true
		}
	}
	if v, ok := cfg.Security[lp+name]; ok {
		return v, true
	}
	if v, ok := cfg.Security[name]; ok {
		return v, true
	}
	if v, ok := cfg.Static(name); ok {
		return v, true
	}
	return "", false
}

// msProp reads a millisecond property (listener and mechanism prefixes as
// saslProp), def when unset.
func msProp(cfg *config.Broker, listener, mechanism, name string, def time.Duration) (time.Duration, error) {
	v, ok := saslProp(cfg, listener, mechanism, name)
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q must be a non-negative number of milliseconds", name, v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// newSASLConfig builds the SASL setup of a SASL_* listener: the enabled
// mechanisms (listener.name.<l>.sasl.enabled.mechanisms, else
// sasl.enabled.mechanisms), each configured as Kafka configures it, and
// the frame cap, re-authentication and failure delay.
func newSASLConfig(ctx context.Context, cfg *config.Broker, listener string, creds sasl.CredentialStore, log *zap.Logger) (*auth.SASLConfig, []func(), error) {
	names := cfg.SASLEnabledMechanisms
	if v, ok := cfg.Security[listenerPrefix(listener)+"sasl.enabled.mechanisms"]; ok {
		names = nil
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				names = append(names, m)
			}
		}
	}
	if len(names) == 0 {
		return nil, nil, errors.New("no SASL mechanism is enabled (sasl.enabled.mechanisms)")
	}
	sc := &auth.SASLConfig{}
	var closers []func()
	for _, name := range names {
		name = strings.ToUpper(name)
		// Every enabled mechanism needs its server JAAS entry, as Kafka's
		// JaasContext.loadServerContext requires when the SocketServer
		// starts: Kafka refuses to start without one, and so does Spool,
		// rather than serve a mechanism nobody configured.
		var jaas sasl.JAASEntry
		key := listenerPrefix(listener) + strings.ToLower(name) + ".sasl.jaas.config"
		v, ok := cfg.Security[key]
		switch {
		case !ok && name == sasl.MechanismPlain:
			return nil, closers, fmt.Errorf("%w: SASL mechanism PLAIN needs its users: set %s to "+
				"org.apache.kafka.common.security.plain.PlainLoginModule required user_<name>=\"<password>\" ...;", missingJAAS(listener), key)
		case !ok && (name == sasl.MechanismScramSHA256 || name == sasl.MechanismScramSHA512 || name == sasl.MechanismOAuthBearer):
			return nil, closers, fmt.Errorf("%w: SASL mechanism %s needs %s, e.g. %s required;", missingJAAS(listener), name, key, loginModules[name])
		case ok:
			e, err := sasl.ParseServerJAAS(v)
			if err != nil {
				// Never echo the value: it holds passwords.
				return nil, closers, fmt.Errorf("%s: %w", key, err)
			}
			jaas = e
		}
		// A custom server callback handler (an LDAP PLAIN check, say)
		// replaces where users come from; Spool runs only Kafka's own.
		if def, ok := defaultServerCallbackHandlers[name]; ok {
			if h, _ := saslProp(cfg, listener, name, "sasl.server.callback.handler.class"); strings.TrimSpace(h) != "" && strings.TrimSpace(h) != def {
				return nil, closers, fmt.Errorf("%s%s.sasl.server.callback.handler.class=%s: custom SASL callback handlers are not supported; supported: %s (Kafka's default)",
					listenerPrefix(listener), strings.ToLower(name), strings.TrimSpace(h), def)
			}
		}
		switch name {
		case sasl.MechanismPlain:
			p, err := sasl.NewPlainFromJAAS(jaas)
			if err != nil {
				return nil, closers, fmt.Errorf("%s: %w", key, err)
			}
			sc.Mechanisms = append(sc.Mechanisms, p)
		case sasl.MechanismScramSHA256, sasl.MechanismScramSHA512:
			m, _ := sasl.ParseScramMechanism(name)
			var opts []sasl.ScramOption
			if ts, ok := creds.(sasl.TokenStore); ok {
				opts = append(opts, sasl.WithTokens(ts)) // delegation tokens (tokenauth=true)
			}
			s, err := sasl.NewScram(m, creds, opts...)
			if err != nil {
				return nil, closers, err
			}
			sc.Mechanisms = append(sc.Mechanisms, s)
		case sasl.MechanismOAuthBearer:
			e := jaas
			handler, _ := saslProp(cfg, listener, name, "sasl.server.callback.handler.class")
			var v sasl.TokenValidator
			if isJWKSHandler(strings.TrimSpace(handler)) {
				jv, err := newJWKSValidator(ctx, cfg, listener, log)
				if err != nil {
					return nil, closers, err
				}
				closers = append(closers, jv.Close)
				v = jv
			} else if strings.TrimSpace(handler) != "" {
				return nil, closers, fmt.Errorf("OAUTHBEARER server callback handler %s is not supported; supported: %s (JWKS) or none (unsecured JWTs, development only)",
					strings.TrimSpace(handler), jwksCallbackHandlers[0])
			} else {
				uv, err := sasl.NewUnsecuredValidatorFromJAAS(e)
				if err != nil {
					return nil, closers, err
				}
				v = uv
			}
			sc.Mechanisms = append(sc.Mechanisms, sasl.NewOAuthBearer(v))
		default:
			return nil, closers, fmt.Errorf("SASL mechanism %s is not supported", name)
		}
	}
	if v, ok := saslProp(cfg, listener, "", "sasl.server.max.receive.size"); ok && strings.TrimSpace(v) != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n <= 0 {
			return nil, closers, fmt.Errorf("sasl.server.max.receive.size=%q must be a positive int", v)
		}
		sc.MaxReceiveSize = int32(n)
	}
	delay, err := msProp(cfg, listener, "", "connection.failed.authentication.delay.ms", auth.DefaultFailedAuthenticationDelay)
	if err != nil {
		return nil, closers, err
	}
	sc.FailedAuthenticationDelay = delay
	if sc.LoginThrottle, err = loginThrottle(cfg, listener); err != nil {
		return nil, closers, err
	}
	reauth := map[string]time.Duration{}
	for _, m := range sc.Mechanisms {
		d, err := msProp(cfg, listener, m.Name(), "connections.max.reauth.ms", 0)
		if err != nil {
			return nil, closers, err
		}
		reauth[m.Name()] = d
	}
	sc.MaxReauth = func(mechanism string) time.Duration { return reauth[mechanism] }
	return sc, closers, nil
}

// defaultServerCallbackHandlers are Kafka's server callback handlers of the
// mechanisms whose users Spool checks itself (OAUTHBEARER has its own list,
// jwksCallbackHandlers).
var defaultServerCallbackHandlers = map[string]string{
	sasl.MechanismPlain:       "org.apache.kafka.common.security.plain.internals.PlainServerCallbackHandler",
	sasl.MechanismScramSHA256: "org.apache.kafka.common.security.scram.internals.ScramServerCallbackHandler",
	sasl.MechanismScramSHA512: "org.apache.kafka.common.security.scram.internals.ScramServerCallbackHandler",
}

// loginModules is the JAAS login module of each mechanism that needs an
// entry, for the startup error's example.
var loginModules = map[string]string{
	sasl.MechanismScramSHA256: sasl.ScramLoginModule,
	sasl.MechanismScramSHA512: sasl.ScramLoginModule,
	sasl.MechanismOAuthBearer: sasl.OAuthBearerLoginModule,
}

// ErrMissingJAAS marks a SASL listener with an enabled mechanism that has
// no listener.name.<l>.<mechanism>.sasl.jaas.config: Kafka refuses to start.
var ErrMissingJAAS = errors.New("seclink: no JAAS entry")

// missingJAASError is ErrMissingJAAS with Kafka's message for the listener
// (JaasContext.defaultContext). Spool reads no static JAAS file
// (java.security.auth.login.config in KAFKA_OPTS), so the listener
// property is the only place for the entry.
type missingJAASError struct{ listener string }

func missingJAAS(listener string) error { return missingJAASError{listener} }

func (e missingJAASError) Error() string {
	return fmt.Sprintf("Could not find a 'KafkaServer' or '%s.KafkaServer' entry in the JAAS configuration. "+
		"System property 'java.security.auth.login.config' is not set (Spool reads no JAAS file)", strings.ToLower(e.listener))
}

func (e missingJAASError) Unwrap() error { return ErrMissingJAAS }

func isJWKSHandler(class string) bool {
	for _, h := range jwksCallbackHandlers {
		if class == h {
			return true
		}
	}
	return false
}

// newJWKSValidator reads the sasl.oauthbearer.* properties of a listener.
func newJWKSValidator(ctx context.Context, cfg *config.Broker, listener string, log *zap.Logger) (*sasl.JWKSValidator, error) {
	get := func(name string) string {
		v, _ := saslProp(cfg, listener, sasl.MechanismOAuthBearer, name)
		return strings.TrimSpace(v)
	}
	jc := sasl.JWKSConfig{
		EndpointURL:    get("sasl.oauthbearer.jwks.endpoint.url"),
		ExpectedIssuer: get("sasl.oauthbearer.expected.issuer"),
		ScopeClaim:     get("sasl.oauthbearer.scope.claim.name"),
		SubClaim:       get("sasl.oauthbearer.sub.claim.name"),
	}
	if jc.EndpointURL == "" {
		return nil, errors.New("OAUTHBEARER with " + jwksCallbackHandlers[0] + " needs sasl.oauthbearer.jwks.endpoint.url")
	}
	for _, a := range strings.Split(get("sasl.oauthbearer.expected.audience"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			jc.ExpectedAudience = append(jc.ExpectedAudience, a)
		}
	}
	var err error
	for name, dst := range map[string]*time.Duration{
		"sasl.oauthbearer.jwks.endpoint.refresh.ms":           &jc.RefreshInterval,
		"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms":     &jc.RetryBackoff,
		"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": &jc.RetryBackoffMax,
	} {
		if *dst, err = msProp(cfg, listener, sasl.MechanismOAuthBearer, name, 0); err != nil {
			return nil, err
		}
	}
	if s := get("sasl.oauthbearer.clock.skew.seconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("sasl.oauthbearer.clock.skew.seconds=%q must be an int", s)
		}
		jc.ClockSkew, jc.ClockSkewSet = time.Duration(n)*time.Second, true
	}
	return sasl.NewJWKSValidator(ctx, jc, log.Named("jwks"))
}

// authorizerClassStandard is the authorizer.class.name that selects ACLs
// (Kafka's KRaft authorizer).
const authorizerClassStandard = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

// NewAuthorizer builds the ACL authorizer authorizer.class.name asks for,
// nil when none is configured (everything is allowed, as in Kafka).
func NewAuthorizer(cfg *config.Broker) (*acl.Authorizer, error) {
	class := strings.TrimSpace(cfg.AuthorizerClassName)
	switch class {
	case "":
		return nil, nil
	case authorizerClassStandard, "kafka.security.authorizer.AclAuthorizer":
		if class != authorizerClassStandard {
			return nil, fmt.Errorf("authorizer.class.name=%s is ZooKeeper's authorizer, gone in Kafka 4; use %s", class, authorizerClassStandard)
		}
	default:
		return nil, fmt.Errorf("authorizer.class.name=%s is not supported; use %s", class, authorizerClassStandard)
	}
	supers, err := auth.ParseSuperUsers(strings.Join(cfg.SuperUsers, ";"))
	if err != nil {
		return nil, err
	}
	allow := false
	if v, ok := cfg.Static("allow.everyone.if.no.acl.found"); ok {
		allow = strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return acl.NewAuthorizer(acl.Config{SuperUsers: supers, AllowEveryoneIfNoACLFound: allow}), nil
}

// loginThrottle reads spool.login.* (listener-prefixed as the other SASL
// properties): nil unless spool.login.failure.threshold is positive.
func loginThrottle(cfg *config.Broker, listener string) (*auth.LoginThrottle, error) {
	num := func(name string, def int64) (int64, error) {
		v, ok := saslProp(cfg, listener, "", name)
		if !ok || strings.TrimSpace(v) == "" {
			return def, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%q must be a non-negative number", name, v)
		}
		return n, nil
	}
	threshold, err := num("spool.login.failure.threshold", 0)
	if err != nil || threshold == 0 {
		return nil, err
	}
	window, err := num("spool.login.failure.window.ms", 60000)
	if err != nil {
		return nil, err
	}
	block, err := num("spool.login.block.ms", 30000)
	if err != nil {
		return nil, err
	}
	tracked, err := num("spool.login.tracked.addresses", 10000)
	if err != nil {
		return nil, err
	}
	return auth.NewLoginThrottle(int(threshold), time.Duration(window)*time.Millisecond, time.Duration(block)*time.Millisecond, int(tracked)), nil
}
