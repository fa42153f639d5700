# Spool — a Kafka-compatible broker. `make run` starts one; `make test` checks everything.

GO        ?= go
BIN       := bin/spool
KAFKA_VERSION     ?= 4.3.1
KAFKA_OLD_VERSION ?= 3.9.2
# The protocol is generated from the newest release's specs (KAFKA_SPECS_VERSION);
# versions below its floors come from 4.3.1's, then 3.9.2's (those Kafka 4 removed).
KAFKA_SPECS_VERSION ?= 4.4.0
# Kafka's JSON message specs are extracted from the kafka-clients jars into this
# cache, outside git (never commit spec files; commit the generator's output).
SPECS_CACHE ?= $(HOME)/.cache/spool/kafka-specs
SPECS     := $(SPECS_CACHE)/$(KAFKA_SPECS_VERSION)
SPECS_MID := $(SPECS_CACHE)/$(KAFKA_VERSION)
SPECS_OLD := $(SPECS_CACHE)/$(KAFKA_OLD_VERSION)
FUZZTIME  ?= 60s
# Go modules linted: the broker and the test harnesses that have their own go.mod
# (test/compat/go, test/bench), found from the tracked go.mod files.
GO_MODULES ?= $(patsubst %/,%,$(dir $(shell git ls-files 'go.mod' '*/go.mod' 2>/dev/null || find . -name go.mod -not -path './.git/*')))
# staticcheck is built from the Go module proxy at a pinned release (2026.2.2 is
# v0.8.2) with the Go in use, into a cache outside git shared by checkouts; the
# Go version is in the name so a Go upgrade rebuilds it.
STATICCHECK_VERSION := 0.8.2
TOOLS_CACHE ?= $(HOME)/.cache/spool/tools
STATICCHECK := $(TOOLS_CACHE)/staticcheck-$(STATICCHECK_VERSION)-$(shell $(GO) env GOVERSION)

.PHONY: all build run test test-deps tools fmt-check tidy-check vet staticcheck lint lint-selftest race specs generate gen verify-gen fuzz bench bench-smoke bench-cluster bench-cluster-smoke bench-scale chaos chaos-smoke compat compat-cluster clean image podman deploy-check deploy-test

all: build

build:
	$(GO) build -o $(BIN) ./cmd/spool

run: build
	./$(BIN) serve

specs: $(SPECS)/.done $(SPECS_MID)/.done $(SPECS_OLD)/.done

$(SPECS_CACHE)/%/.done:
	./protocol/internal/gen/fetch-specs.sh $* $(SPECS_CACHE)/$*

generate gen: specs
	$(GO) run ./protocol/internal/gen -specs $(SPECS) -old-specs $(SPECS_MID),$(SPECS_OLD) -errors $(SPECS)/errors.csv -out protocol

# verify-gen regenerates into a scratch tree and fails if the committed output differs.
verify-gen: specs
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(GO) run ./protocol/internal/gen -specs $(SPECS) -old-specs $(SPECS_MID),$(SPECS_OLD) -errors $(SPECS)/errors.csv -out $$tmp && \
	./protocol/internal/gen/compare.sh $$tmp protocol

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$out"; exit 1; fi

# tidy-check fails when `go mod tidy` would change a module's go.mod or go.sum
# (a requirement nothing imports, a direct one marked // indirect, a missing sum).
tidy-check:
	@rc=0; for m in $(GO_MODULES); do \
	  (cd $$m && $(GO) mod tidy -diff) || { echo "tidy-check: go mod tidy would change $$m/go.mod or go.sum (run: cd $$m && go mod tidy)"; rc=1; }; \
	done; exit $$rc

vet:
	@rc=0; for m in $(GO_MODULES); do \
	  (cd $$m && $(GO) vet ./...) || { echo "vet: $$m failed"; rc=1; }; \
	done; exit $$rc

tools: $(STATICCHECK)

$(STATICCHECK):
	@mkdir -p $(TOOLS_CACHE)
	@echo "building staticcheck $(STATICCHECK_VERSION) into $(TOOLS_CACHE)"
	@tmp=$$(mktemp -d $(TOOLS_CACHE)/.install.XXXXXX) && trap 'rm -rf $$tmp' EXIT && \
	GOBIN=$$tmp $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION) && \
	mv $$tmp/staticcheck $@

# staticcheck runs its default checks; a suppression is a //lint:ignore (or
# //lint:file-ignore) comment next to the code, with the reason.
staticcheck: $(STATICCHECK)
	@rc=0; for m in $(GO_MODULES); do \
	  (cd $$m && $(STATICCHECK) ./...) || { echo "staticcheck: $$m failed"; rc=1; }; \
	done; exit $$rc

