# dr-syncer — `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(CURDIR)
DRSYNCER_CACHE ?= $(HOME)/.cache/dr-syncer
DRSYNCER_BIN ?= $(DRSYNCER_CACHE)/bin
export DRSYNCER_CACHE DRSYNCER_BIN
GO_TEST_FLAGS ?= -timeout 30m

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install the Debian packages tests and the lab need (rsync, openssh, containerd, ...)
	hack/deps.sh

.PHONY: tools
tools: ## build controller-gen, the temporal CLI, the Kubernetes binaries, the CSI snapshot parts and helm into $(DRSYNCER_BIN)
	hack/tools.sh >/dev/null

.PHONY: generate manifests
generate manifests: tools ## regenerate deepcopy code, CRDs and RBAC with controller-gen
	hack/generate.sh

.PHONY: build
build: ## build the binaries into ./bin
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/...

.PHONY: lint
lint: ## gofmt and go vet
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	go vet ./...

.PHONY: test
test: deps tools lint ## run every test: unit, integration (real Temporal + API servers), end to end in the lab
	@echo "test: go test ./... from $$(date -u +%T)"
	go test $(GO_TEST_FLAGS) ./...
	@echo "test: fuzz from $$(date -u +%T)"
	hack/fuzz.sh
	@echo "test: run smoke from $$(date -u +%T)"
	hack/run-smoke.sh
	@echo "test: lab end to end from $$(date -u +%T)"
	hack/test-e2e.sh
	@echo "test: done at $$(date -u +%T)"

.PHONY: fuzz
fuzz: ## run every fuzz target briefly (FUZZTIME each, default 10s); make test does this too
	hack/fuzz.sh

.PHONY: record-histories
record-histories: tools ## re-record the replay-test histories (workflows/testdata) from real runs on a dev server
	go test -tags record -count=1 -run TestRecordHistories ./workflows

.PHONY: bench-datapath
bench-datapath: deps ## data path benchmark on loopback: this project vs rsync over OpenSSH vs rsync daemon (root: loop-mounts ext4)
	go run ./test/bench/datapath -repeat=5

.PHONY: bench-resources
bench-resources: tools ## resource replication benchmark: 1,000 ConfigMaps, 200 Secrets, 100 Deployments, 100 Services between two API servers
	go test -tags bench -run '^$$' -bench Resources -benchtime 1x ./test/bench/resources/

.PHONY: bench-orchestration
bench-orchestration: lab-up ## PVC sync orchestration in the lab: overhead to first byte with a per-step breakdown, 50 PVCs at concurrentSyncs 5 and 200 at 20 (first sync, no-change resync, controller calls per poll), kill cost, copy methods and restore points on 1 GiB, drill and failover RTO
	go test -tags 'e2e bench' -run '^$$' -bench Orchestration -benchtime 1x -timeout 75m ./test/e2e/

.PHONY: run
run: tools build ## run Temporal (UI on 127.0.0.1:8233), the worker and the controller locally
	hack/run.sh

.PHONY: stop
stop: ## stop what `make run` started
	hack/run.sh stop

-include hack/lab/lab.mk

# The lab needs the Debian packages and the Kubernetes binaries.
lab-up demo: deps tools
