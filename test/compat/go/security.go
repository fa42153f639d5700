package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Security for the SASL_SSL columns (kafka-sasl, spool-sasl; lib/secure.sh):
// when COMPAT_SASL_USER is set every client logs in with SCRAM-SHA-512 over
// TLS, trusting the CA in COMPAT_CA_PEM.

// securityTLS is the clients' TLS config, nil for the plaintext columns.
func securityTLS() *tls.Config {
	ca := os.Getenv("COMPAT_CA_PEM")
	if os.Getenv("COMPAT_SASL_USER") == "" || ca == "" {
		return nil
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		fmt.Fprintf(os.Stderr, "COMPAT_CA_PEM: %v\n", err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fmt.Fprintf(os.Stderr, "COMPAT_CA_PEM %s holds no certificate\n", ca)
		os.Exit(2)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// newKgo is kgo.NewClient with the column's security.
func newKgo(opts ...kgo.Opt) (*kgo.Client, error) {
	if user := os.Getenv("COMPAT_SASL_USER"); user != "" {
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: os.Getenv("COMPAT_SASL_PASS")}.AsSha512Mechanism()))
		if t := securityTLS(); t != nil {
			opts = append(opts, kgo.DialTLSConfig(t))
		}
	}
	return kgo.NewClient(opts...)
}

// saramaSecurity sets sarama's SASL/SCRAM-SHA-512 and TLS for the SASL_SSL
// columns; sarama brings no SCRAM client of its own, so franz-go's drives
// the exchange (saramaSCRAM).
func saramaSecurity(c *sarama.Config) {
	user := os.Getenv("COMPAT_SASL_USER")
	if user == "" {
		return
	}
	c.Net.SASL.Enable = true
	c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
	c.Net.SASL.User, c.Net.SASL.Password = user, os.Getenv("COMPAT_SASL_PASS")
	c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{} }
	if t := securityTLS(); t != nil {
		c.Net.TLS.Enable, c.Net.TLS.Config = true, t
	}
}

// saramaSCRAM is sarama's SCRAMClient over franz-go's SCRAM-SHA-512.
type saramaSCRAM struct {
	first   []byte
	session sasl.Session
	done    bool
}

func (s *saramaSCRAM) Begin(user, password, _ string) error {
	sess, first, err := scram.Auth{User: user, Pass: password}.AsSha512Mechanism().Authenticate(context.Background(), "")
	s.session, s.first = sess, first
	return err
}

func (s *saramaSCRAM) Step(challenge string) (string, error) {
	if s.first != nil {
		first := s.first
		s.first = nil
		return string(first), nil
	}
	done, next, err := s.session.Challenge([]byte(challenge))
	s.done = done
	return string(next), err
}

func (s *saramaSCRAM) Done() bool { return s.done }
