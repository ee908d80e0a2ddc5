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
	"go.temporal.io/sdk/temporal"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// restorePointsScenario: four good syncs with keep 3 leave exactly three
// restore points, the oldest gives back its generation's data; a sync
// cancelled mid-transfer leaves nothing of its own within 30 s and all three
// restore points intact and restorable.
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
	if got := e.restoreAndChecksum(t, points[2], "gen-oldest"); got != sums[2] {
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
	if got := e.restoreAndChecksum(t, points[0], "gen-newest"); got != sums[4] {
		t.Errorf("after the cancelled sync the newest restore point %s does not give back generation 4\nwant:\n%s\ngot:\n%s", points[0], sums[4], got)
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
		LabelSelector: kube.LabelRestorePointOf + "=" + kube.OperationID(e.controlNS+"/e2e") + ",!" + kube.LabelOperation})
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

// restoreAndChecksum makes a PVC from a restore point in the DR namespace
// and checksums it.
func (e *pvcSyncEnv) restoreAndChecksum(t *testing.T, point, name string) string {
	t.Helper()
	kubectl(t, e.dr, fmt.Sprintf(`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: %s}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: %s
  resources: {requests: {storage: 1Gi}}
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: %s}
`, name, csiClass, point), "-n", e.dstNS, "apply", "-f", "-")
	return e.drChecksums(t, name)
}

func names(points []contract.RestorePoint) []string {
	out := make([]string, len(points))
	for i, p := range points {
		out[i] = p.Name
	}
	return out
}
