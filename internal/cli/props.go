package cli

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spool-broker/spool/internal/seclink"
)

// loadClientConfig reads a Java properties file as Kafka's tools take with
// --command-config: `key=value` or `key: value`, `#` and `!` comments,
// backslash line continuations.
func loadClientConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--command-config: %w", err))
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	var pending string
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if pending == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		line = pending + line
		pending = ""
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			out[strings.TrimSpace(line)] = ""
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--command-config %s: %w", path, err)
	}
	return out, nil
}

// applyClientProps applies the client properties the CLI understands,
// security included (seclink.NewClientDialer): security.protocol,
// sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), sasl.jaas.config,
// ssl.truststore.*, ssl.keystore.* (mutual TLS),
// ssl.endpoint.identification.algorithm. What cannot be honoured (GSSAPI,
// OAUTHBEARER) is refused, never ignored: connecting without the asked-for
// protection would fail obscurely or leak credentials.
func applyClientProps(cfg *ClientConfig, props map[string]string) error {
	if v := props["client.id"]; v != "" {
		cfg.ClientID = v
	}
	if v := props["request.timeout.ms"]; v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return usageErr(fmt.Errorf("request.timeout.ms=%q: want a positive number of milliseconds", v))
		}
		cfg.RequestTimeout = time.Duration(ms) * time.Millisecond
	}
	if v := props["socket.connection.setup.timeout.ms"]; v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return usageErr(fmt.Errorf("socket.connection.setup.timeout.ms=%q: want a positive number of milliseconds", v))
		}
		cfg.DialTimeout = time.Duration(ms) * time.Millisecond
	}
	d, err := seclink.NewClientDialer(props, cfg.ClientID)
	if err != nil {
		return usageErr(fmt.Errorf("--command-config: %w", err))
	}
	cfg.Dialer = d
	return nil
}
