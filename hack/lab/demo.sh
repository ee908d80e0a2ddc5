#!/usr/bin/env bash
# The zero-setup demo: brings up the lab and a Temporal dev server, deploys dr-syncer
# into dr the way a user would (deploy.sh: kubectl apply -k deploy/), creates a sample
# app with data in prod, applies RemoteClusters, a ClusterMapping and a Replication
# (hack/lab/demo/*.yaml), asks for a sync with the sync-now annotation, and shows the
# system rolling its agent out into prod, syncing, and the data arriving
# byte-identical in dr. Any step that fails stops the demo and says where.
#
#   hack/lab/demo.sh            (make demo; remove the demo with hack/lab/undeploy.sh,
#                                the whole lab with make lab-down)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

SRC=prod # hack/lab/demo/*.yaml name these clusters
DST=dr
CTL=$DST # the DR cluster doubles as the controller cluster
APP_NS=shop
SYS=dr-syncer-system
TEMPORAL_ADDR=10.255.0.1$(cluster_index "$CTL"):7233 # in the controller node's namespace
DEMO_TIMEOUT=${DEMO_TIMEOUT:-240}
T0=$SECONDS

step() { printf '\n\033[1;34m== step %s ==\033[0m\n' "$*" >&2; }
stop_here() {
	printf '\n\033[1;33mdemo: stopping here: %s\033[0m\n' "$*" >&2
	footer
	exit 1
}
footer() {
	cat >&2 <<TXT

What to look at:
  Temporal Web UI        http://127.0.0.1:8233   (frontend for pods: $TEMPORAL_ADDR)
  Temporal CLI           $BIN/temporal workflow list --address $TEMPORAL_ADDR
                         $BIN/temporal workflow describe --address $TEMPORAL_ADDR -w 'replication/$SYS/$APP_NS/<sync-now value>'
  replication status     kubectl --kubeconfig $LAB/$CTL/kubeconfig -n $SYS get repl,remoteclusters,clustermappings
                         kubectl --kubeconfig $LAB/$CTL/kubeconfig -n $SYS describe repl $APP_NS
  sync again             kubectl --kubeconfig $LAB/$CTL/kubeconfig -n $SYS annotate repl $APP_NS dr-syncer.io/sync-now="\$(date +%s)" --overwrite
  drill, fail over, back make build; bin/drsyncer --temporal-address $TEMPORAL_ADDR drill $SYS/$APP_NS
                         bin/drsyncer --temporal-address $TEMPORAL_ADDR failover $SYS/$APP_NS   (then: failback $SYS/$APP_NS)
  dr-syncer logs         kubectl --kubeconfig $LAB/$CTL/kubeconfig -n $SYS logs deploy/dr-syncer-controller   (and deploy/dr-syncer-worker)
  agent in $SRC          kubectl --kubeconfig $LAB/$SRC/kubeconfig -n dr-syncer get ds,pods -o wide
  source app             kubectl --kubeconfig $LAB/$SRC/kubeconfig -n $APP_NS get deploy,pods,pvc
  replicated app         kubectl --kubeconfig $LAB/$DST/kubeconfig -n $APP_NS-dr get deploy,pods,pvc
  node logs              $LAB/<cluster>/logs/, $LAB/temporal/temporal.log
Tear down:
  the demo only          hack/lab/undeploy.sh   (Replication, mapping, clusters, agent, dr-syncer, app namespaces)
  the whole lab          make lab-down
TXT
}
src() { kubectl --kubeconfig "$LAB/$SRC/kubeconfig" "$@"; }
dst() { kubectl --kubeconfig "$LAB/$DST/kubeconfig" "$@"; }
ctl() { kubectl --kubeconfig "$LAB/$CTL/kubeconfig" "$@"; }
pod_sums() { # pod_sums KUBECTL-FN NS POD: sha256 of every file under /data
	"$1" -n "$2" exec "$3" -- bash -c 'cd /data && find . -type f -print0 | sort -z | xargs -0 sha256sum'
}

step "1/6: lab"
"$HERE/up.sh"

step "2/6: Temporal dev server, and dr-syncer deployed into $CTL (kubectl apply -k deploy/: CRDs, RBAC, controller, worker)"
"$HERE/deploy.sh" "$CTL" || stop_here "step 2: deploying dr-syncer failed (above)"

