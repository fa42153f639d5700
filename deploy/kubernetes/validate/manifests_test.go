package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// objects are the decoded documents of one deployment.
type objects struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	pdbs         []*policyv1.PodDisruptionBudget
}

// decodeStrict splits a multi-document YAML stream and decodes each document into its
// API type, refusing unknown fields and kinds.
func decodeStrict(t *testing.T, name string, data []byte) objects {
	t.Helper()
	var out objects
	docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1)
	n := 0
	for i, doc := range docs {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		n++
		var tm metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), "%s document %d", name, i)
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/StatefulSet":
			o := &appsv1.StatefulSet{}
			out.statefulSets, obj = append(out.statefulSets, o), o
		case "v1/Service":
			o := &corev1.Service{}
			out.services, obj = append(out.services, o), o
		case "policy/v1/PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			out.pdbs, obj = append(out.pdbs, o), o
		default:
			t.Fatalf("%s document %d: unexpected kind %s/%s", name, i, tm.APIVersion, tm.Kind)
		}
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s document %d (%s)", name, i, tm.Kind)
	}
	require.NotZero(t, n, "%s has no documents", name)
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func env(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// checkDeployment asserts the properties a Spool cluster on Kubernetes relies on.
func checkDeployment(t *testing.T, o objects, namespace string) {
	require.Len(t, o.statefulSets, 1)
	sts := o.statefulSets[0]
	replicas := int(*sts.Spec.Replicas)
	require.GreaterOrEqual(t, replicas, 3)
	require.Equal(t, appsv1.ParallelPodManagement, sts.Spec.PodManagementPolicy, "the quorum needs every pod started, not one at a time")
	require.Equal(t, appsv1.RollingUpdateStatefulSetStrategyType, sts.Spec.UpdateStrategy.Type)

	var headless, client *corev1.Service
	for _, s := range o.services {
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = s
		} else {
			client = s
		}
	}
	require.NotNil(t, headless, "a headless Service")
	require.NotNil(t, client, "a client (bootstrap) Service")
	require.Equal(t, headless.Name, sts.Spec.ServiceName, "the StatefulSet's pods get DNS names from the headless Service")
	require.True(t, headless.Spec.PublishNotReadyAddresses, "peers resolve each other before they are ready")
	podLabels := sts.Spec.Template.Labels
	for _, s := range []*corev1.Service{headless, client} {
		for k, v := range s.Spec.Selector {
			require.Equal(t, v, podLabels[k], "Service %s selects the pods", s.Name)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	require.NoError(t, err)
	require.True(t, sel.Matches(labels.Set(podLabels)), "the StatefulSet selects its own pods")

	require.Len(t, o.pdbs, 1)
	pdb := o.pdbs[0]
	require.NotNil(t, pdb.Spec.MaxUnavailable)
	require.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue(), "RF 3 with min ISR 2 tolerates one broker down")
	psel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	require.NoError(t, err)
	require.True(t, psel.Matches(labels.Set(podLabels)), "the PodDisruptionBudget covers the pods")

	pod := sts.Spec.Template.Spec
	require.NotNil(t, pod.Affinity)
	require.NotNil(t, pod.Affinity.PodAntiAffinity)
	anti := pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	require.Len(t, anti, 1)
	require.Equal(t, "kubernetes.io/hostname", anti[0].TopologyKey, "one broker per host")
	require.Len(t, pod.TopologySpreadConstraints, 1)
	require.Equal(t, "topology.kubernetes.io/zone", pod.TopologySpreadConstraints[0].TopologyKey)
	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	require.EqualValues(t, 1000, *pod.SecurityContext.FSGroup, "the data volume is writable by the image's uid 1000")

	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	nodeID := env(c, "KAFKA_NODE_ID")
	require.NotNil(t, nodeID)
	require.Equal(t, "metadata.labels['apps.kubernetes.io/pod-index']", nodeID.ValueFrom.FieldRef.FieldPath, "node.id is the pod ordinal")
	rack := env(c, "KAFKA_BROKER_RACK")
	require.NotNil(t, rack)
	require.Equal(t, "metadata.labels['topology.kubernetes.io/zone']", rack.ValueFrom.FieldRef.FieldPath, "broker.rack is the zone")
	require.NotEmpty(t, env(c, "CLUSTER_ID").Value)

	// One voter per pod, ordinal@pod.headless:9093, in ordinal order.
	voters := strings.Split(env(c, "KAFKA_CONTROLLER_QUORUM_VOTERS").Value, ",")
	require.Len(t, voters, replicas)
	for i, v := range voters {
		id, addr, ok := strings.Cut(v, "@")
		require.True(t, ok, v)
		require.Equal(t, strconv.Itoa(i), id)
		wantPrefix := fmt.Sprintf("%s-%d.%s.", sts.Name, i, headless.Name)
		require.True(t, strings.HasPrefix(addr, wantPrefix), "voter %s is pod %d on the headless Service", v, i)
		require.True(t, strings.HasSuffix(addr, ":9093"), v)
		if namespace != "" {
			require.Contains(t, addr, "."+namespace+".svc.", v)
		}
	}
	adv := env(c, "KAFKA_ADVERTISED_LISTENERS").Value
	require.Regexp(t, `^PLAINTEXT://\$\(POD_NAME\)\.`+regexp.QuoteMeta(headless.Name)+`\.\$\(POD_NAMESPACE\)\.svc\.[a-z.]+:9092$`, adv, "each pod advertises its own stable name")
	require.NotNil(t, env(c, "POD_NAME"), "POD_NAME is defined before it is used")
	require.Equal(t, "metadata.name", env(c, "POD_NAME").ValueFrom.FieldRef.FieldPath)
	require.Equal(t, "2", env(c, "KAFKA_MIN_INSYNC_REPLICAS").Value)
	require.Equal(t, ":9404", env(c, "SPOOL_HTTP_ADDR").Value, "the probes' port serves /healthz and /readyz")

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	require.Equal(t, map[string]int32{"kafka": 9092, "controller": 9093, "http": 9404}, ports)
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "http", c.ReadinessProbe.HTTPGet.Port.String())
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/healthz", c.StartupProbe.HTTPGet.Path)
	require.GreaterOrEqual(t, c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold, int32(300), "log recovery gets minutes before liveness counts")
	require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)

	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	pvc := sts.Spec.VolumeClaimTemplates[0]
	require.Len(t, c.VolumeMounts, 1)
	require.Equal(t, pvc.Name, c.VolumeMounts[0].Name, "the data mount is the per-pod PVC")
	require.Equal(t, "/var/lib/kafka/data", c.VolumeMounts[0].MountPath)
	require.Equal(t, env(c, "KAFKA_LOG_DIRS").Value, c.VolumeMounts[0].MountPath, "log.dirs is on the PVC")
	require.False(t, pvc.Spec.Resources.Requests.Storage().IsZero())
}

