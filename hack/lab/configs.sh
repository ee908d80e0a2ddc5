# shellcheck shell=bash
# Writes one lab cluster's certificates, kubeconfigs and component configs into $C_DIR.
# Sourced by up.sh after cluster_vars. Every writer leaves an existing, identical file
# alone, so a second lab-up changes nothing.

put() { # put PATH: writes stdin to PATH unless PATH already has exactly that content
	local tmp
	tmp=$(mktemp "$1.XXXX")
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

# ---- certificates (openssl, EC P-256) ----

gen_cert() { # gen_cert NAME SUBJECT [SANS]: pki/NAME.{key,crt} signed by pki/ca
	local name=$1 subj=$2 sans=${3:-} pki=$C_DIR/pki
	[ -s "$pki/$name.crt" ] && return 0
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
	openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=serverAuth,clientAuth"
		[ -z "$sans" ] || echo "subjectAltName=$sans"
	} >"$pki/$name.ext"
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
		-days 3650 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null ||
		die "openssl: signing $name failed"
	rm -f "$pki/$name.csr" "$pki/$name.ext"
}

gen_pki() {
	local pki=$C_DIR/pki
	mkdir -p "$pki" && chmod 700 "$pki"
	if [ ! -s "$pki/ca.crt" ]; then
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null
		openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=dr-syncer-lab-$C_NAME-ca" -days 3650 -sha256 \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
			-out "$pki/ca.crt" 2>/dev/null || die "openssl: making the $C_NAME CA failed"
	fi
	gen_cert apiserver "/CN=kube-apiserver" \
		"IP:$C_NODE_IP,IP:$C_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
	gen_cert admin "/O=system:masters/CN=lab-admin"
	# --use-service-account-credentials=false runs every controller as this user.
	gen_cert controller-manager "/O=system:masters/CN=system:kube-controller-manager"
	gen_cert scheduler "/CN=system:kube-scheduler"
	gen_cert kube-proxy "/CN=system:kube-proxy"
	gen_cert kubelet-client "/O=system:nodes/CN=system:node:$C_NODE"
	gen_cert kubelet-serving "/CN=$C_NODE" "IP:$C_NODE_IP,DNS:$C_NODE"
	if [ ! -s "$pki/sa.key" ]; then
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
		openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	fi
}

# kubeconfig NAME CERT CONTEXT: a self-contained kubeconfig (certs embedded) on stdout
kubeconfig() {
	local pki=$C_DIR/pki
	cat <<YAML
apiVersion: v1
kind: Config
clusters:
- name: $3
  cluster:
    server: $C_APISERVER
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $3-$1
  user:
    client-certificate-data: $(base64 -w0 "$pki/$2.crt")
    client-key-data: $(base64 -w0 "$pki/$2.key")
contexts:
- name: $3
  context: {cluster: $3, user: $3-$1}
current-context: $3
YAML
}

gen_kubeconfigs() {
	mkdir -p "$C_DIR/conf"
	kubeconfig admin admin "$C_NAME" | put "$C_DIR/kubeconfig"
	chmod 600 "$C_DIR/kubeconfig"
	local n
	for n in controller-manager scheduler kube-proxy; do
		kubeconfig "$n" "$n" "$C_NAME" | put "$C_DIR/conf/$n.kubeconfig"
	done
	kubeconfig kubelet kubelet-client "$C_NAME" | put "$C_DIR/conf/kubelet.kubeconfig"
}

# ---- node: containerd, CNI, kubelet, kube-proxy ----

gen_node_configs() {
	local d=$C_DIR
	mkdir -p "$d/containerd" "$d/cni/net.d" "$d/cni/ipam" "$d/kubelet" "$d/pod-logs" "$d/volumes"
	put "$d/containerd/config.toml" <<TOML
# containerd for lab node $C_NODE: own root, state and socket; runs in netns $C_NETNS.
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$C_CTRD_SOCK"
[ttrpc]
  address = "$C_CTRD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$LAB_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$d/cni/net.d"
    max_conf_num = 1
TOML
	put "$d/cni/net.d/10-drlab.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "drlab-$C_NAME",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$d/cni/ipam",
        "ranges": [[{"subnet": "$C_POD_CIDR", "gateway": "$C_POD_GW"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
	put "$d/conf/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 (hybrid) host: see ../shared/LAB.md
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$C_CGROUP
oomScoreAdj: 0
containerRuntimeEndpoint: unix://$C_CTRD_SOCK
address: $C_NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
failSwapOn: false
podLogsDir: $d/pod-logs
volumePluginDir: $d/kubelet/volume-plugins
tlsCertFile: $d/pki/kubelet-serving.crt
tlsPrivateKeyFile: $d/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $d/pki/ca.crt}
authorization:
  mode: Webhook
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
resolvConf: $d/conf/resolv.conf
maxPods: 110
nodeStatusReportFrequency: 10s
YAML
	# No DNS in the lab (no CoreDNS, and the host's resolver is not reachable from pods):
	# point pods at a closed local port so lookups fail at once instead of timing out.
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' | put "$d/conf/resolv.conf"
	put "$d/conf/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $d/conf/kube-proxy.kubeconfig
mode: iptables
clusterCIDR: $C_POD_CIDR
hostnameOverride: $C_NODE
bindAddress: $C_NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
oomScoreAdj: 0
# Leave the host-global conntrack table size and timeouts alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
YAML
}
