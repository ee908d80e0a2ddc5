//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/test/lab"
)

// agentSlot is one of the standalone agents the PVC sync tests deploy into
// prod. The agent binds a port of prod's node (hostNetwork), so the tests
// that run side by side each take a slot of their own: its own namespace,
// name (and so ClusterRole) and port. A slot's namespace is fixed so that
// what a crashed run left in it is removed first.
type agentSlot struct {
	namespace, name string
	port            int32
}

// agentSlots holds the free slots, as many as go test's -parallel lets PVC
// sync tests run at once (hack/lab/lab.mk); a test waits for one. The
// ports are neither the deployed agent's (2222, metrics 2223) nor those the
// deployed tests set.
var agentSlots = func() chan agentSlot {
	slots := []agentSlot{{"drs-e2e-agent-1", "drs-e2e-agent-1", 2231}, {"drs-e2e-agent-2", "drs-e2e-agent-2", 2232}}
	c := make(chan agentSlot, len(slots))
	for _, s := range slots {
		c <- s
	}
	return c
}()

// takeAgentSlot takes a free agent slot and gives it back when the test
// ends, after the test's own cleanups (which remove its agent).
func takeAgentSlot(t *testing.T) agentSlot {
	t.Helper()
	s := <-agentSlots
	t.Cleanup(func() { agentSlots <- s })
	return s
}

// deployAgent renders the agent manifests (internal/agentdeploy) with the
// API-backed allow-list and waits for its pod on prod's node.
func (e *pvcSyncEnv) deployAgent(t *testing.T, hostKey keys.Secret, hostPub, authorized []byte) {
	t.Helper()
	removeAgent := func() {
		for _, args := range [][]string{
			{"delete", "namespace", e.agent.namespace, "--ignore-not-found", "--timeout=60s"},
			{"delete", "clusterrole,clusterrolebinding", e.agent.name, "--ignore-not-found"},
		} {
			if _, err := tryKubectl(e.prod, "", args...); err != nil {
				t.Logf("prod: remove agent: %v", err)
			}
		}
	}
	removeAgent() // what a crashed run left holds the node's port
	t.Cleanup(removeAgent)

	v := agentdeploy.Values{
		Name: e.agent.name, Namespace: e.agent.namespace, Image: dataplaneImage, PullPolicy: "Never",
		Port: int(e.agent.port), KubernetesAllowList: true, ShutdownGrace: 2 * time.Second,
		Resources: map[string]any{"requests": map[string]string{"cpu": "10m", "memory": "16Mi"}},
	}
	manifests, err := agentdeploy.Render(v)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := agentdeploy.RenderSecrets(v, agentdeploy.SecretData{HostKeyPEM: hostKey, HostKeyPub: hostPub, AuthorizedKeys: authorized})
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, e.prod, "", "create", "namespace", e.agent.namespace)
	kubectl(t, e.prod, string(secrets.Reveal()), "apply", "-f", "-")
	kubectl(t, e.prod, string(manifests), "apply", "-f", "-")
	if _, err := tryKubectl(e.prod, "", "-n", e.agent.namespace, "rollout", "status", "daemonset/"+e.agent.name, "--timeout=120s"); err != nil {
		desc, _ := tryKubectl(e.prod, "", "-n", e.agent.namespace, "describe", "pods")
		logs, _ := tryKubectl(e.prod, "", "-n", e.agent.namespace, "logs", "daemonset/"+e.agent.name)
		t.Fatalf("agent not ready: %v\n%s\n%s", err, desc, logs)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := tryKubectl(e.prod, "", "-n", e.agent.namespace, "logs", "daemonset/"+e.agent.name, "--tail=60")
			t.Logf("agent logs:\n%s", logs)
		}
	})
}

// makeTree fills the folder $1 with random files, nested and empty folders,
// a name with spaces, an owner-only file and symlinks (one pointing out of
// the volume, which must arrive as a symlink, not as what it points to).
const makeTree = `set -e
cd "$1"
mkdir -p a/b/c/deep empty "with space"
head -c 2097152 /dev/urandom > a/b/c/blob
head -c 300000 /dev/urandom > a/b/c/deep/mid
for i in $(seq 1 30); do head -c $((i * 1001)) /dev/urandom > a/small-$i; done
echo "hello from prod" > "with space/file name.txt"
: > a/empty-file
chmod 600 a/small-1
ln -s a/b/c/blob link-to-blob
ln -s /etc/hostname outside-link
`

// checksumTree prints every file's checksum and mode, every symlink's
// target and every folder's mode, sorted, for the folder $1.
const checksumTree = `set -e
cd "$1"
find . -type f -exec sha256sum {} + | sort -k2
find . -type f -printf 'F %m %s %p\n' | sort
find . -type l -printf 'L %p -> %l\n' | sort
find . -mindepth 1 -type d -printf 'D %m %p\n' | sort
`

const sourceManifests = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: rwo}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: rwx}
spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: cold}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + lab.ImageBase + `
    imagePullPolicy: Never
    command: [bash, -c, 'sleep infinity']
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: rwo}}]
---
apiVersion: v1
kind: Pod
metadata: {name: filler}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + lab.ImageBase + `
    imagePullPolicy: Never
    command: [bash, -c, 'sleep infinity']
    volumeMounts: [{name: rwx, mountPath: /rwx}, {name: cold, mountPath: /cold}]
  volumes:
  - {name: rwx, persistentVolumeClaim: {claimName: rwx}}
  - {name: cold, persistentVolumeClaim: {claimName: cold}}
