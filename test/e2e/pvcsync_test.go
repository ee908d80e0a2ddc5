//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/worker"
)

// The data-plane image as deploy/ names it; the lab imports it into every node.
const (
	dataplaneImage = "dr-syncer/dataplane:dev"
)

// TestPVCSync runs the real PVCSync workflow in the lab: a real Temporal dev
// server, a real worker on the host with dr as the control cluster, the
// agent deployed into prod from internal/agentdeploy, real mount and sync
// pods, real rsync over SSH. It checks byte-identical copies of three kinds of PVC, a
// resync that moves only the changes, a cancel that leaves nothing behind,
// and a worker killed mid-transfer.
func TestPVCSync(t *testing.T) {
	t.Parallel() // beside the other PVC sync tests: see agentSlot
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
	agent          agentSlot
}

func setupPVCSync(t *testing.T) *pvcSyncEnv {
	t.Helper()
	l := lab.Attach(t)
	e := &pvcSyncEnv{prod: l.MustCluster(t, lab.Prod), dr: l.MustCluster(t, lab.DR), agent: takeAgentSlot(t)}
	var err error
	if e.prodCS, err = e.prod.Clientset(); err != nil {
		t.Fatal(err)
	}
	if e.drCS, err = e.dr.Clientset(); err != nil {
		t.Fatal(err)
	}
	e.controlKubecfg = e.dr.Kubeconfig

	// dr is also the control cluster: it holds the RemoteClusters and keys.
	applyCRDs(t, e.dr)
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
	// The in-process worker reads through this client, so it gets the
	// worker's rate limits: client-go's default 5 QPS, spent by the setup
	// here, made the first PVC step wait 0.2 s a request.
	control, err := ctrlclient.New(kube.WithClientLimits(rest.CopyConfig(e.dr.Config)), ctrlclient.Options{Scheme: kube.NewScheme()})
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
		mustCreate(t, control, e.remoteCluster(c.Name, e.controlNS))
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
		// run with the mount pods' allow-list on. BatchPods is the worker
		// binary's default.
		deps := worker.Dependencies{Clusters: kube.NewClusters(control, kube.KubeconfigPolicy{}), Control: control,
			Pods: pvcdata.PodSettings{AnyMountClient: true}, BatchPods: true}
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

// remoteCluster is the RemoteCluster name in namespace ns, its kubeconfig
// in the Secret <name>-kubeconfig. pvcSync stays disabled (no controller
// rolls out an agent here); its port is where the test's agent listens.
func (e *pvcSyncEnv) remoteCluster(name, ns string) *drv1.RemoteCluster {
	return &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: name + "-kubeconfig", Key: "kubeconfig"},
			PVCSync: &drv1.PVCSyncSpec{SSH: &drv1.SSHSpec{Port: e.agent.port}}}}
}

func mustCreate(t *testing.T, c ctrlclient.Client, obj ctrlclient.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}
