//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
)

// fanOut is a namespace of n PVCs of mib MiB each in prod, and a real
// Replication of it (resourceTypes [persistentvolumeclaims], syncData,
// concurrentSyncs) in a control namespace of its own: what the scale
// benchmark and the two-worker test run.
type fanOut struct {
	e            *pvcSyncEnv
	n, mib       int
	srcNS, dstNS string
	ctlNS        string
	rep          *drv1.Replication
	// sums are the sha256 of each PVC's blob, by PVC name.
	sums map[string]string
	// started, when set, hears of each run right after it starts.
	started func(runID string)
	// trigger names the run (ReplicationWorkflowID); "fan-out" when empty.
	trigger string
}

// newFanOut fills the PVCs (ten per filler pod, which then goes) and
// creates the Replication; everything goes when t ends.
func newFanOut(t *testing.T, e *pvcSyncEnv, n, mib int, concurrentSyncs int32) *fanOut {
	const perPod = 10
	f := &fanOut{e: e, n: n, mib: mib, sums: map[string]string{}, srcNS: testNamespace(t, "drs-fan-src", e.prod),
		dstNS: fmt.Sprintf("drs-fan-dst-%06x", rand.IntN(1<<24))}
	t.Cleanup(func() {
		if _, err := tryKubectl(e.dr, "", "delete", "namespace", f.dstNS, "--ignore-not-found", "--wait=false"); err != nil {
			t.Logf("dr: delete namespace %s: %v", f.dstNS, err)
		}
	})
	fillStart := time.Now()
	for p := 0; p*perPod < n; p++ {
		var pvcs, mounts, vols strings.Builder
		for i := p * perPod; i < min((p+1)*perPod, n); i++ {
			fmt.Fprintf(&pvcs, "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: %s}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n", f.pvc(i))
			fmt.Fprintf(&mounts, "    - {name: v%02d, mountPath: /d/%02d}\n", i, i)
			fmt.Fprintf(&vols, "  - {name: v%02d, persistentVolumeClaim: {claimName: %s}}\n", i, f.pvc(i))
		}
		kubectl(t, e.prod, fmt.Sprintf(`%s---
apiVersion: v1
kind: Pod
metadata: {name: fill-%d}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: Never
    command: [bash, -c, 'sleep infinity']
    volumeMounts:
%s  volumes:
%s`, pvcs.String(), p, lab.ImageBase, mounts.String(), vols.String()), "-n", f.srcNS, "apply", "-f", "-")
	}
	for p := 0; p*perPod < n; p++ {
		pod := fmt.Sprintf("fill-%d", p)
		waitReady(t, e.prod, f.srcNS, pod)
		out := e.exec(t, e.prod, f.srcNS, pod, fmt.Sprintf(`set -e; for d in /d/*; do head -c %d /dev/urandom > $d/blob; echo "data-$(basename $d) $(sha256sum < $d/blob)"; done`, mib<<20))
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if fields := strings.Fields(line); len(fields) >= 2 {
				f.sums[fields[0]] = fields[1]
			}
		}
	}
	kubectl(t, e.prod, "", "-n", f.srcNS, "delete", "pod", "--all", "--wait=true", "--timeout=120s")
	t.Logf("fan-out: %d PVCs × %d MiB filled in %.1fs", n, mib, time.Since(fillStart).Seconds())

	var control ctrlclient.Client
	control, f.ctlNS = scaleControl(t, e)
	if limit := 2 * concurrentSyncs; limit > drv1.DefaultGlobalConcurrencyLimit {
		// concurrentSyncs, not the source cluster's default bound, is what
		// a run of this many syncs at once measures. Twice it, as the
		// README's Sizing advises: a staged batch's syncs hold their
		// permits while the batch before them moves data.
		kubectl(t, e.prod, "", "-n", f.ctlNS, "patch", "remotecluster", lab.Prod, "--type=merge",
			"-p", fmt.Sprintf(`{"spec":{"pvcSync":{"globalConcurrencyLimit":%d}}}`, limit))
	}
	yes := true
	maxRetries := int32(3)
	f.rep = &drv1.Replication{
		ObjectMeta: metav1.ObjectMeta{Name: "fan-out", Namespace: f.ctlNS},
		Spec: drv1.ReplicationSpec{
			SourceCluster: lab.Prod, DestinationCluster: lab.DR,
			SourceNamespace: f.srcNS, DestinationNamespace: f.dstNS,
			NamespaceConfig: &drv1.NamespaceConfig{CreateNamespace: &yes},
			// Manual and paused: a controller running in the lab (another
			// engineer's) never starts a run of it; the test starts the run.
			ReplicationMode: drv1.ModeManual, Paused: true,
			ResourceTypes: []string{"persistentvolumeclaims"},
			PVCConfig: &drv1.PVCConfig{
				SyncData:             true,
				StorageClassMappings: []drv1.Mapping{{From: "standard", To: "fast"}},
				DataSyncConfig:       &drv1.DataSyncConfig{ConcurrentSyncs: concurrentSyncs},
			},
			RetryConfig: &drv1.RetryConfig{MaxRetries: &maxRetries, InitialBackoff: "1s", MaxBackoff: "5s"},
		},
	}
	mustCreate(t, control, f.rep)
	// A dr-syncer controller running in the lab may have put its finalizer
	// on the Replication; drop it so the namespace can go.
	t.Cleanup(func() {
		for _, args := range [][]string{
			{"-n", f.ctlNS, "patch", "replication", f.rep.Name, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`},
			{"-n", f.ctlNS, "delete", "replication", f.rep.Name, "--ignore-not-found", "--wait=false"},
			{"-n", f.ctlNS, "patch", "replication", f.rep.Name, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`},
		} {
			_, _ = tryKubectl(e.prod, "", args...)
		}
		kubectl(t, e.dr, "", "-n", f.dstNS, "delete", "pvc", "--all", "--wait=false")
		kubectl(t, e.prod, "", "-n", f.srcNS, "delete", "pvc", "--all", "--wait=false")
	})
	return f
}

