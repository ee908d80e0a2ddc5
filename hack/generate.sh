#!/usr/bin/env bash
# Regenerates everything controller-gen owns: deepcopy code, CRDs and RBAC,
# and the Helm chart's copies of the CRDs and RBAC (deploy/helm/dr-syncer),
# and of the alert rules (deploy/prometheus/rules.yaml).
# With an output folder argument it writes there instead, for the staleness test.
#
#   hack/generate.sh [OUT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${DRSYNCER_BIN:-${DRSYNCER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dr-syncer}/bin}
gen="$bin/controller-gen"
[ -x "$gen" ] || { echo "controller-gen not found at $gen: run \`make tools\`" >&2; exit 1; }

out=${1:-}
object_out=() crd_out=deploy/crd controller_rbac=deploy/rbac/controller worker_rbac=deploy/rbac/worker
chart=deploy/helm/dr-syncer
if [ -n "$out" ]; then
	object_out=("output:object:dir=$out/api/v1alpha1")
	crd_out="$out/deploy/crd" controller_rbac="$out/deploy/rbac/controller" worker_rbac="$out/deploy/rbac/worker"
	chart="$out/deploy/helm/dr-syncer"
fi
"$gen" object paths=./api/... "${object_out[@]}"
"$gen" crd paths=./api/... output:crd:dir="$crd_out"
"$gen" rbac:roleName=dr-syncer-controller paths=./controller/... output:rbac:dir="$controller_rbac"
"$gen" rbac:roleName=dr-syncer-worker paths=./worker/... output:rbac:dir="$worker_rbac"
# The chart ships the same files: Helm reads only what is inside the chart.
rm -rf "$chart/crds" && mkdir -p "$chart/crds" "$chart/files/rbac" "$chart/files/prometheus"
cp "$crd_out"/*.yaml "$chart/crds/"
cp "$controller_rbac/role.yaml" "$chart/files/rbac/controller-role.yaml"
cp "$worker_rbac/role.yaml" "$chart/files/rbac/worker-role.yaml"
cp deploy/prometheus/rules.yaml "$chart/files/prometheus/rules.yaml"