`

// createSource makes the three PVCs, the app pod that keeps the RWO one
// mounted, and fills all three with data.
func (e *pvcSyncEnv) createSource(t *testing.T) {
	t.Helper()
	kubectl(t, e.prod, sourceManifests, "-n", e.srcNS, "apply", "-f", "-")
	waitReady(t, e.prod, e.srcNS, "app")
	waitReady(t, e.prod, e.srcNS, "filler")
	e.exec(t, e.prod, e.srcNS, "app", makeTree, "/data")
	e.exec(t, e.prod, e.srcNS, "filler", makeTree, "/rwx")
	e.exec(t, e.prod, e.srcNS, "filler", makeTree, "/cold")
}

// fillerChecksums reads the filler's volumes' checksums, then deletes the
// filler so the volumes are unmounted while they sync.
func (e *pvcSyncEnv) fillerChecksums(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		out[n] = e.sourceChecksums(t, "filler", "/"+n)
	}
	kubectl(t, e.prod, "", "-n", e.srcNS, "delete", "pod", "filler", "--wait=true", "--timeout=60s")
	return out
}

// fillPVC makes a 1 GiB-request PVC of the default class and a pod
// fill-<name> mounting it at /data, and runs script in it; the pod is left
// running.
func (e *pvcSyncEnv) fillPVC(t *testing.T, ns, name, script string) {
	t.Helper()
	kubectl(t, e.prod, claimManifest(name, "")+"---\n"+claimPod("fill-"+name, "", name, "sleep infinity", false), "-n", ns, "apply", "-f", "-")
	waitReady(t, e.prod, ns, "fill-"+name)
	e.exec(t, e.prod, ns, "fill-"+name, script)
}

// claimManifest is a 1 GiB ReadWriteOnce PVC of class ("" for the default).
func claimManifest(name, class string) string {
	spec := "{accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}"
	if class != "" {
		spec = fmt.Sprintf("{accessModes: [ReadWriteOnce], storageClassName: %s, resources: {requests: {storage: 1Gi}}}", class)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: %s}\nspec: %s\n", name, spec)
}

// claimPod is a pod of the lab's base image, labelled app=<app> unless app
// is empty, that mounts claim at /data and runs a bash script.
func claimPod(name, app, claim, script string, readOnly bool) string {
	labels := ""
	if app != "" {
		labels = fmt.Sprintf(", labels: {app: %s}", app)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s%[2]s}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %[3]s
    imagePullPolicy: Never
    command: [bash, -c, %[4]q]
    volumeMounts: [{name: data, mountPath: /data, readOnly: %[6]t}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: %[5]s, readOnly: %[6]t}}]
`, name, labels, lab.ImageBase, script, claim, readOnly)
}

// fillBig makes a PVC with size MiB of random data in 8 files, unmounted,
// and returns its checksums.
func (e *pvcSyncEnv) fillBig(t *testing.T, name string, mib int) string {
	t.Helper()
	e.fillPVC(t, e.srcNS, name, fmt.Sprintf(`set -e
		mkdir -p /data/part
		for i in $(seq 1 8); do head -c %d /dev/urandom > /data/part/chunk-$i; done`, mib<<20/8))
	sums := e.sourceChecksums(t, "fill-"+name, "/data")
	kubectl(t, e.prod, "", "-n", e.srcNS, "delete", "pod", "fill-"+name, "--wait=true", "--timeout=60s")
	return sums
}

func (e *pvcSyncEnv) sourceChecksums(t *testing.T, pod, dir string) string {
	t.Helper()
	return e.exec(t, e.prod, e.srcNS, pod, checksumTree, dir)
}

// drChecksums mounts the DR PVC read-only in a fresh pod and checksums it.
func (e *pvcSyncEnv) drChecksums(t *testing.T, pvc string) string {
	t.Helper()
	return e.drRun(t, pvc, checksumTree, "/data")
}

// drRun mounts a PVC of the DR namespace read-only at /data in a fresh pod
// and runs a bash script there.
func (e *pvcSyncEnv) drRun(t *testing.T, pvc, script string, args ...string) string {
	t.Helper()
	return e.drRunIn(t, e.dstNS, pvc, script, args...)
}

// drRunIn is drRun in namespace ns of the DR cluster.
func (e *pvcSyncEnv) drRunIn(t *testing.T, ns, pvc, script string, args ...string) string {
	t.Helper()
	pod := "check-" + pvc
	kubectl(t, e.dr, claimPod(pod, "", pvc, "sleep infinity", true), "-n", ns, "apply", "-f", "-")
	defer kubectl(t, e.dr, "", "-n", ns, "delete", "pod", pod, "--wait=true", "--timeout=60s")
	waitReady(t, e.dr, ns, pod)
	return e.exec(t, e.dr, ns, pod, script, args...)
}

// exec runs a bash script in a pod with args as $1...
func (e *pvcSyncEnv) exec(t *testing.T, c *lab.Cluster, ns, pod, script string, args ...string) string {
	t.Helper()
	return kubectl(t, c, "", append([]string{"-n", ns, "exec", pod, "--", "bash", "-c", script, "script"}, args...)...)
}
