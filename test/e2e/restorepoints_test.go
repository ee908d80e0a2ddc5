//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
)

// restorePointsScenario: four good syncs with keep 3 leave exactly three
// restore points, and the RestorePVC workflow makes the oldest give back its
// generation's data; a sync cancelled mid-transfer leaves nothing of its own
// within 30 s and all three restore points intact, and the newest restores
// into another namespace.
func (e *pvcSyncEnv) restorePointsScenario(t *testing.T, pit func(string, contract.PointInTime, rsyncargs.Config) contract.PVCSyncInput) {
	e.csiPVC(t, "gen", "gen", "sleep infinity")
	keep3 := contract.PointInTime{RestorePoints: contract.RestorePoints{Keep: 3}} // copyMethod unset: Snapshot here
	sums := map[int]string{}
	var last contract.PVCSyncResult
	for g := 1; g <= 4; g++ {
		e.exec(t, e.prod, e.srcNS, "gen", `set -e; cd /data; rm -f gen-*; echo "$1" > generation; head -c 300000 /dev/urandom > "gen-$1"`, strconv.Itoa(g))
		sums[g] = e.sourceChecksums(t, "gen", "/data")
		last = e.waitSync(t, e.startSync(t, "gen", pit("gen", keep3, rsyncargs.Config{}), e.tp.TaskQueue))
		if last.CopySource.Method != contract.CopySnapshot {
			t.Errorf("generation %d: unset copyMethod chose %+v, want Snapshot (the class has a VolumeSnapshotClass)", g, last.CopySource)
		}
	}
	points := e.listRestorePoints(t, "gen")
	if len(points) != 3 {
		t.Fatalf("after four syncs with keep 3: %d restore points %v, want 3", len(points), points)
	}
	if fmt.Sprint(points) != fmt.Sprint(names(last.RestorePoints)) {
		t.Errorf("restore points in DR %v, the sync reported %v", points, names(last.RestorePoints))
	}
	if got := e.restoreAndChecksum(t, points[2], "gen-oldest", e.dstNS); got != sums[2] {
		t.Errorf("the oldest restore point %s does not give back generation 2\nwant:\n%s\ngot:\n%s", points[2], sums[2], got)
	}

	e.exec(t, e.prod, e.srcNS, "gen", `set -e; mkdir -p /data/big; for i in 1 2 3 4 5 6; do head -c 8388608 /dev/urandom > /data/big/$i; done`)
	// 1 MiB/s: the 48 MiB transfer takes most of a minute.
	run := e.startSync(t, "gen", pit("gen", keep3, rsyncargs.Config{BandwidthLimitKiB: 1024}), e.tp.TaskQueue)
	e.waitBytesMoved(t, run)
	cancelled := time.Now()
	if err := e.tp.Client.CancelWorkflow(context.Background(), run.GetID(), run.GetRunID()); err != nil {
		t.Fatalf("cancel %s: %v", run.GetID(), err)
	}
	for deadline := cancelled.Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		left := e.leftovers(t)
		if len(left) == 0 {
			t.Logf("cancelled Snapshot sync: no pod, Secret, temporary PVC or VolumeSnapshot left %.1fs after the cancel", time.Since(cancelled).Seconds())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after cancelling a Snapshot sync these remain: %v", left)
		}
	}
	var canceled *temporal.CanceledError
	if err := run.Get(context.Background(), nil); !errors.As(err, &canceled) {
		t.Errorf("cancelled sync ended with %v, want a CanceledError", err)
	}
	if after := e.listRestorePoints(t, "gen"); fmt.Sprint(after) != fmt.Sprint(points) {
		t.Errorf("a cancelled sync changed the restore points: %v before, %v after", points, after)
	}
	if got := e.restoreAndChecksum(t, points[0], "gen-newest", e.dstNS+"-restore"); got != sums[4] {
		t.Errorf("after the cancelled sync the newest restore point %s, restored into another namespace, does not give back generation 4\nwant:\n%s\ngot:\n%s", points[0], sums[4], got)
	}
	if after := e.listRestorePoints(t, "gen"); fmt.Sprint(after) != fmt.Sprint(points) {
		t.Errorf("restoring changed the restore points: %v before, %v after", points, after)
	}
}