# lint: cheap checks first. `make lint-selftest` shows that it fails on an unused
# function and on an untidy go.mod.
lint: fmt-check tidy-check vet staticcheck

lint-selftest:
	./scripts/lint-selftest.sh

race:
	$(GO) test -race ./...

# test-deps installs, once and idempotently, what the tests drive: Debian packages (JDK,
# Maven, kcat), Go modules, Kafka's specs, and the client matrix (Kafka 4.3.1 jars,
# Python/Node/Go clients) into ~/.cache. A second run takes a second or two.
test-deps:
	./scripts/install-test-deps.sh
	./test/compat/install.sh

test: test-deps lint lint-selftest verify-gen
	$(GO) test -race -timeout 14m ./...

# observability-test: deploy/grafana's dashboard and deploy/prometheus's alert rules against a
# three-node cluster scraped by Debian's prometheus (installed here when missing).
observability-test:
	command -v prometheus >/dev/null && command -v promtool >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)
	$(GO) test -tags observability -count=1 -timeout 10m ./test/observability/

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# bench: Spool vs Apache Kafka 4.3.1 on this machine (test/bench/run.sh; knobs there: PAIRS=, DURATION=, …).
# Rewrites docs/benchmarks.md and docs/bench/*.png. Go micro-benchmarks: go test -bench . ./protocol/...
bench:
	./test/bench/run.sh

# bench-smoke: P1, P2, L1, one pair, 20 s each.
bench-smoke:
	LABEL=smoke PAIRS=1 DURATION=20s WARMUP=3s SCENARIOS=P1,P2,L1 ./test/bench/run.sh

# bench-cluster: three-node Spool vs three-node Kafka 4.3.1, acks=all, RF 3, min ISR 2
# (test/bench/cluster.sh; knobs there). Rewrites the cluster section of docs/benchmarks.md.
bench-cluster:
	./test/bench/cluster.sh

# bench-cluster-smoke: one pair, 5 s runs (a few minutes; for CI).
bench-cluster-smoke:
	LABEL=smoke PAIRS=1 DURATION=5s WARMUP=2s ./test/bench/cluster.sh

# bench-scale: scenario R5, idle partitions in steps on a three-node Spool and Kafka cluster on
# 127.0.0.1 (ports 24000-24999): create time, propagation, RSS/fds/maps/idle CPU per node, acks=all
# probe p99, restart-to-ready. Writes test/bench/out-scale/scale-results.json and prints a table.
# Knobs: STEPS=1000,10000,100000 RF=3 SYSTEMS=spool,kafka KAFKA_MAX=10000
bench-scale: build
	cd test/bench && go build -o ../../bin/spool-bench . && nice -n 10 ../../bin/spool-bench scale -repo $(CURDIR) \
		-out out-scale -steps $${STEPS:-1000,10000,100000} -rf $${RF:-3} -systems $${SYSTEMS:-spool,kafka} -kafka-max $${KAFKA_MAX:-10000}

# chaos: the fault harness (test/chaos, issue 13; needs root): 3 Spool nodes, each in its own
# network namespace, under a seeded schedule of kill -9, SIGSTOP, network partition and packet
# loss, with acks=all idempotent producers; exits 1 on a lost, duplicated or reordered write,
# 2 when the cluster does not heal (every partition back to a full ISR) or the run is incomplete.
# SEED=n replays a fault schedule (0: from the clock); CHAOS_FLAGS passes more (`bin/chaos -h`):
# CHAOS_FLAGS='-kinds all' adds split, one-way loss, delay, disk-full, power loss (xfsprogs,
# installed here when missing) and a rolling restart (-kinds rolling alone: only that);
# CHAOS_FLAGS='-target kafka' runs the reference Apache Kafka 4.3.1.
SEED ?= 0
CHAOS_DURATION ?= 10m
chaos:
	@[ "$$(id -u)" = 0 ] || { echo "chaos: must run as root (it creates network namespaces, a bridge and iptables rules)"; exit 2; }
	command -v mkfs.xfs >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends xfsprogs)
	cd test/chaos && $(GO) build -o ../../bin/chaos .
	./bin/chaos -repo . -seed $(SEED) -duration $(CHAOS_DURATION) $(CHAOS_FLAGS)

