package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
)

// EnvAddScram is the environment variable that bootstraps SCRAM credentials
// in a container, where running `spool format --add-scram` first is
// awkward: when `spool serve` starts a node whose metadata log dir is not
// formatted yet, each entry is committed by the new cluster's first
// controller, exactly as with `spool format --add-scram`. Entries are
// --add-scram arguments separated by ';' before the next "SCRAM-SHA-":
//
//	SPOOL_ADD_SCRAM='SCRAM-SHA-512=[name=admin,password=admin-secret];SCRAM-SHA-256=[name=admin,password=admin-secret]'
//
// A node that is already formatted ignores it (credentials are then managed
// with kafka-configs.sh --alter --entity-type users).
const EnvAddScram = "SPOOL_ADD_SCRAM"

// parseAddScram parses one --add-scram argument as Kafka's ScramParser:
//
//	MECHANISM=[name=NAME,password=PASSWORD]
//	MECHANISM=[name=NAME,salt=BASE64,saltedpassword=BASE64,iterations=N]
//
// with optional iterations (default 4096, within 4096..16384) and salt
// (default: 32 random bytes... Kafka's secure random bytes); a value may be
// "quoted". The password never appears in an error.
func parseAddScram(arg string) (controller.Record, error) {
	arg = strings.TrimSpace(arg)
	mechName, conf, ok := strings.Cut(arg, "=")
	if !ok {
		return nil, errors.New("failed to find equals sign in SCRAM argument")
	}
	mech, ok := sasl.ParseScramMechanism(mechName)
	if !ok {
		return nil, fmt.Errorf("the add-scram mechanism %s is not supported", mechName)
	}
	if !strings.HasPrefix(conf, "[") {
		return nil, errors.New("expected configuration string to start with [")
	}
	if !strings.HasSuffix(conf, "]") {
		return nil, errors.New("expected configuration string to end with ]")
	}
	comps := map[string]string{}
	for _, c := range strings.Split(conf[1:len(conf)-1], ",") {
		k, v, ok := strings.Cut(c, "=")
		if !ok {
			return nil, fmt.Errorf("no equals sign found in SCRAM component %q", k)
		}
		if len(v) >= 2 && strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
			v = v[1 : len(v)-1]
		}
		comps[k] = v
	}
	take := func(k string) (string, bool) {
		v, ok := comps[k]
		delete(comps, k)
		return v, ok
	}
	name, ok := take("name")
	if !ok {
		return nil, errors.New("you must supply 'name' to add-scram")
	}
	var salt []byte
	if s, ok := take("salt"); ok {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("failed to decode given salt: %s", s)
		}
		salt = b
	}
	iterations := sasl.ScramMinIterations
	if s, ok := take("iterations"); ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("failed to parse iterations count: %s", s)
		}
		iterations = n
	}
	password, hasPassword := take("password")
	salted, hasSalted := take("saltedpassword")
	if len(comps) > 0 {
		keys := make([]string, 0, len(comps))
		for k := range comps {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil, fmt.Errorf("unknown SCRAM configurations: %s", strings.Join(keys, ", "))
	}
	if iterations < sasl.ScramMinIterations {
		return nil, fmt.Errorf("the 'iterations' value must be >= %d for add-scram using %s", sasl.ScramMinIterations, mech)
	}
	if iterations > sasl.ScramMaxIterations {
		return nil, fmt.Errorf("the 'iterations' value must be <= %d for add-scram using %s", sasl.ScramMaxIterations, mech)
	}
	var cred sasl.ScramCredential
	switch {
	case hasPassword:
		if salt == nil {
			c, err := mech.NewCredential(password, iterations)
			if err != nil {
				return nil, err
			}
			cred = c
			break
		}
		sp, err := mech.SaltedPassword(password, salt, iterations)
		if err != nil {
			return nil, err
		}
		cred = mech.CredentialFromSaltedPassword(salt, sp, iterations)
	case !hasSalted:
		return nil, errors.New("you must supply one of 'password' or 'saltedpassword' to add-scram")
	case salt == nil:
		return nil, errors.New("you must supply 'salt' with 'saltedpassword' to add-scram")
	default:
		sp, err := base64.StdEncoding.DecodeString(salted)
		if err != nil {
			return nil, errors.New("failed to decode given saltedpassword")
		}
		cred = mech.CredentialFromSaltedPassword(salt, sp, iterations)
	}
	return controller.BootstrapScramRecord(name, mech, cred), nil
}

// parseAddScrams parses every argument.
func parseAddScrams(args []string) ([]controller.Record, error) {
	var out []controller.Record
	for _, a := range args {
		r, err := parseAddScram(a)
		if err != nil {
			return nil, fmt.Errorf("--add-scram: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// splitAddScramEnv splits EnvAddScram's value into --add-scram arguments.
func splitAddScramEnv(v string) []string {
	var out []string
	for v = strings.TrimSpace(v); v != ""; {
		i := strings.Index(v[1:], ";SCRAM-SHA-")
		if i < 0 {
			out = append(out, v)
			break
		}
		out = append(out, v[:i+1])
		v = strings.TrimSpace(v[i+2:])
	}
	return out
}

// metadataLogDir is where the node keeps its metadata log (and the
// bootstrap file): metadata.log.dir, else the first of log.dirs.
func metadataLogDir(cfg *config.Broker) string {
	if cfg.MetadataLogDir != "" {
		return cfg.MetadataLogDir
	}
	if len(cfg.LogDirs) > 0 {
		return cfg.LogDirs[0]
	}
	return ""
}

// BootstrapFromEnv applies EnvAddScram for `spool serve`: on a node whose
// metadata log dir is not formatted yet (no meta.properties, no bootstrap
// file), it writes the credentials into the bootstrap file the first
// controller commits. It reports what it did, for the log ("" when the
// variable is unset).
func BootstrapFromEnv(cfg *config.Broker, environ []string) (string, error) {
	var value string
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == EnvAddScram {
			value = v
		}
	}
	if strings.TrimSpace(value) == "" {
		return "", nil
	}
	recs, err := parseAddScrams(splitAddScramEnv(value))
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvAddScram, err)
	}
	dir := metadataLogDir(cfg)
	if dir == "" {
		return "", fmt.Errorf("%s: the configuration has no log.dirs", EnvAddScram)
	}
	for _, name := range []string{"meta.properties", controller.BootstrapFileName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Sprintf("%s ignored: %s is already formatted (manage credentials with kafka-configs.sh --alter --entity-type users)", EnvAddScram, dir), nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s: %w", EnvAddScram, err)
	}
	if err := controller.WriteBootstrap(dir, recs); err != nil {
		return "", fmt.Errorf("%s: %w", EnvAddScram, err)
	}
	return fmt.Sprintf("%s: %d SCRAM credential(s) will be created with the cluster", EnvAddScram, len(recs)), nil
}
