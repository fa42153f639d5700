package config

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kafkaConfigKey is one line of testdata/ConfigDefDump.java's output.
type kafkaConfigKey struct {
	kind, name, typ, def, mode string
	sensitive                  bool
	synonyms                   []string // topic configs: broker synonyms
}

// kafkaCatalogue runs testdata/ConfigDefDump.java over the Kafka 4.3.1 jars
// of the compatibility matrix (test/compat/install.sh) and returns its lines.
// A missing JDK or missing jars fail the test: the catalogue must not drift
// from Kafka's unchecked.
func kafkaCatalogue(t *testing.T) []kafkaConfigKey {
	t.Helper()
	java, err := exec.LookPath("java")
	require.NoError(t, err, "java is needed to read Kafka 4.3.1's ConfigDef (install a JDK 17+)")
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		require.NoError(t, err)
		cache = filepath.Join(home, ".cache", "spool-compat")
	}
	lib := filepath.Join(cache, "java", "lib-4.3.1")
	_, err = os.Stat(filepath.Join(lib, "kafka-server-4.3.1.jar"))
	require.NoError(t, err, "Kafka 4.3.1 jars missing: run test/compat/install.sh")
	var stderr bytes.Buffer
	cmd := exec.Command(java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx256m",
		"-cp", filepath.Join(lib, "*"), filepath.Join("testdata", "ConfigDefDump.java"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ConfigDefDump: %s", stderr.String())
	var keys []kafkaConfigKey
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		require.GreaterOrEqual(t, len(f), 6, "line %q", sc.Text())
		k := kafkaConfigKey{kind: f[0], name: f[1], typ: f[2], def: f[3], mode: f[4], sensitive: f[5] == "true"}
		if len(f) > 6 && f[6] != "" {
			k.synonyms = strings.Split(f[6], ",")
		}
		keys = append(keys, k)
	}
	require.NoError(t, sc.Err())
	require.Greater(t, len(keys), 300)
	return keys
}

// kafkaDefault is the value DescribeConfigs shows for a default.
func kafkaDefault(k kafkaConfigKey) *string {
	if k.def == "<null>" || k.def == "<none>" {
		return nil
	}
	return &k.def
}

