# Spool — a Kafka-compatible broker. `make run` starts one; `make test` checks everything.

GO        ?= go
BIN       := bin/spool
KAFKA_VERSION     ?= 4.3.1
KAFKA_OLD_VERSION ?= 3.9.2
# Kafka's JSON message specs are extracted from the kafka-clients jars into this
# cache, outside git (never commit spec files; commit the generator's output).
SPECS_CACHE ?= $(HOME)/.cache/spool/kafka-specs
SPECS     := $(SPECS_CACHE)/$(KAFKA_VERSION)
SPECS_OLD := $(SPECS_CACHE)/$(KAFKA_OLD_VERSION)
FUZZTIME  ?= 60s

.PHONY: all build run test test-deps fmt-check vet lint race specs generate gen verify-gen fuzz bench bench-smoke compat clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/spool

run: build
	./$(BIN) serve

specs: $(SPECS)/.done $(SPECS_OLD)/.done

$(SPECS_CACHE)/%/.done:
	./protocol/internal/gen/fetch-specs.sh $* $(SPECS_CACHE)/$*

generate gen: specs
	$(GO) run ./protocol/internal/gen -specs $(SPECS) -old-specs $(SPECS_OLD) -errors $(SPECS)/errors.csv -out protocol

# verify-gen regenerates into a scratch tree and fails if the committed output differs.
verify-gen: specs
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(GO) run ./protocol/internal/gen -specs $(SPECS) -old-specs $(SPECS_OLD) -errors $(SPECS)/errors.csv -out $$tmp && \
	./protocol/internal/gen/compare.sh $$tmp protocol

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: fmt-check vet

race:
	$(GO) test -race ./...

# test-deps installs, once and idempotently, what the tests drive: Debian packages (JDK,
# Maven, kcat), Go modules, Kafka's specs, and the client matrix (Kafka 4.3.1 jars,
# Python/Node/Go clients) into ~/.cache. A second run takes a second or two.
test-deps:
	./scripts/install-test-deps.sh
	./test/compat/install.sh

test: test-deps fmt-check vet verify-gen
	$(GO) test -race -timeout 14m ./...

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# bench: Spool vs Apache Kafka 4.3.1 on this machine (test/bench/run.sh; knobs there: PAIRS=, DURATION=, …).
# Rewrites docs/benchmarks.md and docs/bench/*.png. Go micro-benchmarks: go test -bench . ./protocol/...
bench:
	./test/bench/run.sh

# bench-smoke: P1, P2, L1, one pair, 20 s each.
bench-smoke:
	LABEL=smoke PAIRS=1 DURATION=20s WARMUP=3s SCENARIOS=P1,P2,L1 ./test/bench/run.sh

# compat: the client compatibility matrix against Apache Kafka 4.3.1 and Spool (see test/compat/run.sh).
# Filters (comma-separated globs): make compat ONLY=produce-codecs CLIENTS=kcat TARGETS=kafka
# A failed build is not fatal here: the Spool column then fails with the reason.
compat:
	@$(MAKE) build || echo "compat: make build failed; Spool cases will fail"
	./test/compat/install.sh
	ONLY='$(ONLY)' CLIENTS='$(CLIENTS)' TARGETS='$(TARGETS)' ./test/compat/run.sh

clean:
	rm -rf bin
