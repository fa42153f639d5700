package config

import (
	"sort"
	"strings"
)

// launcherEnv are KAFKA_* variables that configure the JVM or the image's
// launcher, never server.properties. The apache/kafka image's wrapper
// (KafkaDockerWrapper) excludes the first group; the rest are read by
// kafka-run-class.sh and friends.
var launcherEnv = map[string]bool{
	"KAFKA_VERSION": true, "KAFKA_HEAP_OPT": true, "KAFKA_LOG4J_OPTS": true, "KAFKA_OPTS": true,
	"KAFKA_JMX_OPTS": true, "KAFKA_JVM_PERFORMANCE_OPTS": true, "KAFKA_GC_LOG_OPTS": true,
	"KAFKA_LOG4J_ROOT_LOGLEVEL": true, "KAFKA_LOG4J_LOGGERS": true, "KAFKA_TOOLS_LOG4J_LOGLEVEL": true,
	"KAFKA_JMX_HOSTNAME": true,
	// Launcher-script variables the image's wrapper would (wrongly) turn into
	// properties such as "heap.opts"; Spool knows better and ignores them.
	"KAFKA_HEAP_OPTS": true, "KAFKA_JMX_PORT": true, "KAFKA_DEBUG": true, "KAFKA_HOME": true,
	"KAFKA_CLASSPATH": true, "KAFKA_JVM_OPTS": true, "KAFKA_JAVA_OPTS": true,
}

// EnvToProperty maps an apache/kafka image variable to a property name: strip
// KAFKA_, lower-case, '_' -> '.', then '...' -> '-' and '..' -> '_'. So
// KAFKA_LOG_DIRS is log.dirs, KAFKA_FOO__BAR is foo_bar and KAFKA_FOO___BAR is
// foo-bar. ok is false for non-KAFKA_ variables and for KAFKA_CLUSTER_ID.
func EnvToProperty(name string) (prop string, ok bool) {
	rest, found := strings.CutPrefix(name, "KAFKA_")
	if !found || rest == "" || name == "KAFKA_CLUSTER_ID" {
		return "", false
	}
	p := strings.ToLower(rest)
	p = strings.ReplaceAll(p, "_", ".")
	p = strings.ReplaceAll(p, "...", "-")
	p = strings.ReplaceAll(p, "..", "_")
	return p, true
}

// envSettings is what the environment contributes.
type envSettings struct {
	props     map[string]string
	propEnv   map[string]string // property -> variable it came from, for messages
	clusterID string
	idVar     string
}

func readEnv(environ []string) (envSettings, []Notice) {
	s := envSettings{props: map[string]string{}, propEnv: map[string]string{}}
	var notices []Notice
	vars := append([]string(nil), environ...)
	sort.Strings(vars) // deterministic notices and collisions
	for _, kv := range vars {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch {
		case name == "CLUSTER_ID" || name == "KAFKA_CLUSTER_ID":
			// CLUSTER_ID is the image's variable; it wins over KAFKA_CLUSTER_ID.
			if s.idVar != "CLUSTER_ID" {
				s.clusterID, s.idVar = strings.TrimSpace(val), name
			}
		case launcherEnv[name]:
			notices = append(notices, Notice{Property: name, Message: "JVM/launcher setting, ignored by Spool"})
		default:
			if prop, ok := EnvToProperty(name); ok {
				s.props[prop] = val
				s.propEnv[prop] = name
			}
		}
	}
	return s, notices
}