func (f *fanOut) pvc(i int) string { return fmt.Sprintf("data-%02d", i) }

func (f *fanOut) workflowID() string {
	return contract.ReplicationWorkflowID(f.ctlNS, f.rep.Name, f.triggerName())
}

func (f *fanOut) triggerName() string {
	if f.trigger == "" {
		return "fan-out"
	}
	return f.trigger
}

// childIDs are the workflow IDs of the run's PVCSync children.
func (f *fanOut) childIDs() []string {
	var ids []string
	for i := 0; i < f.n; i++ {
		ids = append(ids, contract.PVCSyncWorkflowID(lab.Prod, f.srcNS, f.pvc(i)))
	}
	return ids
}

// startWorker starts an out-of-process worker on queue whose control
// cluster is prod, where the Replication is.
func (f *fanOut) startWorker(t *testing.T, bin, queue string) *exec.Cmd {
	return f.startWorkerWith(t, bin, queue, workerProcess{})
}

// startWorkerWith is startWorker with opts.
func (f *fanOut) startWorkerWith(t *testing.T, bin, queue string, opts workerProcess) *exec.Cmd {
	ctlEnv := *f.e
	ctlEnv.controlKubecfg = f.e.prod.Kubeconfig
	return ctlEnv.startWorkerProcessWith(t, bin, queue, opts)
}

// run starts the Replication run on queue and waits for it: its result
// (also of a failed run, from the failure's details), how long it took,
// its error and run ID.
func (f *fanOut) run(t *testing.T, queue string, timeout time.Duration) (contract.ReplicationResult, time.Duration, error, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ref := contract.ObjectRef{Namespace: f.ctlNS, Name: f.rep.Name}
	start := time.Now()
	run, err := f.e.tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: f.workflowID(), TaskQueue: queue, WorkflowExecutionTimeout: timeout,
	}, contract.ReplicationName, contract.ReplicationInput{Replication: ref, Trigger: f.triggerName()})
	if err != nil {
		t.Fatalf("start Replication: %v", err)
	}
	if f.started != nil {
		f.started(run.GetRunID())
	}
	var res contract.ReplicationResult
	runErr := run.Get(ctx, &res)
	var appErr *temporal.ApplicationError
	if errors.As(runErr, &appErr) && appErr.HasDetails() {
		_ = appErr.Details(&res)
	}
	return res, time.Since(start), runErr, run.GetRunID()
}

// checkResult fails t unless the run completed with every PVC synced, and
// returns how many were.
func (f *fanOut) checkResult(t *testing.T, res contract.ReplicationResult, runErr error) int {
	if runErr != nil {
		t.Errorf("Replication run failed: %v", runErr)
	}
	ok := 0
	for _, p := range res.PVCs {
		if p.Error == "" {
			ok++
		} else {
			t.Errorf("PVC %s: %s", p.PVC, p.Error)
		}
	}
	if len(res.PVCs) != f.n {
		t.Errorf("Replication synced %d PVCs, want %d (skipped: %v)", len(res.PVCs), f.n, res.SkippedPVCs)
	}
	return ok
}

// assertNothingLeft fails t if a pod or Secret of a sync remains in the
// fan-out's namespaces.
func (f *fanOut) assertNothingLeft(t *testing.T) {
	in := *f.e
	in.srcNS, in.dstNS = f.srcNS, f.dstNS
	in.assertNothingLeft(t)
}

// leftovers lists the pods and Secrets of syncs in the fan-out's namespaces.
func (f *fanOut) leftovers(t *testing.T) []string {
	in := *f.e
	in.srcNS, in.dstNS = f.srcNS, f.dstNS
	return in.leftovers(t)
}

// checkSample checks that the first and the last PVC's DR copies hold
// their blob byte-identical (by sha256).
func (f *fanOut) checkSample(t *testing.T) { f.checkCopies(t, f.pvc(0), f.pvc(f.n-1)) }

// checkAll checks every PVC's DR copy.
func (f *fanOut) checkAll(t *testing.T) {
	var all []string
	for i := range f.n {
		all = append(all, f.pvc(i))
	}
	f.checkCopies(t, all...)
}