# chaos-smoke: the CI run (.ci/run): 100 s of faults from a fixed seed (CHAOS_SMOKE_SEED, or
# SEED=n), the cluster must heal within 60 s, about 3 minutes in all; stopped (cleanly, SIGINT)
# after CHAOS_SMOKE_LIMIT seconds in any case.
CHAOS_SMOKE_SEED ?= 7
CHAOS_SMOKE_LIMIT ?= 420
# The CI run keeps the workloads it was tuned with (producers, transactions, live reader):
# CHAOS_SMOKE_WORKLOADS= adds the consumer groups (classic and KIP-848), consume-transform-
# produce, hostile input and admin workloads of `make chaos`.
CHAOS_SMOKE_WORKLOADS ?= -group-consumers 0 -group848-consumers 0 -ctp 0 -hostile 0 -admin=false
chaos-smoke:
	@[ "$$(id -u)" = 0 ] || { echo "chaos-smoke: must run as root (it creates network namespaces, a bridge and iptables rules)"; exit 2; }
	cd test/chaos && $(GO) build -o ../../bin/chaos .
	timeout --signal=INT --kill-after=30s $(CHAOS_SMOKE_LIMIT) ./bin/chaos -repo . \
		-seed $(if $(filter-out 0,$(SEED)),$(SEED),$(CHAOS_SMOKE_SEED)) -duration 100s -recover 60s $(CHAOS_SMOKE_WORKLOADS) $(CHAOS_FLAGS)

# compat: the client compatibility matrix against Apache Kafka 4.3.1 and Spool, single nodes
# (kafka, spool) and 3-node clusters (kafka3, spool3), see test/compat/run.sh.
# Filters (comma-separated globs): make compat ONLY=produce-codecs CLIENTS=kcat TARGETS=kafka
# The SASL_SSL columns (SCRAM-SHA-512 + ACLs, a subset of scenarios and clients; not in the
# default TARGETS): make compat TARGETS=kafka-sasl,spool-sasl; on 3-node clusters with
# SASL_SSL between brokers and an mTLS CONTROLLER listener: TARGETS=kafka3-sasl,spool3-sasl
# A failed build is not fatal here: the Spool column then fails with the reason.
compat:
	@$(MAKE) build || echo "compat: make build failed; Spool cases will fail"
	./test/compat/install.sh
	ONLY='$(ONLY)' CLIENTS='$(CLIENTS)' TARGETS='$(TARGETS)' ./test/compat/run.sh

# compat-cluster: the 3-node columns (kafka3, spool3) on CI's subset of the matrix: the
# cluster-* scenarios and, among the rest, the rows replication changes most (acks=all
# produce, idempotence, transactions, groups, EOS) with a few clients; the full matrix on
# all four columns is `make compat`. Results go to test/compat/out-cluster/.
COMPAT_CLUSTER_ONLY    ?= cluster-*,produce-consume,acks,idempotent,transactions,group-commit-resume,eos-loop,admin-topics,min-isr-rf1
COMPAT_CLUSTER_CLIENTS ?= franz,java,cli,confluent-py
compat-cluster:
	@$(MAKE) build || echo "compat: make build failed; Spool cases will fail"
	./test/compat/install.sh
	ONLY='$(COMPAT_CLUSTER_ONLY)' CLIENTS='$(COMPAT_CLUSTER_CLIENTS)' TARGETS=kafka3,spool3 \
		COMPAT_OUT='$(CURDIR)/test/compat/out-cluster' ./test/compat/run.sh

# image: spool:latest (FROM scratch, the broker alone) and spool:tools (the broker with a
# JRE and Kafka 4.3.1's CLI tools at /opt/kafka/bin) from deploy/Containerfile, with podman
# (ENGINE=docker where a Docker engine runs). Nothing is pulled: see scripts/build-image.sh.
image: podman
	./scripts/build-image.sh

# podman: installs and configures podman, podman-compose, runc, debootstrap (idempotent).
podman:
	./scripts/install-podman.sh

# deploy-check: the deployment files without containers: systemd-analyze verify on the
# unit, the Kubernetes manifests and Helm chart decoded strictly into the API types, helm
# lint and template (test/deploy/check.sh).
deploy-check: build
	./test/deploy/check.sh

# deploy-test: deploy-check, then the images built and run with podman: the broker image
# alone, the guides' single-node compose file and the 3-node cluster (a node killed under
# acks=all load) under podman-compose (test/deploy/*.sh).
# Runs in CI from .ci/run; one run at a time on a machine (it publishes port 9092).
deploy-test: test-deps
	flock /tmp/spool-deploy-test.lock ./test/deploy/run.sh

clean:
	rm -rf bin build
