//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/worker"
)

// The data-plane image as deploy/ names it; the lab imports it into every node.
const (
	dataplaneImage = "dr-syncer/dataplane:dev"
	agentPort      = 2222
	// The agent binds the node's port 2222, so one agent runs at a time;
	// its namespace is fixed so a crashed run's agent is removed first.
	agentNamespace = "drs-e2e-agent"
	agentName      = "drs-e2e-agent"
)

// TestPVCSync runs the real PVCSync workflow in the lab: a real Temporal dev
// server, a real worker on the host with dr as the control cluster, the
// agent deployed into prod from internal/agentdeploy, real mount and sync
// pods, real rsync over SSH. It checks byte-identical copies of three kinds of PVC, a
// resync that moves only the changes, a cancel that leaves nothing behind,
// and a worker killed mid-transfer.
func TestPVCSync(t *testing.T) {
	e := setupPVCSync(t)

	var first = map[string]contract.TransferResult{}

	t.Run("FullSync", func(t *testing.T) {
		want := map[string]string{}
		want["rwo"] = e.sourceChecksums(t, "app", "/data")
		filler := e.fillerChecksums(t, "rwx", "cold")
		want["rwx"], want["cold"] = filler["rwx"], filler["cold"]

		// rwo alone first, to measure the overhead of one small PVC's sync;
		// then the other two at once.
		runs := map[string]client.WorkflowRun{}
		runs["rwo"] = e.startSync(t, "rwo", e.input("rwo", rsyncargs.Config{}), e.tp.TaskQueue)
		watch, stopWatch := context.WithTimeout(context.Background(), 2*time.Minute)
		defer stopWatch()
		mover := make(chan moverTimes, 1)
		go func() { mover <- e.followMoverTimes(watch, runs["rwo"].GetID()) }()
		check := func(n string, res contract.PVCSyncResult) {
			first[n] = res.Transfer
			t.Logf("%s: first sync moved %d of %d bytes (%d files) in %.1fs; nodes %s → %s",
				n, res.Transfer.Stats.TotalTransferredFileSize, res.Transfer.Stats.TotalFileSize,
				res.Transfer.Stats.RegularFilesTransferred, res.Transfer.DurationSeconds,
				res.Nodes.Source.Node, res.Nodes.Target.Node)
			if res.Target.StorageClass != "fast" {
				t.Errorf("%s: DR PVC class %q, want the mapped class fast", n, res.Target.StorageClass)
			}
			if got := e.drChecksums(t, n); got != want[n] {
				t.Errorf("%s: DR copy differs from the source\nsource:\n%s\ndr:\n%s", n, want[n], got)
			}
		}
		res := e.waitSync(t, runs["rwo"])
		stopWatch()
		e.reportOverhead(t, runs["rwo"], <-mover)
		check("rwo", res)
		for _, n := range []string{"rwx", "cold"} {
			runs[n] = e.startSync(t, n, e.input(n, rsyncargs.Config{}), e.tp.TaskQueue)
		}
		for _, n := range []string{"rwx", "cold"} {
			check(n, e.waitSync(t, runs[n]))
		}
		e.assertNothingLeft(t)
	})

	t.Run("Resync", func(t *testing.T) {
		base, ok := first["rwo"]
		if !ok {
			t.Fatal("FullSync did not sync rwo")
		}
		e.exec(t, e.prod, e.srcNS, "app", `cd /data
			head -c 100000 /dev/urandom >> a/small-3
			head -c 50000 /dev/urandom > a/new-file
			rm -f a/small-7 "with space/file name.txt"
			rm -rf a/b/c/deep && mkdir -p fresh/dir && echo fresh > fresh/dir/f
			ln -sfn a/new-file link-to-new`)
		want := e.sourceChecksums(t, "app", "/data")
		res := e.waitSync(t, e.startSync(t, "rwo", e.input("rwo", rsyncargs.Config{}), e.tp.TaskQueue))
		if got := e.drChecksums(t, "rwo"); got != want {
			t.Errorf("rwo: DR copy differs after resync\nsource:\n%s\ndr:\n%s", want, got)
		}
		moved, before := res.Transfer.Stats.TotalTransferredFileSize, base.Stats.TotalTransferredFileSize
		t.Logf("resync moved %d bytes (literal %d, matched %d, sent %d) vs %d on the first sync",
			moved, res.Transfer.Stats.LiteralData, res.Transfer.Stats.MatchedData, res.Transfer.Stats.BytesReceived, before)
		if moved*4 > before {
			t.Errorf("resync moved %d bytes, want far fewer than the first sync's %d", moved, before)
		}
		if res.Transfer.Stats.LiteralData >= base.Stats.LiteralData/4 {
			t.Errorf("resync sent %d literal bytes, want far fewer than the first sync's %d", res.Transfer.Stats.LiteralData, base.Stats.LiteralData)
		}
		e.assertNothingLeft(t)
	})

	t.Run("Cancel", func(t *testing.T) {
		e.fillBig(t, "big-cancel", 48)
		// 1 MiB/s: the 48 MiB transfer would take most of a minute.
		run := e.startSync(t, "big-cancel", e.input("big-cancel", rsyncargs.Config{BandwidthLimitKiB: 1024}), e.tp.TaskQueue)
		e.waitBytesMoved(t, run)
		cancelled := time.Now()
		if err := e.tp.Client.CancelWorkflow(context.Background(), run.GetID(), run.GetRunID()); err != nil {
			t.Fatalf("cancel %s: %v", run.GetID(), err)
		}
		deadline := cancelled.Add(30 * time.Second)
		for {
			left := e.leftovers(t)
			if len(left) == 0 {
				t.Logf("cancel: nothing left in either cluster %.1fs after the cancel request", time.Since(cancelled).Seconds())
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("30s after the cancel these remain: %v", left)
			}
			time.Sleep(500 * time.Millisecond)
		}
		var res contract.PVCSyncResult
		err := run.Get(context.Background(), &res)
		var canceled *temporal.CanceledError
		if !errors.As(err, &canceled) {
			t.Errorf("cancelled sync ended with %v, want a CanceledError", err)
		}
	})

	t.Run("WorkerKill", func(t *testing.T) {
		// A task queue only the out-of-process worker polls, so the kill
		// really takes the transfer's worker away.
		queue := fmt.Sprintf("drs-e2e-kill-%06x", rand.IntN(1<<24))
		bin := buildWorker(t)
		want := e.fillBig(t, "big-kill", 32)
		w := e.startWorkerProcess(t, bin, queue)
		// 2 MiB/s: about 16 s, long enough to kill the worker in the middle.
		run := e.startSync(t, "big-kill", e.input("big-kill", rsyncargs.Config{BandwidthLimitKiB: 2048}), queue)
		e.waitBytesMoved(t, run)
		if err := w.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 worker: %v", err)
		}
		_ = w.Wait()
		t.Logf("worker killed mid-transfer")
		e.startWorkerProcess(t, bin, queue)
		res := e.waitSync(t, run)
		t.Logf("after the kill: transfer resumed from %d bytes, moved %d of %d", res.Transfer.ResumedFromBytes,
			res.Transfer.Stats.TotalTransferredFileSize, res.Transfer.Stats.TotalFileSize)
		if got := e.drChecksums(t, "big-kill"); got != want {
			t.Errorf("big-kill: DR copy differs after a worker kill\nsource:\n%s\ndr:\n%s", want, got)
		}
		e.assertNothingLeft(t)
	})
}

