#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine (Go comes with the
# machine). Idempotent; prints what it installs.
set -euo pipefail
need_apt=()
command -v javac >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v unzip >/dev/null || need_apt+=(unzip)
command -v kcat >/dev/null || need_apt+=(kcat)
# make chaos-smoke (a CI stage): network namespaces and iptables rules
command -v ip >/dev/null || need_apt+=(iproute2)
command -v iptables >/dev/null || need_apt+=(iptables)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}"
fi
echo "downloading Go modules"
go mod download
echo "fetching Kafka's message specs (make specs)"
make -s specs
echo "building the pinned staticcheck for make lint (make tools)"
make -s tools
