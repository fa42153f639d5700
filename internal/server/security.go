package server

import (
	"go.uber.org/zap"

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
		sec, err := seclink.NewListener(s.ctx, b.cfg, l.Name, b.scramCredentials(), s.log)
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
			s.log.Info("listener security", zap.String("listener", l.Name), zap.String("security_protocol", sec.Protocol),
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
