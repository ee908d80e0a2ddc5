#!/usr/bin/env bash
# Removes what demo.sh (or the e2e test TestLabDeployedSyncNow) put into the lab, and
# nothing else of the lab: the Replications, ClusterMappings and RemoteClusters (their
# finalizers cancel runs and remove the agent from the source cluster), the app
# namespaces in both clusters, and dr-syncer itself (kubectl delete -k, or helm
# uninstall after DEPLOY_WITH=helm: the inverse of deploy.sh). The Temporal dev
# server keeps running; make lab-down stops it.
#
#   hack/lab/undeploy.sh [CONTROLLER-CLUSTER [APP-NAMESPACE...]]   (default: dr shop)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

CTL=${1:-dr}
shift || true
APPS=("$@")
[ ${#APPS[@]} -gt 0 ] || APPS=(shop)
[ -f "$LAB/$CTL/kubeconfig" ] || die "lab not up: run make lab-up"
k() { kubectl --kubeconfig "$LAB/$1/kubeconfig" "${@:2}"; }
SYS=dr-syncer-system

if k "$CTL" get crd replications.dr-syncer.io >/dev/null 2>&1; then
	# In this order, while the controller still runs to handle the finalizers.
	for kind in replications clustermappings remoteclusters; do
		k "$CTL" -n "$SYS" delete "$kind" --all --ignore-not-found --timeout=90s >&2 ||
			log "warning: $kind not deleted in time; removing their finalizers"
		for o in $(k "$CTL" -n "$SYS" get "$kind" -o name 2>/dev/null); do
			k "$CTL" -n "$SYS" patch "$o" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null || true
		done
	done
fi
for c in $(cat "$LAB/clusters"); do
	# The agent: its RemoteCluster's finalizer removed it; this only catches a crash's leftovers.
	# By name: the e2e tests' own agents carry the same labels.
	if [ "$(k "$c" get namespace dr-syncer -o jsonpath='{.metadata.labels.app\.kubernetes\.io/component}' 2>/dev/null)" = agent ]; then
		k "$c" delete namespace dr-syncer --ignore-not-found --wait=false >/dev/null
	fi
	k "$c" delete clusterrole,clusterrolebinding -l app.kubernetes.io/part-of=dr-syncer,app.kubernetes.io/component=agent \
		--field-selector metadata.name=dr-syncer-agent --ignore-not-found >/dev/null
	# The namespace dr-syncer made for its connectivity check (and key Secrets): by name
	# and label only, since the DR namespaces it creates for syncs carry the same label.
	k "$c" delete namespace -l app.kubernetes.io/managed-by=dr-syncer --field-selector metadata.name=dr-syncer \
		--ignore-not-found --wait=false >/dev/null
	for ns in "${APPS[@]}"; do
		k "$c" delete namespace "$ns" "$ns-dr" --ignore-not-found --wait=false >/dev/null
	done
done
if [ -f "$LAB/demo/helm-release" ]; then
	# The chart's CRDs stay (helm never deletes them); the namespace keeps the
	# kubeconfig Secrets deploy.sh made, which a later deploy.sh overwrites.
	"$BIN/helm" --kubeconfig "$LAB/$CTL/kubeconfig" uninstall dr-syncer --namespace "$SYS" --cascade foreground \
		--ignore-not-found --wait --timeout 120s >/dev/null
	rm -f "$LAB/demo/helm-release"
elif [ -f "$LAB/demo/kustomization.yaml" ]; then
	k "$CTL" delete -k "$LAB/demo" --ignore-not-found --wait=true --timeout=120s >/dev/null
fi
log "dr-syncer, its resources, the agent and namespaces ${APPS[*]} removed (the lab and Temporal keep running)"
