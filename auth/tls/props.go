package tls

import (
	"errors"
	"fmt"
	"strings"
)

// Kafka's ssl.* property names.
const (
	PropKeystoreType             = "ssl.keystore.type"
	PropKeystoreLocation         = "ssl.keystore.location"
	PropKeystorePassword         = "ssl.keystore.password"
	PropKeyPassword              = "ssl.key.password"
	PropKeystoreCertificateChain = "ssl.keystore.certificate.chain"
	PropKeystoreKey              = "ssl.keystore.key"
	PropTruststoreType           = "ssl.truststore.type"
	PropTruststoreLocation       = "ssl.truststore.location"
	PropTruststorePassword       = "ssl.truststore.password"
	PropTruststoreCertificates   = "ssl.truststore.certificates"
	PropClientAuth               = "ssl.client.auth"
	PropEnabledProtocols         = "ssl.enabled.protocols"
	PropProtocol                 = "ssl.protocol"
	PropCipherSuites             = "ssl.cipher.suites"
	PropEndpointIdentification   = "ssl.endpoint.identification.algorithm"
	PropPrincipalMappingRules    = "ssl.principal.mapping.rules"
	PropAllowDNChanges           = "ssl.allow.dn.changes"
	PropAllowSANChanges          = "ssl.allow.san.changes"
	PropProvider                 = "ssl.provider"
	PropEngineFactoryClass       = "ssl.engine.factory.class"
	PropKeyManagerAlgorithm      = "ssl.keymanager.algorithm"
	PropTrustManagerAlgorithm    = "ssl.trustmanager.algorithm"
	PropSecureRandom             = "ssl.secure.random.implementation"
)

// ReconfigurableProps are the properties a dynamic broker config update may
// change on a listener (Kafka's SslConfigs.RECONFIGURABLE_CONFIGS):
// Server.Reload rebuilds from them.
var ReconfigurableProps = []string{
	PropKeystoreType, PropKeystoreLocation, PropKeystorePassword, PropKeyPassword,
	PropKeystoreCertificateChain, PropKeystoreKey,
	PropTruststoreType, PropTruststoreLocation, PropTruststorePassword, PropTruststoreCertificates,
}

// Props are a listener's resolved ssl.* properties (name -> value). Values
// include passwords and private keys: never log them.
type Props map[string]string

// ListenerProps resolves the ssl.* properties of a listener from all the
// broker's properties as Kafka does: listener.name.<listener, lower
// case>.ssl.X overrides ssl.X.
func ListenerProps(all map[string]string, listener string) Props {
	p := Props{}
	for k, v := range all {
		if strings.HasPrefix(k, "ssl.") {
			p[k] = v
		}
	}
	prefix := "listener.name." + strings.ToLower(listener) + "."
	for k, v := range all {
		if rest, ok := strings.CutPrefix(k, prefix); ok && strings.HasPrefix(rest, "ssl.") {
			p[rest] = v
		}
	}
	return p
}

// ServerProps is ListenerProps for a broker listener of the given security
// protocol. On a SASL_SSL listener ssl.client.auth applies only when it is
// listener-prefixed; the broker-wide value is ignored and client
// authentication is off, as Kafka's ChannelBuilders does (SASL
// authenticates the client there).
func ServerProps(all map[string]string, listener, securityProtocol string) Props {
	p := ListenerProps(all, listener)
	if securityProtocol == "SASL_SSL" {
		key := "listener.name." + strings.ToLower(listener) + "." + PropClientAuth
		if v, ok := all[key]; ok {
			p[PropClientAuth] = v
		} else {
			p[PropClientAuth] = "none"
		}
	}
	return p
}

// get returns a property's value and whether it is set (Kafka treats a
// present but empty password like an absent one for nullable passwords;
// callers decide).
func (p Props) get(name string) (string, bool) {
	v, ok := p[name]
	return v, ok
}

// str is the trimmed value, or def when unset.
func (p Props) str(name, def string) string {
	if v, ok := p[name]; ok {
		return strings.TrimSpace(v)
	}
	return def
}

// password is a nullable Password property: unset (or empty, which Kafka's
// ConfigDef parses as an empty password but Spool treats as unset) means
// none.
func (p Props) password(name string) (string, bool) {
	v, ok := p[name]
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

// list is a comma-separated list property, trimmed, empty items dropped.
func (p Props) list(name string) ([]string, bool) {
	v, ok := p[name]
	if !ok {
		return nil, false
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, true
}

func (p Props) boolean(name string, def bool) (bool, error) {
	v, ok := p[name]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &ConfigError{Property: name, Value: v, Reason: "must be true or false"}
}

// ErrConfig marks a TLS configuration Spool refuses.
var ErrConfig = errors.New("tls: invalid configuration")

// ConfigError names the property at fault. Value is empty for secrets.
type ConfigError struct {
	Property string
	Value    string
	Reason   string
	Err      error
}

func (e *ConfigError) Error() string {
	s := "tls: " + e.Property
	if e.Value != "" {
		s += "=" + e.Value
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ConfigError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrConfig, e.Err}
	}
	return []error{ErrConfig}
}

func configErr(prop, value, format string, args ...any) *ConfigError {
	return &ConfigError{Property: prop, Value: value, Reason: fmt.Sprintf(format, args...)}
}
