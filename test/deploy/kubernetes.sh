#!/usr/bin/env bash
# Kubernetes manifests (deploy/kubernetes/*.yaml) and the Helm chart (deploy/helm/spool):
#  - helm lint --strict, and helm template with the default values and with overrides
#    (release name, namespace, 5 replicas, a storage class), each decoded strictly into the
#    Kubernetes API types and checked by deploy/kubernetes/validate (its own Go module);
#  - helm template refuses a missing clusterId and fewer replicas than the replication factor.
# helm is built once from the Go module proxy at a pinned version into ~/.cache/spool/tools
# (about 4 minutes on 2 cores the first time).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
HELM_VERSION=v3.21.4
tools=${TOOLS_CACHE:-$HOME/.cache/spool/tools}
helm=$tools/helm-$HELM_VERSION
if [ ! -x "$helm" ]; then
	stage "kubernetes: building helm $HELM_VERSION from the Go module proxy"
	mkdir -p "$tools"
	gobin=$(mktemp -d "$tools/.helm.XXXXXX")
	GOBIN=$gobin go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" || { rm -rf "$gobin"; die "go install helm"; }
	mv "$gobin/helm" "$helm" && rm -rf "$gobin"
fi
chart=$root/deploy/helm/spool
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
id=$("$root/bin/spool" format random-uuid)

stage "kubernetes: helm lint and template"
out=$("$helm" lint --strict "$chart" --set clusterId="$id" 2>&1) || die "helm lint: $out"
expect_contains "helm lint --strict" "$out" "1 chart(s) linted, 0 chart(s) failed"
"$helm" template spool "$chart" --namespace kafka --set clusterId="$id" > "$tmp/default.yaml" || die "helm template (defaults)"
pass "helm template with the default values"
"$helm" template events "$chart" --namespace streaming --set clusterId="$id" --set replicaCount=5 \
	--set storage.storageClassName=gp3 --set storage.size=500Gi > "$tmp/five.yaml" || die "helm template (overrides)"
pass "helm template with 5 replicas, another release name and namespace, a storage class"
grep -q 'storageClassName: gp3' "$tmp/five.yaml" || die "storage class not rendered"
pass "storage class rendered"
if out=$("$helm" template spool "$chart" 2>&1); then die "helm template without clusterId succeeded"; fi
expect_contains "helm template refuses a missing clusterId" "$out" "set clusterId"
if out=$("$helm" template spool "$chart" --set clusterId="$id" --set replicaCount=1 2>&1); then die "helm template with 1 replica and RF 3 succeeded"; fi
expect_contains "helm template refuses fewer replicas than the replication factor" "$out" "replicaCount must be at least replicationFactor"

stage "kubernetes: strict decoding into k8s.io/api types (deploy/kubernetes/validate)"
cd "$root/deploy/kubernetes/validate"
SPOOL_HELM_RENDERED="$tmp/default.yaml=kafka,$tmp/five.yaml=streaming" go test -count=1 -v ./... > "$tmp/go-test.log" 2>&1 ||
	{ cat "$tmp/go-test.log"; die "deploy/kubernetes/validate"; }
grep -E '^(--- |ok|FAIL)' "$tmp/go-test.log" | sed 's/^/  /'
grep -q -- '--- PASS: TestHelmTemplate' "$tmp/go-test.log" && grep -q -- '--- PASS: TestManifests' "$tmp/go-test.log" ||
	die "the validation tests did not run"
pass "manifests and helm output decode strictly and have the cluster's properties"
printf "\nkubernetes: %s passed, 0 failed\n" "$PASSED"
