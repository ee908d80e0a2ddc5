//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// TestLabClusters checks the shape of the lab: every node Ready, a default
// StorageClass everywhere, and at least two classes in dr for class mapping.
func TestLabClusters(t *testing.T) {
	l := lab.Attach(t)
	l.MustCluster(t, lab.Prod)
	ctx := context.Background()
	for _, c := range l.Clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		node, err := cs.CoreV1().Nodes().Get(ctx, c.Node, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: get node: %v", c.Name, err)
		}
		if !nodeReady(node) {
			t.Errorf("%s: node %s not Ready (read %s/kubelet.log)", c.Name, c.Node, c.LogDir())
		}
		var ip string
		for _, a := range node.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
			}
		}
		if ip != c.NodeIP {
			t.Errorf("%s: node InternalIP %q, want %q", c.Name, ip, c.NodeIP)
		}
		classes, err := cs.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: list StorageClasses: %v", c.Name, err)
		}
		defaults := 0
		for _, sc := range classes.Items {
			if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
				defaults++
			}
		}
		if defaults != 1 {
			t.Errorf("%s: %d default StorageClasses, want 1", c.Name, defaults)
		}
		if c.Name == lab.DR && len(classes.Items) < 2 {
			t.Errorf("dr: %d StorageClasses, want at least 2 for class mapping", len(classes.Items))
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

const sourceManifest = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: src}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: source, labels: {app: source}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + lab.ImageBase + `
    imagePullPolicy: Never
    command:
    - bash
    - -ec
    - |
      mkdir -p /data/a/b /data/empty-dir "/data/with space"
      head -c 3145728 /dev/urandom > /data/a/b/blob
      for i in $(seq 1 40); do head -c $((i * 517)) /dev/urandom > /data/a/small-$i; done
      echo "hello from prod" > "/data/with space/file name.txt"
      ln -s a/b/blob /data/link-to-blob
      printf 'reverse lookup = no\n[data]\n path = /data\n read only = yes\n use chroot = no\n uid = root\n gid = root\n' > /tmp/rsyncd.conf
      echo "source: wrote $(find /data -type f | wc -l) files"
      exec rsync --daemon --no-detach --config=/tmp/rsyncd.conf --port=873 --log-file=/dev/stdout
    ports: [{containerPort: 873}]
    readinessProbe:
      tcpSocket: {port: 873}
      periodSeconds: 1
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: src}}]
---
apiVersion: v1
kind: Service
metadata: {name: source}
spec:
  type: NodePort
  selector: {app: source}
  ports: [{port: 873, targetPort: 873}]
`

// The dr side uses the other class (WaitForFirstConsumer) and ReadWriteMany.
const sinkManifest = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: dst}
spec:
  storageClassName: fast
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: sink}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + lab.ImageBase + `
    imagePullPolicy: Never
    command:
    - bash
    - -ec
    - |
      printf 'reverse lookup = no\n[data]\n path = /data\n read only = yes\n use chroot = no\n' > /tmp/rsyncd.conf
      echo "sink: ready"
      exec rsync --daemon --no-detach --config=/tmp/rsyncd.conf --port=873 --log-file=/dev/stdout
    readinessProbe:
      tcpSocket: {port: 873}
      periodSeconds: 1
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: dst}}]
`

// checksumScript lists every file's sha256 and every symlink's target, sorted, so
// two trees compare as text.
const checksumScript = `cd /data && find . -type f -print0 | sort -z | xargs -0 sha256sum && find . -type l -printf '%p -> %l\n' | sort && find . -type d | sort`