// pvcSyncEnv is the lab, Temporal and worker a PVCSync test runs against.
type pvcSyncEnv struct {
	prod, dr       *lab.Cluster
	prodCS, drCS   kubernetes.Interface
	tp             *testenv.Temporal
	controlNS      string
	srcNS, dstNS   string
	clusterKey     contract.SecretRef
	agentHostKey   contract.SecretRef
	controlKubecfg string
}

func setupPVCSync(t *testing.T) *pvcSyncEnv {
	t.Helper()
	l := lab.Attach(t)
	e := &pvcSyncEnv{prod: l.MustCluster(t, lab.Prod), dr: l.MustCluster(t, lab.DR)}
	var err error
	if e.prodCS, err = e.prod.Clientset(); err != nil {
		t.Fatal(err)
	}
	if e.drCS, err = e.dr.Clientset(); err != nil {
		t.Fatal(err)
	}
	e.controlKubecfg = e.dr.Kubeconfig

	// dr is also the control cluster: it holds the RemoteClusters and keys.
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, e.dr, "", "apply", "-f", filepath.Join(root, "deploy", "crd"))
	kubectl(t, e.dr, "", "wait", "--for=condition=Established", "--timeout=60s", "crd/remoteclusters.dr-syncer.io")
	e.controlNS = testNamespace(t, "drs-e2e", e.dr)
	e.srcNS = testNamespace(t, "drs-e2e-src", e.prod)
	e.dstNS = fmt.Sprintf("drs-e2e-dst-%06x", rand.IntN(1<<24)) // made by the workflow
	t.Cleanup(func() {
		if _, err := tryKubectl(e.dr, "", "delete", "namespace", e.dstNS, "--ignore-not-found", "--wait=false"); err != nil {
			t.Logf("dr: delete namespace %s: %v", e.dstNS, err)
		}
	})

	pair, err := keys.GenerateClusterPairKey("dr-syncer prod->dr e2e")
	if err != nil {
		t.Fatal(err)
	}
	hostKey, hostPub, err := keys.GenerateHostKey("dr-syncer agent e2e")
	if err != nil {
		t.Fatal(err)
	}
	control, err := ctrlclient.New(e.dr.Config, ctrlclient.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The names a Replication's plan finds the keys under: each PVC step
	// checks its input against the Replication it names.
	e.clusterKey = contract.SecretRef{Namespace: e.controlNS, Name: contract.ClusterKeySecretName(lab.Prod, lab.DR)}
	e.agentHostKey = contract.SecretRef{Namespace: e.controlNS, Name: "prod-agent-host-key"}
	mustCreate(t, control, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: e.clusterKey.Name, Namespace: e.controlNS},
		Data: map[string][]byte{kube.SecretKeyClusterKey: pair.PrivateKey.Reveal()}})
	mustCreate(t, control, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: e.agentHostKey.Name, Namespace: e.controlNS},
		Data: map[string][]byte{kube.SecretKeyAgentHostKey: hostPub}})
	for _, c := range []*lab.Cluster{e.prod, e.dr} {
		kubeconfig, err := os.ReadFile(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, control, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.Name + "-kubeconfig", Namespace: e.controlNS},
			Data: map[string][]byte{"kubeconfig": kubeconfig}})
		mustCreate(t, control, &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: e.controlNS},
			Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: c.Name + "-kubeconfig", Key: "kubeconfig"}}})
	}

	e.deployAgent(t, hostKey, hostPub, pair.AuthorizedKey)
	e.createSource(t)
	e.createReplication(t)

	e.tp = testenv.StartTemporal(t)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		// This agent lives in its own namespace, where mount pods do not
		// look for agent addresses; the deployed tests (TestLabDeployedSyncNow)
		// run with the mount pods' allow-list on.
		deps := worker.Dependencies{Clusters: kube.NewClusters(control, kube.KubeconfigPolicy{}), Control: control,
			Pods: pvcdata.PodSettings{AnyMountClient: true}}
		done <- worker.Run(wctx, e.tp.Client, deps,
			worker.Options{TaskQueue: e.tp.TaskQueue})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return e
}

