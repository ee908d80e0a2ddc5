#!/usr/bin/env bash
# Brings up the local lab: one single-node Kubernetes cluster per name in LAB_CLUSTERS
# (default "prod dr"), each in its own network namespace on the host bridge drlab0.
# Idempotent: with the lab up, a second run checks everything and changes nothing;
# a component that died is restarted.
#
#   hack/lab/up.sh        (root; binaries from `make tools`, packages from `make deps`)
#
# Admin kubeconfigs: .lab/<cluster>/kubeconfig (and .lab/kubeconfig with every context).
# Logs: .lab/<cluster>/logs/<component>.log. See hack/lab/README.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/configs.sh"

START=$SECONDS
need_root
need_cmds nsenter ip openssl containerd runc ctr iptables setsid base64 sha256sum
need_bins etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl \
	snapshot-controller csi-snapshotter csi-provisioner

[ ${#LAB} -le 70 ] || die "lab folder path $LAB is too long for unix sockets (max 70 chars): set LAB_DIR"

# ---- host-level state we may create: remembered so lab-down removes only that ----
mkdir -p "$LAB"
if [ ! -f "$LAB/host-created" ]; then
	for d in /run/netns /run/containerd /var/lib/cni /var/log/containers; do
		[ -e "$d" ] || echo "$d"
	done >"$LAB/host-created"
fi
# The kubelet sets these host-global sysctls; lab-down puts the old values back.
if [ ! -f "$LAB/host-sysctls" ]; then
	for s in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
		kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
		echo "$s=$(sysctl -n "$s")"
	done >"$LAB/host-sysctls.tmp"
	mv "$LAB/host-sysctls.tmp" "$LAB/host-sysctls"
fi
echo "$LAB_CLUSTERS" >"$LAB/clusters"

# ---- images and the lab's own programs (cached; fast when nothing changed) ----
LAB_KEEP_STALE_CMDS=1 "$HERE/images.sh" build
TOOLS=$("$HERE/images.sh" tools-dir)

# ---- host bridge ----
setup_bridge() {
	local alias="dr-syncer lab $LAB"
	if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
		local have
		have=$(cat "/sys/class/net/$LAB_BRIDGE/ifalias" 2>/dev/null || true)
		[ "$have" = "$alias" ] || die "bridge $LAB_BRIDGE belongs to another lab ($have): run its lab-down first"
	else
		ip link add "$LAB_BRIDGE" type bridge
		ip link set "$LAB_BRIDGE" alias "$alias"
	fi
	# (no `| grep -q` under pipefail: an early exit of grep fails the pipeline)
	[[ $(ip -4 addr show dev "$LAB_BRIDGE") == *"inet $LAB_BRIDGE_IP/24"* ]] || ip addr add "$LAB_BRIDGE_IP/24" dev "$LAB_BRIDGE"
	ip link set "$LAB_BRIDGE" up
}

# ---- one node's network namespace ----
setup_netns() {
	[ -e "/run/netns/$C_NETNS" ] || ip netns add "$C_NETNS"
	if ! ip link show "$C_VETH" >/dev/null 2>&1; then
		in_ns ip link del eth0 2>/dev/null || true
		ip link add "$C_VETH" type veth peer name eth0 netns "$C_NETNS"
	fi
	ip link set "$C_VETH" master "$LAB_BRIDGE" up
	in_ns ip link set lo up
	[[ $(in_ns ip -4 addr show dev eth0) == *"inet $C_NODE_IP/24"* ]] || in_ns ip addr add "$C_NODE_IP/24" dev eth0
	in_ns ip link set eth0 up
	in_ns ip route replace default via "$LAB_BRIDGE_IP" dev eth0
	in_ns sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] &&
		in_ns sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
	# The host reaches pods and services through the node (a route, not forwarding).
	ip route replace "$C_POD_CIDR" via "$C_NODE_IP" dev "$LAB_BRIDGE"
	ip route replace "$C_SVC_CIDR" via "$C_NODE_IP" dev "$LAB_BRIDGE"
}

setup_routes() { # pods of every cluster reach the pod IPs of every other
	local c other_ip other_cidr
	for c in $LAB_CLUSTERS; do
		[ "$c" = "$C_NAME" ] && continue
		local i; i=$(cluster_index "$c")
		other_ip=10.255.0.1$i other_cidr=10.244.$i.0/24
		in_ns ip route replace "$other_cidr" via "$other_ip" dev eth0
	done
}

setup_cgroups() { # the kubelet's cgroupRoot must exist in every v1 hierarchy
	local h
	for h in /sys/fs/cgroup/*/; do
		[ -f "${h}cgroup.procs" ] || continue
		mkdir -p "$h$C_CGROUP"
		if [ -f "${h}cpuset.cpus" ] && [ -z "$(cat "$h$C_CGROUP/cpuset.cpus")" ]; then
			cat "${h}cpuset.cpus" >"$h$C_CGROUP/cpuset.cpus"
			cat "${h}cpuset.mems" >"$h$C_CGROUP/cpuset.mems"
		fi
	done
}

write_cluster_env() {
	put "$C_DIR/cluster.env" <<ENV
# Lab cluster $C_NAME, read by test/lab (Go) and hack/lab/*.sh.
NAME=$C_NAME
INDEX=$C_INDEX
NODE=$C_NODE
NODE_IP=$C_NODE_IP
POD_CIDR=$C_POD_CIDR
SERVICE_CIDR=$C_SVC_CIDR
APISERVER=$C_APISERVER
KUBECONFIG=$C_DIR/kubeconfig
NETNS=$C_NETNS
CONTAINERD_SOCK=$C_CTRD_SOCK
VOLUMES_DIR=$C_DIR/volumes
CGROUP=/$C_CGROUP
ENV
}

start_etcd_containerd() {
	start_daemon etcd "$BIN/etcd" --name "$C_NAME" --data-dir "$C_DIR/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster "$C_NAME=http://127.0.0.1:2380" --listen-metrics-urls "" \
		--unsafe-no-fsync --log-level warn
	start_daemon containerd containerd --config "$C_DIR/containerd/config.toml"
}

start_apiserver() {
	local p=$C_DIR/pki
	start_daemon kube-apiserver "$BIN/kube-apiserver" \
		--etcd-servers=http://127.0.0.1:2379 \
		--bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$C_NODE_IP" \
		--service-cluster-ip-range="$C_SVC_CIDR" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--client-ca-file="$p/ca.crt" --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
		--kubelet-client-certificate="$p/apiserver-kubelet-client.crt" --kubelet-client-key="$p/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$p/ca.crt" --kubelet-preferred-address-types=InternalIP \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
		--allow-privileged=true --profiling=false
}

start_rest() {
	local p=$C_DIR/pki
	start_daemon kube-controller-manager "$BIN/kube-controller-manager" \
		--kubeconfig="$C_DIR/conf/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$C_DIR/conf/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$C_DIR/conf/controller-manager.kubeconfig" \
		--controllers='*,-serviceaccount-token' --use-service-account-credentials=false \
		--root-ca-file="$p/ca.crt" --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
		--allocate-node-cidrs=true --cluster-cidr="$C_POD_CIDR" --node-cidr-mask-size=24 \
		--service-cluster-ip-range="$C_SVC_CIDR" --cluster-name="$C_NAME" \
		--bind-address=127.0.0.1 --leader-elect=false --profiling=false
	start_daemon kube-scheduler "$BIN/kube-scheduler" \
		--kubeconfig="$C_DIR/conf/scheduler.kubeconfig" \
		--authentication-kubeconfig="$C_DIR/conf/scheduler.kubeconfig" \
		--authorization-kubeconfig="$C_DIR/conf/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false --profiling=false
	start_daemon kubelet "$BIN/kubelet" --config="$C_DIR/conf/kubelet.yaml" \
		--kubeconfig="$C_DIR/conf/kubelet.kubeconfig" --root-dir="$C_DIR/kubelet" --cert-dir="$C_DIR/pki" \
		--hostname-override="$C_NODE" --node-ip="$C_NODE_IP"
	start_daemon kube-proxy "$BIN/kube-proxy" --config="$C_DIR/conf/kube-proxy.yaml"
	start_host_daemon provisioner "$TOOLS/provisioner" -kubeconfig "$C_DIR/kubeconfig" \
		-dir "$C_DIR/volumes" -node "$C_NODE"
	# The CSI driver registers with the kubelet through plugins_registry. Socket paths
	# stay short: a unix socket path has at most 108 bytes.
	start_host_daemon csi-driver "$TOOLS/csidriver" -name "$LAB_CSI_DRIVER" -node "$C_NODE" \
		-dir "$C_DIR/csi" -endpoint "$C_DIR/csi.sock" -registration-socket "$C_DIR/kubelet/plugins_registry/hp.sock"
}

csi_registered() { # the kubelet lists the lab's driver on its CSINode
	[ -n "$(kc get csinode "$C_NODE" -o "jsonpath={.spec.drivers[?(@.name=='$LAB_CSI_DRIVER')].nodeID}" 2>/dev/null)" ]
}

start_csi_controllers() { # the standard snapshot machinery, once its CRDs exist
	local kcfg=$C_DIR/kubeconfig
	start_host_daemon snapshot-controller "$BIN/snapshot-controller" --kubeconfig="$kcfg" --leader-election=false
	start_host_daemon csi-snapshotter "$BIN/csi-snapshotter" --kubeconfig="$kcfg" --leader-election=false \
		--csi-address="$C_DIR/csi.sock" --timeout=60s
	start_host_daemon csi-provisioner "$BIN/csi-provisioner" --kubeconfig="$kcfg" --leader-election=false \
		--csi-address="$C_DIR/csi.sock" --timeout=60s
}

apply_storage() { # StorageClasses; every cluster but the first also gets "fast"
	{
		cat <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
  labels: {lab.dr-syncer.io/managed: "true"}
provisioner: lab.dr-syncer.io/hostpath
reclaimPolicy: Delete
volumeBindingMode: Immediate
YAML
		if [ "$C_INDEX" != 1 ]; then
			cat <<YAML
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
  labels: {lab.dr-syncer.io/managed: "true"}
provisioner: lab.dr-syncer.io/hostpath
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
YAML
		fi
		cat <<YAML
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: $LAB_CSI_DRIVER
  labels: {lab.dr-syncer.io/managed: "true"}
spec:
  attachRequired: false
  podInfoOnMount: false
  volumeLifecycleModes: [Persistent]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: csi-hostpath
  labels: {lab.dr-syncer.io/managed: "true"}
provisioner: $LAB_CSI_DRIVER
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: false
YAML
	} | kc apply -f - >>"$C_DIR/logs/lab-up.log" 2>&1 || die "$C_NAME: applying StorageClasses failed; read $C_DIR/logs/lab-up.log"
	kc apply -f "$BIN/snapshot-crds/" >>"$C_DIR/logs/lab-up.log" 2>&1 ||
		die "$C_NAME: applying the VolumeSnapshot CRDs failed; read $C_DIR/logs/lab-up.log"
	wait_for "$C_NAME VolumeSnapshotClass CRD" "$C_DIR/logs/lab-up.log" "$LAB_TIMEOUT" \
		kc wait --for=condition=Established crd/volumesnapshotclasses.snapshot.storage.k8s.io --timeout=2s
	kc apply -f - >>"$C_DIR/logs/lab-up.log" 2>&1 <<YAML || die "$C_NAME: applying the VolumeSnapshotClass failed; read $C_DIR/logs/lab-up.log"
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: csi-hostpath
  annotations: {snapshot.storage.kubernetes.io/is-default-class: "true"}
  labels: {lab.dr-syncer.io/managed: "true"}
driver: $LAB_CSI_DRIVER
deletionPolicy: Delete
YAML
}

# ---- bring-up, in phases across clusters so they start in parallel ----
setup_bridge
for c in $LAB_CLUSTERS; do
	cluster_vars "$c"
	mkdir -p "$C_DIR/logs" "$C_DIR/pids"
	gen_pki
	gen_kubeconfigs
	gen_node_configs
	write_cluster_env
	setup_netns
	setup_cgroups
done
for c in $LAB_CLUSTERS; do cluster_vars "$c"; setup_routes; done
# One kubeconfig with every cluster as a context.
(
	files=""
	for c in $LAB_CLUSTERS; do files="$files${files:+:}$LAB/$c/kubeconfig"; done
	KUBECONFIG=$files kubectl config view --flatten --raw
) | put "$LAB/kubeconfig"
chmod 600 "$LAB/kubeconfig"

for c in $LAB_CLUSTERS; do cluster_vars "$c"; start_etcd_containerd; done
for c in $LAB_CLUSTERS; do
	cluster_vars "$c"
	wait_for "$C_NAME containerd" "$C_DIR/logs/containerd.log" "$LAB_TIMEOUT" \
		ctr --address "$C_CTRD_SOCK" version
	start_apiserver
done
for c in $LAB_CLUSTERS; do "$HERE/images.sh" import "$c"; done
for c in $LAB_CLUSTERS; do
	cluster_vars "$c"
	wait_for "$C_NAME kube-apiserver /readyz" "$C_DIR/logs/kube-apiserver.log" "$LAB_TIMEOUT" kc get --raw /readyz
	start_rest
done
for c in $LAB_CLUSTERS; do
	cluster_vars "$c"
	wait_for "$C_NAME node $C_NODE Ready" "$C_DIR/logs/kubelet.log" "$LAB_TIMEOUT" \
		kc wait --for=condition=Ready "node/$C_NODE" --timeout=2s
	wait_for "$C_NAME default ServiceAccount" "$C_DIR/logs/kube-controller-manager.log" "$LAB_TIMEOUT" \
		kc -n default get serviceaccount default
	apply_storage
	start_csi_controllers
done
for c in $LAB_CLUSTERS; do
	cluster_vars "$c"
	wait_for "$C_NAME CSI driver registered with the kubelet" "$C_DIR/logs/csi-driver.log" "$LAB_TIMEOUT" \
		csi_registered
done

log "lab up in $((SECONDS - START))s:"
for c in $LAB_CLUSTERS; do
	cluster_vars "$c"
	log "  $C_NAME: node $C_NODE $C_NODE_IP, pods $C_POD_CIDR — kubectl --kubeconfig $C_DIR/kubeconfig get nodes"
done
log "  all contexts: kubectl --kubeconfig $LAB/kubeconfig --context <cluster> ...   tear down: make lab-down"