// listRestorePoints lists the complete restore points of a DR PVC, newest
// first, straight from the DR cluster.
func (e *pvcSyncEnv) listRestorePoints(t *testing.T, pvc string) []string {
	t.Helper()
	snaps, err := snapclient.NewForConfig(e.dr.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.SnapshotV1().VolumeSnapshots(e.dstNS).List(context.Background(), metav1.ListOptions{
		LabelSelector: kube.LabelRestorePointOf + "=" + kube.OperationID(e.replication().String()) + ",!" + kube.LabelOperation})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list.Items {
		if s.Spec.Source.PersistentVolumeClaimName != nil && *s.Spec.Source.PersistentVolumeClaimName == pvc {
			if !kube.SnapshotReady(&s) {
				t.Errorf("restore point %s is not ready to use", s.Name)
			}
			out = append(out, s.Name)
		}
	}
	// Names end in the copy's UTC time: newest first is reverse name order.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// restoreAndChecksum restores a restore point with the RestorePVC workflow
// into a new PVC name in namespace ns of the DR cluster (another than the
// DR namespace shares the point there) and checksums it.
func (e *pvcSyncEnv) restoreAndChecksum(t *testing.T, point, name, ns string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	in := contract.RestoreInput{Replication: e.replication(), PVC: "gen", Point: point, Name: name, CreateNamespace: true}
	if ns != e.dstNS {
		in.ToNamespace = ns
		t.Cleanup(func() { _, _ = tryKubectl(e.dr, "", "delete", "namespace", ns, "--ignore-not-found", "--wait=false") })
	}
	run, err := e.tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.RestoreWorkflowID(in.Replication.Namespace, in.Replication.Name, in.PVC, name), TaskQueue: e.tp.TaskQueue,
	}, contract.RestoreName, in)
	if err != nil {
		t.Fatalf("start restore of %s: %v", point, err)
	}
	var res contract.RestoreResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("restore of %s into %s/%s failed: %v", point, ns, name, err)
	}
	if res.PVC.Namespace != ns || res.PVC.Name != name || res.Point.Name != point {
		t.Errorf("restore made %+v from %s, want %s/%s from %s", res.PVC, res.Point.Name, ns, name, point)
	}
	return e.drRunIn(t, ns, name, checksumTree, "/data")
}

// replication is the Replication the syncs' inputs name.
func (e *pvcSyncEnv) replication() contract.ObjectRef {
	return contract.ObjectRef{Namespace: e.controlNS, Name: "e2e"}
}

// createReplication makes that Replication in the control cluster: the PVC
// steps check their inputs against it, and the restore workflows resolve
// where its DR copies are.
func (e *pvcSyncEnv) createReplication(t *testing.T) {
	t.Helper()
	control, err := ctrlclient.New(e.dr.Config, ctrlclient.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, control, &drv1.Replication{ObjectMeta: metav1.ObjectMeta{Namespace: e.controlNS, Name: e.replication().Name},
		Spec: drv1.ReplicationSpec{SourceCluster: lab.Prod, DestinationCluster: lab.DR, SourceNamespace: e.srcNS,
			DestinationNamespace: e.dstNS, ReplicationMode: drv1.ModeManual,
			PVCConfig: &drv1.PVCConfig{SyncData: true, StorageClassMappings: []drv1.Mapping{{From: csiClass, To: csiClass}},
				RestorePoints: &drv1.RestorePointsConfig{Keep: 3}}}})
}

func names(points []contract.RestorePoint) []string {
	out := make([]string, len(points))
	for i, p := range points {
		out[i] = p.Name
	}
	return out
}
