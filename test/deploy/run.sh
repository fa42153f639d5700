#!/usr/bin/env bash
# make deploy-test: every deployment check, each stage timed.
#   1. deploy-check (systemd unit, Kubernetes manifests, Helm chart)   test/deploy/check.sh
#   2. podman, podman-compose, runc installed and configured           scripts/install-podman.sh
#   3. both images built (debootstrap of the JRE base on a cold cache)  scripts/build-image.sh
#   4. the FROM-scratch broker image run alone                         test/deploy/image-broker.sh
#   5. the guides' single-node compose file under podman-compose        test/deploy/compose-single.sh
#   6. the 3-node compose file, a node killed under acks=all load        test/deploy/compose-cluster.sh
#   7. the SASL_SSL compose variant (keystores made by the test)          test/deploy/compose-sasl-ssl.sh
#   8. docs/deploy.md's bare-metal walkthrough, three network namespaces  test/deploy/netns-cluster.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export DEPLOY_TEST_T0=$SECONDS
timed() {
	local name=$1 t0=$SECONDS
	shift
	printf '\n==== deploy-test: %s\n' "$name"
	"$@"
	printf '==== deploy-test: %s took %ss\n' "$name" "$((SECONDS - t0))"
}
timed "build" make -s build
timed "check (systemd, kubernetes, helm)" ./test/deploy/check.sh
timed "install podman" ./scripts/install-podman.sh
timed "build images" ./scripts/build-image.sh
timed "broker image" ./test/deploy/image-broker.sh
timed "single-node compose" ./test/deploy/compose-single.sh
timed "3-node compose (node killed under acks=all)" ./test/deploy/compose-cluster.sh
timed "SASL_SSL compose" ./test/deploy/compose-sasl-ssl.sh
timed "bare metal: 3 nodes in network namespaces" ./test/deploy/netns-cluster.sh
printf '\n==== deploy-test: all stages passed in %ss\n' "$((SECONDS - DEPLOY_TEST_T0))"