func mustCreate(t *testing.T, c ctrlclient.Client, obj ctrlclient.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

// deployAgent renders the agent manifests (internal/agentdeploy) with the
// API-backed allow-list and waits for its pod on prod's node.
func (e *pvcSyncEnv) deployAgent(t *testing.T, hostKey keys.Secret, hostPub, authorized []byte) {
	t.Helper()
	removeAgent := func() {
		for _, args := range [][]string{
			{"delete", "namespace", agentNamespace, "--ignore-not-found", "--timeout=60s"},
			{"delete", "clusterrole,clusterrolebinding", agentName, "--ignore-not-found"},
		} {
			if _, err := tryKubectl(e.prod, "", args...); err != nil {
				t.Logf("prod: remove agent: %v", err)
			}
		}
	}
	removeAgent() // what a crashed run left holds the node's port
	t.Cleanup(removeAgent)

	v := agentdeploy.Values{
		Name: agentName, Namespace: agentNamespace, Image: dataplaneImage, PullPolicy: "Never",
		Port: agentPort, KubernetesAllowList: true, ShutdownGrace: 2 * time.Second,
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
	kubectl(t, e.prod, "", "create", "namespace", agentNamespace)
	kubectl(t, e.prod, string(secrets.Reveal()), "apply", "-f", "-")
	kubectl(t, e.prod, string(manifests), "apply", "-f", "-")
	if _, err := tryKubectl(e.prod, "", "-n", agentNamespace, "rollout", "status", "daemonset/"+agentName, "--timeout=120s"); err != nil {
		desc, _ := tryKubectl(e.prod, "", "-n", agentNamespace, "describe", "pods")
		logs, _ := tryKubectl(e.prod, "", "-n", agentNamespace, "logs", "daemonset/"+agentName)
		t.Fatalf("agent not ready: %v\n%s\n%s", err, desc, logs)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := tryKubectl(e.prod, "", "-n", agentNamespace, "logs", "daemonset/"+agentName, "--tail=60")
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

// input is the PVCSync input for the source PVC name into dr, mapping the
// default class to dr's other class.
func (e *pvcSyncEnv) input(name string, data rsyncargs.Config) contract.PVCSyncInput {
	maxRetries := int32(3)
	if data.Timeout == 0 {
		data.Timeout = rsyncargs.Duration(10 * time.Minute) // what the resolver defaults for a plan
	}
	return contract.PVCSyncInput{
		Replication:          e.replication(),
		Source:               contract.PVCRef{Cluster: contract.ClusterRef{Namespace: e.controlNS, Name: lab.Prod}, Namespace: e.srcNS, Name: name},
		Destination:          contract.ClusterRef{Namespace: e.controlNS, Name: lab.DR},
		DestinationNamespace: e.dstNS,
		CreateNamespace:      true,
		StorageClassMappings: map[string]string{"standard": "fast"},
		DataSync:             data,
		Image:                contract.Image{Reference: drv1.DefaultDataPlaneImage, PullPolicy: drv1.DefaultPullPolicy}, // the plan's
		AgentPort:            agentPort,
		ClusterKey:           e.clusterKey,
		AgentHostKey:         e.agentHostKey,
		Retry:                contract.RetrySettings{MaxRetries: maxRetries, InitialBackoff: "1s", MaxBackoff: "5s", BackoffMultiplier: 200},
	}
}

func (e *pvcSyncEnv) startSync(t *testing.T, name string, in contract.PVCSyncInput, queue string) client.WorkflowRun {
	t.Helper()
	run, err := e.tp.Client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID:                       contract.PVCSyncWorkflowID(lab.Prod, e.srcNS, name),
		TaskQueue:                queue,
		WorkflowExecutionTimeout: 4 * time.Minute,
	}, contract.PVCSyncName, in)
	if err != nil {
		t.Fatalf("start PVCSync of %s: %v", name, err)
	}
	return run
}

func (e *pvcSyncEnv) waitSync(t *testing.T, run client.WorkflowRun) contract.PVCSyncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res contract.PVCSyncResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("PVCSync %s failed: %v", run.GetID(), err)
	}
	return res
}

