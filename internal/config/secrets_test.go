package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImageSecrets: the apache/kafka image's KAFKA_SSL_*_FILENAME and
// *_CREDENTIALS variables become Kafka's ssl.* properties, read from the
// secrets directory; an explicit location wins; a missing password file is
// a clear error.
func TestImageSecrets(t *testing.T) {
	dir := t.TempDir()
	old := SecretsDir
	SecretsDir = dir
	t.Cleanup(func() { SecretsDir = old })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ks_creds"), []byte("ks-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key_creds"), []byte("key-secret"), 0o600))

	env := map[string]string{
		"KAFKA_SSL_KEYSTORE_FILENAME":    "kafka.keystore.jks",
		"KAFKA_SSL_KEYSTORE_CREDENTIALS": "ks_creds",
		"KAFKA_SSL_KEY_CREDENTIALS":      "key_creds",
		"KAFKA_SSL_TRUSTSTORE_FILENAME":  "kafka.truststore.jks",
		"KAFKA_SSL_TRUSTSTORE_LOCATION":  "/elsewhere/trust.jks",
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	s, _ := readEnv(environ)
	require.NoError(t, applyImageSecrets(s.props, s.propEnv))
	require.Equal(t, filepath.Join(dir, "kafka.keystore.jks"), s.props["ssl.keystore.location"])
	require.Equal(t, "ks-secret", s.props["ssl.keystore.password"], "trailing newline of the file trimmed")
	require.Equal(t, "key-secret", s.props["ssl.key.password"])
	require.Equal(t, "/elsewhere/trust.jks", s.props["ssl.truststore.location"], "an explicit location wins")
	for _, gone := range []string{"ssl.keystore.filename", "ssl.keystore.credentials", "ssl.key.credentials", "ssl.truststore.filename"} {
		require.NotContains(t, s.props, gone)
	}

	s, _ = readEnv([]string{"KAFKA_SSL_KEYSTORE_CREDENTIALS=missing"})
	err := applyImageSecrets(s.props, s.propEnv)
	require.ErrorContains(t, err, "KAFKA_SSL_KEYSTORE_CREDENTIALS names "+filepath.Join(dir, "missing"))
	require.ErrorContains(t, err, "mount the secrets directory")
}