step "3/6: sample app with data in a PVC in $SRC"
src apply -f - <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $APP_NS}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: $APP_NS}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-config, namespace: $APP_NS}
data: {currency: EUR}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop-db, namespace: $APP_NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop-db}}
  template:
    metadata: {labels: {app: shop-db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: dr-syncer/base:dev
        imagePullPolicy: IfNotPresent
        command: [bash, -c, 'if [ ! -f /data/orders.db ]; then head -c 8388608 /dev/urandom > /data/orders.db; mkdir -p /data/invoices; for i in \$(seq 100); do echo "invoice \$i" > /data/invoices/\$i.txt; done; fi; echo "shop-db ready"; exec sleep infinity']
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
YAML
src -n "$APP_NS" rollout status deployment/shop-db --timeout=120s
src_pod=$(src -n "$APP_NS" get pod -l app=shop-db --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')
src -n "$APP_NS" wait --for=condition=Ready "pod/$src_pod" --timeout=60s >/dev/null
wait_for "the app's data in $APP_NS/data" /dev/null 120 src -n "$APP_NS" exec "$src_pod" -- test -f /data/invoices/100.txt
log "source data: $(src -n "$APP_NS" exec "$src_pod" -- du -sh /data | cut -f1) in PVC $APP_NS/data"

step "4/6: kubectl apply RemoteClusters, ClusterMapping and Replication ($HERE/demo/), then sync-now"
ctl apply -f "$HERE/demo/clusters.yaml" -f "$HERE/demo/replication.yaml" || stop_here "step 4: applying hack/lab/demo/*.yaml failed (above)"
prev_last=$(ctl -n "$SYS" get replication "$APP_NS" -o jsonpath='{.status.lastSyncTime}')
now=$(date +%s)
ctl -n "$SYS" annotate replication "$APP_NS" dr-syncer.io/sync-now="$now" --overwrite
t_sync=$SECONDS

step "5/6: the system rolls the agent out into $SRC, generates keys and syncs (Temporal UI: http://127.0.0.1:8233)"
deadline=$((SECONDS + DEMO_TIMEOUT))
last=""
while :; do
	# One read per poll; a failed read (API server busy) is just retried.
	st=$(ctl -n "$SYS" get replication "$APP_NS" -o jsonpath='{.status.phase}|{.status.syncNowHandled}|{.status.lastSyncTime}|{.status.syncProgress.percentComplete}|{.status.syncProgress.currentOperation}' 2>/dev/null || true)
	IFS='|' read -r phase handled last_sync pct op <<<"$st"
	cluster=$(ctl -n "$SYS" get remotecluster "$SRC" --no-headers 2>/dev/null | awk '{printf "cluster %s: %s, agent ready %s  ", $1, $2, $3}' || true)
	line="$(printf '%4ss  ' $((SECONDS - t_sync)))${cluster}repl $APP_NS: $phase ${pct:+$pct% }$op"
	[ "$line" != "$last" ] && printf '  %s\n' "$line" >&2
	last=$line
	if [ "$handled" = "$now" ] && [ "$phase" = Completed ] && [ -n "$last_sync" ] && [ "$last_sync" != "$prev_last" ]; then
		break
	fi
	if { [ "$handled" = "$now" ] && [ "$phase" = Failed ]; } || [ $SECONDS -ge $deadline ]; then
		ctl -n "$SYS" get replication "$APP_NS" -o yaml | sed -n '/^status:/,$p' >&2 || true
		stop_here "step 5: replication $phase after $((SECONDS - t_sync))s (status above; workflows in the Temporal UI)"
	fi
	sleep 2
done
took=$((SECONDS - t_sync))
ctl -n "$SYS" get replication "$APP_NS" >&2
log "sync-now → Completed in ${took}s (agent rollout, keys, objects and PVC data)"
src -n dr-syncer get daemonset -o wide >&2

step "6/6: objects and data in $DST/$APP_NS-dr"
dst -n "$APP_NS-dr" get deploy,configmap,pvc >&2
log "shop-db in dr: replicas $(dst -n "$APP_NS-dr" get deploy shop-db -o jsonpath='{.spec.replicas}'), dr-syncer.io/original-replicas=$(dst -n "$APP_NS-dr" get deploy shop-db -o jsonpath='{.metadata.annotations.dr-syncer\.io/original-replicas}')"
dst -n "$APP_NS-dr" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: demo-verify}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: v, image: dr-syncer/base:dev, imagePullPolicy: IfNotPresent, command: [sleep, infinity], volumeMounts: [{name: d, mountPath: /data, readOnly: true}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
YAML
dst -n "$APP_NS-dr" wait --for=condition=Ready pod/demo-verify --timeout=120s >/dev/null
pod_sums src "$APP_NS" "$src_pod" >"$LAB/demo/sums.$SRC"
pod_sums dst "$APP_NS-dr" demo-verify >"$LAB/demo/sums.$DST"
printf '\n%-40s %s\n' "sha256 in $SRC/$APP_NS/data" "sha256 in $DST/$APP_NS-dr/data" >&2
paste -d' ' <(awk '{print substr($1,1,16)"… "$2}' "$LAB/demo/sums.$SRC") <(awk '{print substr($1,1,16)"… "$2}' "$LAB/demo/sums.$DST") |
	awk '{printf "%-40s %s\n", $1" "$2, $3" "$4}' | sed -n '1,5p;$p' >&2
printf '(%s files; all: %s)\n' "$(wc -l <"$LAB/demo/sums.$SRC")" "$LAB/demo/sums.{$SRC,$DST}" >&2
dst -n "$APP_NS-dr" delete pod demo-verify --wait=false >/dev/null
if diff "$LAB/demo/sums.$SRC" "$LAB/demo/sums.$DST" >&2; then
	log "data in $DST/$APP_NS-dr is byte-identical to $SRC/$APP_NS ($(sha256sum <"$LAB/demo/sums.$SRC" | cut -c1-16)… over all file checksums)"
else
	stop_here "step 6: data differs (diff above)"
fi
log "demo done: sync-now → Completed ${took}s; whole demo $((SECONDS - T0))s"
footer
