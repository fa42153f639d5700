package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SecretsDir is where the apache/kafka (and Confluent) images look for
// keystores and password files: /etc/kafka/secrets, mounted by the
// compose file. A variable so tests can point it elsewhere.
var SecretsDir = "/etc/kafka/secrets"

// imageSecrets are the image's file-based SSL variables: KAFKA_SSL_<X>_FILENAME
// names a store under SecretsDir, KAFKA_SSL_<X>_CREDENTIALS a file holding its
// password. The image's configure script turns them into
// ssl.keystore.location/password, ssl.key.password and
// ssl.truststore.location/password before Kafka starts; Spool does the same,
// so a compose file written for the image works unchanged. An explicit
// location or password wins.
var imageSecrets = []struct {
	from, to string
	file     bool // the value is a file whose content is the setting
}{
	{"ssl.keystore.filename", "ssl.keystore.location", false},
	{"ssl.keystore.credentials", "ssl.keystore.password", true},
	{"ssl.key.credentials", "ssl.key.password", true},
	{"ssl.truststore.filename", "ssl.truststore.location", false},
	{"ssl.truststore.credentials", "ssl.truststore.password", true},
}

// applyImageSecrets rewrites the image's file-based SSL variables in props
// (taken from the environment) into Kafka's properties.
func applyImageSecrets(props, propEnv map[string]string) error {
	for _, s := range imageSecrets {
		v, ok := props[s.from]
		if !ok {
			continue
		}
		delete(props, s.from)
		if _, set := props[s.to]; set || strings.TrimSpace(v) == "" {
			continue
		}
		path := filepath.Join(SecretsDir, strings.TrimSpace(v))
		if filepath.IsAbs(strings.TrimSpace(v)) {
			path = strings.TrimSpace(v)
		}
		if !s.file {
			props[s.to] = path
			propEnv[s.to] = propEnv[s.from]
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config: %s names %s, which cannot be read: %w; mount the secrets directory at %s as the apache/kafka image expects",
				propEnv[s.from], path, err, SecretsDir)
		}
		props[s.to] = strings.TrimRight(string(b), "\r\n")
		propEnv[s.to] = propEnv[s.from]
	}
	return nil
}