// checkCopies checks that the DR copies of pvcs hold their blob
// byte-identical (by sha256), reading up to 25 claims per check pod.
func (f *fanOut) checkCopies(t *testing.T, pvcs ...string) {
	const perPod = 25
	e := f.e
	for p := 0; p*perPod < len(pvcs); p++ {
		batch := pvcs[p*perPod : min((p+1)*perPod, len(pvcs))]
		var mounts, vols strings.Builder
		for _, pvc := range batch {
			fmt.Fprintf(&mounts, "    - {name: %[1]s, mountPath: /d/%[1]s, readOnly: true}\n", pvc)
			fmt.Fprintf(&vols, "  - {name: %[1]s, persistentVolumeClaim: {claimName: %[1]s, readOnly: true}}\n", pvc)
		}
		pod := fmt.Sprintf("check-%d", p)
		kubectl(t, e.dr, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: main
    image: %s
    imagePullPolicy: Never
    command: [bash, -c, 'sleep infinity']
    volumeMounts:
%s  volumes:
%s`, pod, lab.ImageBase, mounts.String(), vols.String()), "-n", f.dstNS, "apply", "-f", "-")
		waitReady(t, e.dr, f.dstNS, pod)
		out := e.exec(t, e.dr, f.dstNS, pod, `for d in /d/*; do echo "$(basename $d) $(sha256sum < $d/blob)"; done`)
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if fields := strings.Fields(line); len(fields) >= 2 {
				got[fields[0]] = fields[1]
			}
		}
		for _, pvc := range batch {
			if want := f.sums[pvc]; got[pvc] != want || want == "" {
				t.Errorf("%s: DR blob sha256 %q, source's %q", pvc, got[pvc], want)
			}
		}
		kubectl(t, e.dr, "", "-n", f.dstNS, "delete", "pod", pod, "--wait=false")
	}
}

// prodCRDs counts the running tests that use the CRDs scaleControl applies
// on prod: deleting a CRD deletes every object of its kind, so only the
// last of the tests running side by side deletes those they created.
var prodCRDs struct {
	sync.Mutex
	users   int
	created []string
}

// scaleControl makes prod the control cluster of the scale run: the CRDs,
// a namespace with the cluster-pair key, the agent host key, both
// kubeconfigs and both RemoteClusters. dr is the setup's control cluster,
// but in a shared lab a dr-syncer deployment being installed and removed
// there deletes the CRDs — and with them every RemoteCluster — every few
// minutes, which a four-minute Replication run does not survive.
func scaleControl(t *testing.T, e *pvcSyncEnv) (ctrlclient.Client, string) {
	t.Helper()
	ctx := context.Background()
	prodCRDs.Lock()
	if prodCRDs.users == 0 {
		prodCRDs.created = nil
		for _, name := range []string{"remoteclusters", "replications", "clustermappings"} {
			if _, err := tryKubectl(e.prod, "", "get", "crd", name+".dr-syncer.io"); err != nil {
				prodCRDs.created = append(prodCRDs.created, name)
			}
		}
	}
	prodCRDs.users++
	prodCRDs.Unlock()
	t.Cleanup(func() {
		prodCRDs.Lock()
		defer prodCRDs.Unlock()
		if prodCRDs.users--; prodCRDs.users > 0 {
			return // another scale test still has RemoteClusters of these kinds
		}
		for _, name := range prodCRDs.created { // only what these tests created
			// Waited for: the next test's apply must not meet a CRD still being deleted.
			_, _ = tryKubectl(e.prod, "", "delete", "crd", name+".dr-syncer.io", "--ignore-not-found", "--wait=true", "--timeout=60s")
		}
	})
	applyCRDs(t, e.prod)
	ns := testNamespace(t, "drs-bench-ctl", e.prod)
	from, err := ctrlclient.New(e.dr.Config, ctrlclient.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	control, err := ctrlclient.New(e.prod.Config, ctrlclient.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	// The Replication's plan reads the keys under their default names.
	for from0, to := range map[string]string{
		e.clusterKey.Name:        contract.ClusterKeySecretName(lab.Prod, lab.DR),
		e.agentHostKey.Name:      contract.AgentHostKeySecretName(lab.Prod),
		lab.Prod + "-kubeconfig": lab.Prod + "-kubeconfig",
		lab.DR + "-kubeconfig":   lab.DR + "-kubeconfig",
	} {
		var sec corev1.Secret
		if err := from.Get(ctx, ctrlclient.ObjectKey{Namespace: e.controlNS, Name: from0}, &sec); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, control, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: to, Namespace: ns}, Data: sec.Data})
	}
	for _, c := range []*lab.Cluster{e.prod, e.dr} {
		mustCreate(t, control, e.remoteCluster(c.Name, ns))
	}
	return control, ns
}

// readHistory is every event of one workflow run.
func readHistory(t *testing.T, e *pvcSyncEnv, id, runID string) []*historypb.HistoryEvent {
	t.Helper()
	it := e.tp.Client.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		events = append(events, ev)
	}
	return events
}