// waitBytesMoved waits until the sync pod of run's operation reports that
// bytes arrived, and returns when its mover said so. It reads the mover's
// JSON progress lines from the pod's log: the Transfer activity's
// heartbeats reach the server only every 0.8 × its heartbeat timeout.
func (e *pvcSyncEnv) waitBytesMoved(t *testing.T, run client.WorkflowRun) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	at, bytes, err := e.firstBytes(ctx, run.GetID())
	if err != nil {
		t.Fatalf("%s: no bytes moved: %v", run.GetID(), err)
	}
	t.Logf("%s: mover reported %d bytes moved", run.GetID(), bytes)
	return at
}

// firstBytes polls the logs of the operation's sync pod in DR for the first
// progress line with bytes done, until ctx ends.
func (e *pvcSyncEnv) firstBytes(ctx context.Context, workflowID string) (time.Time, int64, error) {
	for {
		if m := e.moverLog(ctx, workflowID); !m.firstByte.IsZero() {
			return m.firstByte, m.bytes, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, 0, ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// moverTimes is what the mover's JSON log says about when it ran.
type moverTimes struct {
	start, firstByte, end time.Time
	bytes                 int64
}

// followMoverTimes polls the operation's sync pod log until the mover's
// summary appears (or ctx ends) and returns the last state seen.
func (e *pvcSyncEnv) followMoverTimes(ctx context.Context, workflowID string) moverTimes {
	var last moverTimes
	for {
		if m := e.moverLog(ctx, workflowID); !m.end.IsZero() || !m.firstByte.IsZero() {
			last = m
			if !m.end.IsZero() {
				return m
			}
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// moverLog reads the JSON lines of the operation's sync pod once.
func (e *pvcSyncEnv) moverLog(ctx context.Context, workflowID string) moverTimes {
	var m moverTimes
	selector := kube.LabelOperation + "=" + kube.OperationID(workflowID) + "," + kube.LabelRole + "=sync"
	pods, err := e.drCS.CoreV1().Pods(e.dstNS).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return m
	}
	for _, p := range pods.Items {
		raw, err := e.drCS.CoreV1().Pods(e.dstNS).GetLogs(p.Name, &corev1.PodLogOptions{Container: "mover"}).DoRaw(ctx)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n") {
			var ev progress.Event
			if json.Unmarshal([]byte(line), &ev) != nil {
				continue
			}
			switch {
			case ev.Type == progress.TypeProgress && ev.Progress != nil && ev.Progress.BytesDone > 0 && m.firstByte.IsZero():
				m.firstByte, m.bytes = ev.Time, ev.Progress.BytesDone
			case ev.Type == progress.TypeSummary && ev.Summary != nil:
				m.end = ev.Time
				m.start = ev.Time.Add(-time.Duration(ev.Summary.DurationSeconds * float64(time.Second)))
			}
		}
	}
	return m
}

// reportOverhead logs, from a finished run's history, how long it took from
// the workflow start to the Transfer activity's start, and to the end.
func (e *pvcSyncEnv) reportOverhead(t *testing.T, run client.WorkflowRun, mover moverTimes) {
	t.Helper()
	it := e.tp.Client.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var start, transferStarted, transferDone, end time.Time
	transferScheduled := int64(-1)
	events := 0
	// scheduled event ID → activity type, for the per-step timeline
	activityTypes := map[int64]string{}
	var timeline []string
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events++
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			start = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			name := ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			activityTypes[ev.GetEventId()] = name
			timeline = append(timeline, fmt.Sprintf("%.2f scheduled %s", at.Sub(start).Seconds(), name))
			if name == "Transfer" {
				transferScheduled = ev.GetEventId()
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId() == transferScheduled {
				transferStarted = at
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			scheduled := ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
			timeline = append(timeline, fmt.Sprintf("%.2f completed %s", at.Sub(start).Seconds(), activityTypes[scheduled]))
			if scheduled == transferScheduled {
				transferDone = at
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			end = at
		}
	}
	since := func(at time.Time) string {
		if at.IsZero() {
			return "(not in the mover's log)"
		}
		return fmt.Sprintf("%.2fs", at.Sub(start).Seconds())
	}
	// The mover's first progress line comes after a second of transfer; a
	// small PVC is done before, so its first byte lies between the mover's
	// start and its end.
	t.Logf("overhead (%s, small PVC): start → Transfer activity started %.2fs, → mover started %s, → first progress line with bytes %s, → mover done (all bytes moved) %s, → Transfer done %.2fs, → workflow done %.2fs; %d history events",
		run.GetID(), transferStarted.Sub(start).Seconds(), since(mover.start), since(mover.firstByte), since(mover.end),
		transferDone.Sub(start).Seconds(), end.Sub(start).Seconds(), events)
	t.Logf("overhead timeline (s since start): %s", strings.Join(timeline, "; "))
}

// leftovers lists the mount pods, sync pods, per-operation Secrets,
// temporary PVCs and VolumeSnapshots in the test's namespaces of either
// cluster.
func (e *pvcSyncEnv) leftovers(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	opts := metav1.ListOptions{LabelSelector: kube.LabelOperation}
	var left []string
	for _, side := range []struct {
		name string
		cs   kubernetes.Interface
		ns   string
	}{{"prod", e.prodCS, e.srcNS}, {"dr", e.drCS, e.dstNS}} {
		pods, err := side.cs.CoreV1().Pods(side.ns).List(ctx, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			left = append(left, fmt.Sprintf("%s pod %s/%s (%s)", side.name, p.Namespace, p.Name, p.Status.Phase))
		}
		secrets, err := side.cs.CoreV1().Secrets(side.ns).List(ctx, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for _, s := range secrets.Items {
			left = append(left, fmt.Sprintf("%s secret %s/%s", side.name, s.Namespace, s.Name))
		}
		left = append(left, e.pointInTimeLeftovers(t, side.name, side.ns)...)
	}
	return left
}

func (e *pvcSyncEnv) assertNothingLeft(t *testing.T) {
	t.Helper()
	if left := e.leftovers(t); len(left) > 0 {
		t.Errorf("after the sync these remain: %v", left)
	}
}

// buildWorker builds ./cmd/worker for the worker-kill test.
func buildWorker(t *testing.T) string { return buildCommand(t, "worker") }

// buildCommand builds ./cmd/NAME of this checkout and returns its path.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// startWorkerProcess runs the worker binary against the control cluster and
// the test's Temporal; the test's end kills it if it still runs.
func (e *pvcSyncEnv) startWorkerProcess(t *testing.T, bin, queue string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "worker.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--kubeconfig", e.controlKubecfg, "--temporal-address", e.tp.Address, "--mount-pod-any-client",
		"--temporal-namespace", e.tp.Namespace, "--task-queue", queue, "--metrics-addr", "", "--log-format", "console")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			waited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
			}
		}
		_ = logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("worker log:\n%s", tail(string(out), 40))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
