# Local two-cluster lab (issue 3). Included from the top-level Makefile.
# See hack/lab/README.md. Everything here needs root.
ROOT ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
DRSYNCER_CACHE ?= $(HOME)/.cache/dr-syncer
LAB_CLUSTERS ?= prod dr
export ROOT DRSYNCER_CACHE LAB_CLUSTERS

LAB_SH := $(ROOT)/hack/lab
# The lab tests took 37.5 min one after another in CI; the timeout leaves
# room for a slower machine within CI's 90 minutes.
E2E_TIMEOUT ?= 55m
# The PVC sync tests (t.Parallel) run this many at once, each with an agent
# slot of its own (test/e2e agentSlots has as many); the others run alone.
E2E_PARALLEL ?= 2

.PHONY: lab-up lab-down lab-images lab-check-clean demo test-lab test-lab-down

lab-up: ## bring up the lab clusters (idempotent); kubeconfigs in .lab/<cluster>/kubeconfig
	$(LAB_SH)/up.sh

lab-down: ## remove every process, mount, namespace, link, cgroup and file the lab made
	$(LAB_SH)/down.sh

lab-images: ## rebuild what changed of the lab images and import them into running nodes
	$(LAB_SH)/images.sh

lab-check-clean: ## assert that nothing of the lab is left on the host
	$(LAB_SH)/check-clean.sh

demo: ## the zero-setup demo on the lab (goes as far as the project is real today)
	$(LAB_SH)/demo.sh

test-lab: lab-up ## the lab's end-to-end tests (brings the lab up if needed)
	cd $(ROOT) && go test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -parallel $(E2E_PARALLEL) -run 'TestLab|TestPVCSync' -v ./test/e2e/

test-lab-down: ## lab-down, then assert the host is clean (tears the lab down!)
	cd $(ROOT) && go test -tags 'e2e labdown' -count=1 -timeout 5m -run 'TestLabDown' -v ./test/e2e/