// TestCatalogueMatchesKafka diffs Spool's broker and topic config catalogue
// against Kafka 4.3.1's ConfigDef: the same names (Spool's own spool.* aside)
// with the same type, default, sensitivity and read-only flag, and the same
// dynamic update mode, so that kafka-configs --describe --all lists the same
// configs on both.
func TestCatalogueMatchesKafka(t *testing.T) {
	keys := kafkaCatalogue(t)
	// An explicit node configuration: the zero-config bundle stays off and
	// every entry shows Kafka's own default.
	b, _, err := Load("", []string{"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		"KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:9093", "KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"})
	assert.NoError(t, err)
	static := map[string]bool{}
	for k := range b.static {
		static[k] = true
	}

	t.Run("broker", func(t *testing.T) {
		spool := map[string]Entry{}
		for _, e := range ResolveBroker(b, Dynamic{}) {
			if !strings.HasPrefix(e.Name, "spool.") {
				spool[e.Name] = e
			}
		}
		var kafkaNames []string
		for _, k := range keys {
			if k.kind != "broker" {
				continue
			}
			kafkaNames = append(kafkaNames, k.name)
			e, ok := spool[k.name]
			if !ok {
				continue
			}
			assert.Equal(t, k.typ, e.Type.String(), "%s: type", k.name)
			assert.Equal(t, k.sensitive, e.Sensitive, "%s: sensitive", k.name)
			assert.Equal(t, k.mode == "read-only", e.ReadOnly, "%s: read-only", k.name)
			assert.Equal(t, k.mode, e.Update.String(), "%s: update mode", k.name)
			if static[k.name] || k.name == "log.dirs" { // log.dirs: Spool's ./data (spoolDefaults)
				continue
			}
			assert.Equal(t, SourceDefault, e.Source, "%s: source", k.name)
			if k.sensitive {
				assert.Nil(t, e.Value, "%s: a sensitive value is never shown", k.name)
				continue
			}
			assert.Equal(t, kafkaDefault(k), e.Value, "%s: default", k.name)
			if e.Value == nil {
				assert.Empty(t, e.Synonyms, "%s: a null default has no synonym", k.name)
			} else {
				assert.Equal(t, []Synonym{{Name: k.name, Value: e.Value, Source: SourceDefault}}, e.Synonyms, "%s: synonyms", k.name)
			}
		}
		var spoolNames []string
		for n := range spool {
			spoolNames = append(spoolNames, n)
		}
		requireSameNames(t, kafkaNames, spoolNames, "broker configs listed by DescribeConfigs --all")
	})

	t.Run("dynamic only", func(t *testing.T) {
		for _, k := range keys {
			if k.kind != "dynamic" {
				continue
			}
			// Not listed until set; then listed with the dynamic layer only.
			assert.False(t, slices.ContainsFunc(ResolveBroker(b, Dynamic{}), func(e Entry) bool { return e.Name == k.name }), k.name)
			dyn := Dynamic{PerBroker: map[string]string{k.name: "1000"}, ClusterDefault: map[string]string{k.name: "2000"}}
			i := slices.IndexFunc(ResolveBroker(b, dyn), func(e Entry) bool { return e.Name == k.name })
			require.GreaterOrEqual(t, i, 0, "%s set dynamically is listed", k.name)
			e := ResolveBroker(b, dyn)[i]
			assert.Equal(t, k.typ, e.Type.String(), k.name)
			assert.False(t, e.ReadOnly, k.name)
			assert.Equal(t, SourceDynamicBroker, e.Source, k.name)
			require.Equal(t, []Synonym{{Name: k.name, Value: strp("1000"), Source: SourceDynamicBroker},
				{Name: k.name, Value: strp("2000"), Source: SourceDynamicDefaultBroker}}, e.Synonyms, k.name)
			assert.NoError(t, ValidateBrokerDynamic(map[string]string{k.name: "1000"}), k.name)
		}
	})

	t.Run("topic", func(t *testing.T) {
		var kafkaNames []string
		for _, k := range keys {
			if k.kind != "topic" {
				continue
			}
			kafkaNames = append(kafkaNames, k.name)
			d, ok := LookupTopicConfig(k.name)
			if !ok {
				continue
			}
			assert.Equal(t, k.typ, d.Type.String(), "%s: type", k.name)
			assert.Equal(t, k.sensitive, d.Sensitive, "%s: sensitive", k.name)
			assert.Equal(t, k.def, d.Default, "%s: default", k.name)
			assert.Equal(t, k.synonyms, d.BrokerSynonyms, "%s: broker synonyms", k.name)
		}
		var spoolNames []string
		for _, d := range TopicConfigs() {
			spoolNames = append(spoolNames, d.Name)
		}
		requireSameNames(t, kafkaNames, spoolNames, "topic configs")
	})
}

// requireSameNames fails with the names only Kafka lists and those only
// Spool lists.
func requireSameNames(t *testing.T, kafka, spool []string, what string) {
	t.Helper()
	var onlyKafka, onlySpool []string
	for _, n := range kafka {
		if !slices.Contains(spool, n) {
			onlyKafka = append(onlyKafka, n)
		}
	}
	for _, n := range spool {
		if !slices.Contains(kafka, n) {
			onlySpool = append(onlySpool, n)
		}
	}
	slices.Sort(onlyKafka)
	slices.Sort(onlySpool)
	require.Empty(t, onlyKafka, "%s: listed by Kafka 4.3.1 only", what)
	require.Empty(t, onlySpool, "%s: listed by Spool only", what)
}

// TestCatalogueHasNoDuplicates: each broker config is defined once (a
// second definition would silently replace the first in brokerDefs).
func TestCatalogueHasNoDuplicates(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range brokerDefList {
		require.False(t, seen[d.name], "%s is defined twice", d.name)
		seen[d.name] = true
	}
}

// TestKafkaOnlyConfigsRefused: configs Spool lists but does not act on, whose
// ignoring would weaken security, stop startup when set to anything but
// Kafka's default.
func TestKafkaOnlyConfigsRefused(t *testing.T) {
	tests := []struct {
		env     string
		refused string // "" when accepted
	}{
		{"KAFKA_CONFIG_PROVIDERS=file", "config.providers=file: config providers are not supported"},
		{"KAFKA_CONFIG_PROVIDERS=", ""},
		{"KAFKA_SECURITY_PROVIDERS=com.example.Provider", "security.providers=com.example.Provider: Java security providers"},
		{"KAFKA_SASL_OAUTHBEARER_JWT_VALIDATOR_CLASS=com.example.V", "sasl.oauthbearer.jwt.validator.class=com.example.V: custom OAUTHBEARER JWT classes"},
		{"KAFKA_SASL_OAUTHBEARER_JWT_VALIDATOR_CLASS=org.apache.kafka.common.security.oauthbearer.DefaultJwtValidator", ""},
		{"KAFKA_SASL_OAUTHBEARER_JWT_RETRIEVER_CLASS=com.example.R", "sasl.oauthbearer.jwt.retriever.class=com.example.R"},
		{"KAFKA_REMOTE_LOG_MANAGER_THREAD_POOL_SIZE=4", ""}, // ignored, with a startup notice
		{"KAFKA_METADATA_MAX_RETENTION_MS=1000", ""},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			b, _, err := Load("", singleNode(tc.env))
			require.NoError(t, err)
			err = b.CheckProtections()
			if tc.refused == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrProtectionNotImplemented)
			require.ErrorContains(t, err, tc.refused)
		})
	}
	b, _, err := Load("", singleNode("KAFKA_REMOTE_LOG_MANAGER_THREAD_POOL_SIZE=4"))
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(b.Caveats(), func(n Notice) bool {
		return n.Property == "remote.log.manager.thread.pool.size" && strings.Contains(n.Message, "tiered storage is not supported")
	}), "an ignored setting is reported at startup: %v", b.Caveats())
}