// TestLabCrossClusterRsync: a pod in prod writes files into a dynamically
// provisioned PVC; a pod in dr pulls them over the network (rsync daemon behind a
// NodePort in prod) into its own PVC; the checksums match. Along the way it
// checks exec and logs in both clusters and reachability of pod and node IPs
// in both directions.
func TestLabCrossClusterRsync(t *testing.T) {
	l := lab.Attach(t)
	prod, dr := l.MustCluster(t, lab.Prod), l.MustCluster(t, lab.DR)
	ns := testNamespace(t, "lab-rsync", prod, dr)

	kubectl(t, prod, sourceManifest, "-n", ns, "apply", "-f", "-")
	kubectl(t, dr, sinkManifest, "-n", ns, "apply", "-f", "-")
	t.Logf("pod create→Ready (incl. PVC provisioning and writing 3 MiB): prod %v", waitReady(t, prod, ns, "source"))
	t.Logf("pod create→Ready (incl. WaitForFirstConsumer PVC): dr %v", waitReady(t, dr, ns, "sink"))

	// The data really is on the provisioned hostPath volume in prod's lab folder.
	pv := strings.TrimSpace(kubectl(t, prod, "", "-n", ns, "get", "pvc", "src", "-o", "jsonpath={.spec.volumeName}"))
	if _, err := os.Stat(filepath.Join(prod.VolumesDir, pv, "a", "b", "blob")); err != nil {
		t.Errorf("prod: data not on the provisioned volume: %v", err)
	}
	modes := kubectl(t, dr, "", "-n", ns, "get", "pvc", "dst", "-o", "jsonpath={.status.accessModes} {.spec.storageClassName}")
	if !strings.Contains(modes, "ReadWriteMany") || !strings.HasSuffix(strings.TrimSpace(modes), "fast") {
		t.Errorf("dr: PVC dst bound as %q, want ReadWriteMany of class fast", modes)
	}

	nodePort := strings.TrimSpace(kubectl(t, prod, "", "-n", ns, "get", "svc", "source", "-o", "jsonpath={.spec.ports[0].nodePort}"))
	prodPodIP := strings.TrimSpace(kubectl(t, prod, "", "-n", ns, "get", "pod", "source", "-o", "jsonpath={.status.podIP}"))
	drPodIP := strings.TrimSpace(kubectl(t, dr, "", "-n", ns, "get", "pod", "sink", "-o", "jsonpath={.status.podIP}"))

	// dr → prod NodePort: the pull itself.
	// kube-proxy programs the NodePort a moment after the endpoint is ready: retry briefly.
	var out string
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		start := time.Now()
		out, err = tryKubectl(dr, "", "-n", ns, "exec", "sink", "--", "rsync", "-a", "--stats",
			"rsync://"+prod.NodeIP+":"+nodePort+"/data/", "/data/")
		if err == nil {
			t.Logf("rsync dr ← prod NodePort %s:%s took %v:\n%s", prod.NodeIP, nodePort, time.Since(start), out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsync dr ← prod NodePort %s:%s: %v (read %s and %s)", prod.NodeIP, nodePort, err,
				filepath.Join(prod.LogDir(), "kube-proxy.log"), filepath.Join(dr.LogDir(), "kubelet.log"))
		}
	}

	// Pod IPs in both directions, and a node IP across clusters.
	if out := kubectl(t, dr, "", "-n", ns, "exec", "sink", "--", "rsync", "rsync://"+prodPodIP+"/"); !strings.Contains(out, "data") {
		t.Errorf("dr → prod pod IP %s: rsync module list %q lacks data", prodPodIP, out)
	}
	if out := kubectl(t, prod, "", "-n", ns, "exec", "source", "--", "rsync", "rsync://"+drPodIP+"/"); !strings.Contains(out, "data") {
		t.Errorf("prod → dr pod IP %s: rsync module list %q lacks data", drPodIP, out)
	}
	kubectl(t, prod, "", "-n", ns, "exec", "source", "--", "timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/"+dr.NodeIP+"/6443")

	// Same bytes on both sides, computed in the pods.
	src := kubectl(t, prod, "", "-n", ns, "exec", "source", "--", "bash", "-c", checksumScript)
	dst := kubectl(t, dr, "", "-n", ns, "exec", "sink", "--", "bash", "-c", checksumScript)
	if n := strings.Count(src, "\n"); n < 42 {
		t.Fatalf("prod: checksum list has %d lines, want the 42+ files written:\n%s", n, src)
	}
	if src != dst {
		t.Fatalf("checksums differ\nprod:\n%s\ndr:\n%s", src, dst)
	}

	// kubectl logs in both clusters.
	if logs := kubectl(t, prod, "", "-n", ns, "logs", "source"); !strings.Contains(logs, "source: wrote 42 files") {
		t.Errorf("prod: logs of source lack the write report:\n%s", logs)
	}
	if logs := kubectl(t, dr, "", "-n", ns, "logs", "sink"); !strings.Contains(logs, "sink: ready") {
		t.Errorf("dr: logs of sink lack the ready line:\n%s", logs)
	}
}

// TestLabProvisionerReclaim: deleting a claim of a Delete class removes the PV and
// its directory.
func TestLabProvisionerReclaim(t *testing.T) {
	l := lab.Attach(t)
	dr := l.MustCluster(t, lab.DR)
	ns := testNamespace(t, "lab-reclaim", dr)
	kubectl(t, dr, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: scratch}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
`, "-n", ns, "apply", "-f", "-")
	kubectl(t, dr, "", "-n", ns, "wait", "--for=jsonpath={.status.phase}=Bound", "pvc/scratch", "--timeout=60s")
	pv := strings.TrimSpace(kubectl(t, dr, "", "-n", ns, "get", "pvc", "scratch", "-o", "jsonpath={.spec.volumeName}"))
	dir := filepath.Join(dr.VolumesDir, pv)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("volume dir of %s: %v", pv, err)
	}
	kubectl(t, dr, "", "-n", ns, "delete", "pvc", "scratch", "--wait=true", "--timeout=60s")
	if _, err := tryKubectl(dr, "", "wait", "--for=delete", "pv/"+pv, "--timeout=60s"); err != nil {
		t.Fatalf("PV %s not deleted after its claim (read %s/provisioner.log): %v", pv, dr.LogDir(), err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("volume dir %s still there after reclaim: %v", dir, err)
	}
}
