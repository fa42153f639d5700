package server

import (
	"maps"
	"slices"
	"strings"

	"go.uber.org/zap"

	authtls "github.com/spool-broker/spool/auth/tls"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/seclink"
)

// Security is wired from Kafka's properties, per listener, when the Server
// binds it (Listen): the listener's security protocol decides what a new
// connection goes through before its first request (conn_auth.go):
//
//	PLAINTEXT       nothing; principal User:ANONYMOUS
//	SSL             TLS handshake; principal from the client certificate
//	                (User:ANONYMOUS without one), ssl.principal.mapping.rules
//	SASL_PLAINTEXT  SASL (SaslHandshake, SaslAuthenticate) before any other API
//	SASL_SSL        TLS handshake, then SASL
//
// A listener whose setup cannot be built (a keystore that does not open, a
// PLAIN mechanism without users) fails Listen, so the broker does not start.

// listenerSecurity is a listener's setup (seclink.Listener).
type listenerSecurity = seclink.Listener

// plaintextSecurity is the setup of a PLAINTEXT listener.
var plaintextSecurity = seclink.Plaintext

// initSecurity builds the setup of every listener in ls and the broker's
// authorizer. It runs in Listen, before any connection is accepted.
func (s *Server) initSecurity(ls []Listener) error {
	b := s.broker
	if b == nil || b.cfg == nil {
		return nil
	}
	if err := b.initAuthorizer(); err != nil {
		return err
	}
	s.security = map[string]*listenerSecurity{}
	for _, l := range ls {
		sec, err := seclink.NewListener(s.ctx, b.cfg, l.Name, b.scramCredentials(), s.logger)
		if err != nil {
			s.closeSecurity()
			return err
		}
		s.security[l.Name] = sec
		if sec.Protocol != "PLAINTEXT" {
			var mechs []string
			if sec.SASL != nil {
				mechs = sec.SASL.EnabledMechanisms()
			}
			s.logger.Info("listener security", zap.String("listener", l.Name), zap.String("security_protocol", sec.Protocol),
				zap.Strings("sasl_mechanisms", mechs))
		}
	}
	return nil
}

// listenerSecurity is the named listener's setup; PLAINTEXT for a listener
// Listen did not set up (tests that serve connections directly).
func (s *Server) listenerSecurity(name string) *listenerSecurity {
	if sec := s.security[name]; sec != nil {
		return sec
	}
	return plaintextSecurity
}

func (s *Server) closeSecurity() {
	for _, sec := range s.security {
		sec.Close()
	}
}

// reloadKeystores applies the dynamic per-broker keystore configs
// (listener.name.<l>.ssl.keystore.*, listener.name.<l>.ssl.key.password;
// config.ListenerKeystoreKey) of each TLS listener, as Kafka's keystore
// reload: the listener's properties are rebuilt with them over the static
// ones and its tls.Server reloads, so new connections get the new
// certificate while open ones keep theirs. A store that does not open or
// changes the broker's identity (tls.Server.Reload's checks) is refused
// with a warning and the old one stays. Called by the broker under
// reconcileMu for every image; it reloads only when a listener's dynamic
// keystore configs changed.
func (s *Server) reloadKeystores(perBroker map[string]string) {
	b := s.broker
	for name, sec := range s.security {
		if sec.TLS == nil {
			continue
		}
		prefix := "listener.name." + strings.ToLower(name) + ".ssl."
		var keys []string
		for k := range perBroker {
			if strings.HasPrefix(k, prefix) && config.ListenerKeystoreKey.MatchString(k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		var sig strings.Builder
		for _, k := range keys {
			sig.WriteString(k + "=" + perBroker[k] + "\n")
		}
		if s.keystoreSig == nil {
			s.keystoreSig = map[string]string{}
		}
		if s.keystoreSig[name] == sig.String() {
			continue
		}
		s.keystoreSig[name] = sig.String()
		all := maps.Clone(b.cfg.Security)
		for _, k := range keys {
			all[k] = perBroker[k]
		}
		log := s.logger.With(zap.String("listener", name), zap.Strings("configs", keys))
		if err := sec.TLS.Reload(authtls.ServerProps(all, name, sec.Protocol)); err != nil {
			log.Warn("dynamic keystore update refused; the listener keeps its keystore", zap.Error(err))
			continue
		}
		log.Info("listener keystore reloaded; new connections use it")
	}
}
