// Package validate checks Spool's Kubernetes manifests (deploy/kubernetes/*.yaml) and the
// Helm chart's rendered output by decoding them strictly into the Kubernetes API types
// (k8s.io/api): an unknown or misspelled field, a wrong type or an unknown kind fails.
// On top of the schema, the tests assert what the deployment depends on: node ids from
// the pod ordinal, one voter per replica, per-pod advertised listeners on the headless
// Service, probes on /readyz and /healthz, a PVC per pod, the disruption budget, host
// anti-affinity and the zone as the rack.
//
// It is its own Go module so the broker's go.mod does not gain Kubernetes dependencies.
// test/deploy/kubernetes.sh runs it with SPOOL_HELM_RENDERED naming `helm template` output.
package validate
