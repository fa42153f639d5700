package cli

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
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

// applyClientProps applies the client properties the CLI understands.
// Security settings are refused with what to do instead, never ignored:
// connecting in plaintext to a listener that expects TLS or SASL would
// otherwise fail obscurely, or leak credentials to the wrong listener.
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
	if p := strings.ToUpper(props["security.protocol"]); p != "" && p != "PLAINTEXT" {
		return fmt.Errorf("security.protocol=%s is not supported by the spool CLI yet (TLS and SASL arrive with the security work); "+
			"use a PLAINTEXT listener, or Kafka's own tools in the spool tools image (/opt/kafka/bin/*.sh take the same --command-config)", p)
	}
	for k := range props {
		if strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "ssl.") {
			return fmt.Errorf("%s is set but the spool CLI speaks PLAINTEXT only for now; "+
				"remove the sasl.*/ssl.* settings to use a PLAINTEXT listener, or use Kafka's tools in the spool tools image", k)
		}
	}
	return nil
}