func TestManifests(t *testing.T) {
	files, err := filepath.Glob("../*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			checkDeployment(t, decodeStrict(t, f, data), "")
		})
	}
}

// TestHelmTemplate checks `helm template` output: SPOOL_HELM_RENDERED lists files as
// path=namespace (test/deploy/kubernetes.sh renders them with several value sets).
func TestHelmTemplate(t *testing.T) {
	list := os.Getenv("SPOOL_HELM_RENDERED")
	require.NotEmpty(t, list, "SPOOL_HELM_RENDERED is unset: run test/deploy/kubernetes.sh, which renders the chart with helm")
	for _, item := range strings.Split(list, ",") {
		path, ns, _ := strings.Cut(item, "=")
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			checkDeployment(t, decodeStrict(t, path, data), ns)
		})
	}
}

// TestStrictDecodingRejects shows the decoding is strict: a misspelled field fails.
func TestStrictDecodingRejects(t *testing.T) {
	data, err := os.ReadFile("../spool.yaml")
	require.NoError(t, err)
	bad := bytes.Replace(data, []byte("podManagementPolicy:"), []byte("podManagmentPolicy:"), 1)
	require.NotEqual(t, data, bad)
	docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(bad), -1)
	var failed bool
	for _, d := range docs {
		if !strings.Contains(d, "kind: StatefulSet") {
			continue
		}
		failed = yaml.UnmarshalStrict([]byte(d), &appsv1.StatefulSet{}) != nil
	}
	require.True(t, failed, "a misspelled field must fail strict decoding")
}