// TestResolveBrokerListsOriginals: as Kafka, DescribeConfigs lists every
// property set on the broker, also those outside Kafka's ConfigDef: an
// authorizer's super.users as UNKNOWN and sensitive, a listener override
// typed after the config it overrides.
func TestResolveBrokerListsOriginals(t *testing.T) {
	b, _, err := Load("", singleNode("KAFKA_SUPER_USERS=User:admin",
		"KAFKA_LISTENER_NAME_PLAINTEXT_SSL_CLIENT_AUTH=required",
		"KAFKA_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS=1000"))
	require.NoError(t, err)
	byName := map[string]Entry{}
	for _, e := range ResolveBroker(b, Dynamic{}) {
		byName[e.Name] = e
	}
	require.Equal(t, Entry{Name: "super.users", Type: TypeUnknown, Sensitive: true, Source: SourceStaticBroker,
		Doc: byName["super.users"].Doc, Update: ReadOnly, ReadOnly: true,
		Synonyms: []Synonym{{Name: "super.users", Source: SourceStaticBroker}}}, byName["super.users"])
	e := byName["listener.name.plaintext.ssl.client.auth"]
	require.Equal(t, TypeString, e.Type)
	require.False(t, e.Sensitive)
	require.True(t, e.ReadOnly)
	require.Equal(t, strp("required"), e.Value)
	e = byName["producer.id.expiration.check.interval.ms"]
	require.Equal(t, TypeInt, e.Type)
	require.Equal(t, []Synonym{{Name: e.Name, Value: strp("1000"), Source: SourceStaticBroker}}, e.Synonyms, "no default synonym")
	_, listed := byName["allow.everyone.if.no.acl.found"]
	require.False(t, listed, "an authorizer config is listed only when set")
}
