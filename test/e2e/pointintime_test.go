//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// csiClass is the lab's CSI StorageClass, with snapshots and clones.
const csiClass = "csi-hostpath"

// journalWriter appends numbered records to four files, one record to
// every file per round. Between rounds it honours the freeze hook: it
// acknowledges /data/.freeze-requested with /data/.frozen and waits.
const journalWriter = `n=0
while true; do
  if [ -e /data/.freeze-requested ]; then
    touch /data/.frozen
    while [ -e /data/.freeze-requested ]; do sleep 0.05; done
    rm -f /data/.frozen
  fi
  n=$((n + 1))
  for f in 1 2 3 4; do printf 'record %08d\n' "$n" >> /data/f$f; done
  sleep 0.005
done`

// The hooks: freeze waits until the writer is between rounds and records
// which round it froze at; thaw lets it go on and leaves a marker.
var (
	freezeJournal = []string{"bash", "-c", `touch /data/.freeze-requested
while [ ! -e /data/.frozen ]; do sleep 0.05; done
tail -n1 /data/f1 > /data/freeze-marker`}
	thawJournal = []string{"bash", "-c", `rm -f /data/.freeze-requested; date +%s%N > /data/thaw-marker`}
)

var (
	recordLine  = regexp.MustCompile(`^record [0-9]{8}$`)
	journalFile = regexp.MustCompile(`^f[1-4]$`)
)

// TestPVCSyncPointInTime syncs from snapshots and clones of real CSI
// volumes in the lab (the lab's hostpath driver, the real
// snapshot-controller and sidecars): a live writer frozen by hooks around
// the snapshot, a failing freeze, DR restore points kept and pruned, a
// cancelled sync that leaves the restore points and nothing else.
func TestPVCSyncPointInTime(t *testing.T) {
	t.Parallel() // beside the other PVC sync tests: see agentSlot
	e := setupPVCSync(t)
	pit := func(name string, p contract.PointInTime, data rsyncargs.Config) contract.PVCSyncInput {
		in := e.input(name, data)
		in.StorageClassMappings = map[string]string{csiClass: csiClass}
		in.PointInTime = p
		return in
	}
	hooks := &contract.Hooks{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "journal"}},
		Freeze: &contract.HookCommand{Command: freezeJournal, Timeout: "30s"},
		Thaw:   &contract.HookCommand{Command: thawJournal, Timeout: "30s"}}
	e.csiPVC(t, "journal", "journal", journalWriter)
	e.waitRecords(t, "journal", 200)

	t.Run("SnapshotWithHooks", func(t *testing.T) {
		res := e.waitSync(t, e.startSync(t, "journal", pit("journal", contract.PointInTime{CopyMethod: contract.CopySnapshot, Hooks: hooks}, rsyncargs.Config{}), e.tp.TaskQueue))
		if res.CopySource.Method != contract.CopySnapshot || res.SourceSnapshot == nil {
			t.Fatalf("copy source %+v, snapshot %v: want a Snapshot copy", res.CopySource, res.SourceSnapshot)
		}
		dr := e.drJournal(t, "journal")
		ends := map[string]bool{}
		for f := 1; f <= 4; f++ {
			name := fmt.Sprintf("f%d", f)
			ends[dr.last[name]] = true
			if dr.torn[name] > 0 {
				t.Errorf("%s: %d torn records in the DR copy", name, dr.torn[name])
			}
		}
		if len(ends) != 1 {
			t.Errorf("the DR files end at different records %v: the copy is not of one instant", ends)
		}
		if got := strings.TrimSpace(dr.files["freeze-marker"]); !ends[got] {
			t.Errorf("freeze marker %q in DR: want the record all files end with %v", got, ends)
		}
		if _, ok := dr.files["thaw-marker"]; ok {
			t.Error("the thaw marker is in the DR copy: thaw ran before the snapshot was taken")
		}
		// The writer went on after thaw; each DR file is the live file's
		// beginning, byte for byte: the copy is the snapshot's content.
		e.waitRecords(t, "journal", dr.records+50)
		for f := 1; f <= 4; f++ {
			name := fmt.Sprintf("f%d", f)
			live := e.exec(t, e.prod, e.srcNS, "journal", `head -c "$2" "/data/$1" | sha256sum | cut -d' ' -f1`, name, strconv.Itoa(len(dr.files[name])))
			if strings.TrimSpace(live) != dr.sums[name] {
				t.Errorf("%s: the DR copy is not the first %d bytes of the live file", name, len(dr.files[name]))
			}
		}
		if out := e.exec(t, e.prod, e.srcNS, "journal", `cat /data/thaw-marker`); strings.TrimSpace(out) == "" {
			t.Error("thaw left no marker in the live volume")
		}
		t.Logf("snapshot %s taken at %s; DR copy ends at %v in every file", res.SourceSnapshot.Name, res.SourceSnapshot.TakenAt.Format(time.RFC3339Nano), ends)
		e.assertNothingLeft(t)
	})

	t.Run("DirectReportsWhatItSaw", func(t *testing.T) {
		e.waitSync(t, e.startSync(t, "journal", pit("journal", contract.PointInTime{CopyMethod: contract.CopyDirect}, rsyncargs.Config{}), e.tp.TaskQueue))
		dr := e.drJournal(t, "journal")
		t.Logf("Direct copy of a live writer (not asserted): last records %v, torn records %v", dr.last, dr.torn)
	})

	t.Run("FailingFreezeStillThaws", func(t *testing.T) {
		before := e.exec(t, e.prod, e.srcNS, "journal", `cat /data/thaw-marker`)
		bad := *hooks
		bad.Freeze = &contract.HookCommand{Command: []string{"bash", "-c", "echo cannot freeze >&2; exit 3"}, Timeout: "30s"}
		run := e.startSync(t, "journal", pit("journal", contract.PointInTime{CopyMethod: contract.CopySnapshot, Hooks: &bad}, rsyncargs.Config{}), e.tp.TaskQueue)
		err := run.Get(context.Background(), nil)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != contract.ErrTypeHookFailed || !strings.Contains(err.Error(), "cannot freeze") {
			t.Fatalf("sync with a failing freeze ended with %v, want a HookFailed naming the hook's output", err)
		}
		if after := e.exec(t, e.prod, e.srcNS, "journal", `cat /data/thaw-marker`); after == before {
			t.Error("thaw did not run after the failed freeze")
		}
		e.assertNothingLeft(t)
	})

	t.Run("RestorePoints", func(t *testing.T) { e.restorePointsScenario(t, pit) })

	t.Run("Clone", func(t *testing.T) {
		e.csiPVC(t, "cloned", "cloned", "sleep infinity")
		e.exec(t, e.prod, e.srcNS, "cloned", makeTree, "/data")
		want := e.sourceChecksums(t, "cloned", "/data")
		res := e.waitSync(t, e.startSync(t, "cloned", pit("cloned", contract.PointInTime{CopyMethod: contract.CopyClone}, rsyncargs.Config{}), e.tp.TaskQueue))
		if res.CopySource.Method != contract.CopyClone {
			t.Errorf("copy source %+v, want Clone", res.CopySource)
		}
		if got := e.drChecksums(t, "cloned"); got != want {
			t.Errorf("the DR copy of a clone differs from the source\nsource:\n%s\ndr:\n%s", want, got)
		}
		e.assertNothingLeft(t)
	})
}

// csiPVC makes a 1 GiB csi-hostpath PVC and a pod of that name, labelled
// app=<app>, that mounts it at /data and runs script.
func (e *pvcSyncEnv) csiPVC(t *testing.T, name, app, script string) {
	t.Helper()
	kubectl(t, e.prod, claimManifest(name, csiClass)+"---\n"+claimPod(name, app, name, script, false), "-n", e.srcNS, "apply", "-f", "-")
	waitReady(t, e.prod, e.srcNS, name)
}

// waitRecords waits until the journal writer has written n rounds.
func (e *pvcSyncEnv) waitRecords(t *testing.T, pod string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := tryKubectl(e.prod, "", "-n", e.srcNS, "exec", pod, "--", "bash", "-c", "wc -l < /data/f4 2>/dev/null || echo 0")
		if got, _ := strconv.Atoi(strings.TrimSpace(out)); err == nil && got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal writer in %s wrote fewer than %d records in a minute (%s, %v)", pod, n, out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// journalCopy is what a DR copy of the journal holds.
type journalCopy struct {
	files   map[string]string // name → content (f1..f4, markers)
	sums    map[string]string // f1..f4 → sha256
	last    map[string]string // f1..f4 → last line
	torn    map[string]int    // f1..f4 → lines that are not whole records
	records int
}

// drJournal reads the DR copy of a journal PVC in a fresh pod.
func (e *pvcSyncEnv) drJournal(t *testing.T, pvc string) journalCopy {
	t.Helper()
	out := e.drRun(t, pvc, `cd /data; for f in f1 f2 f3 f4 freeze-marker thaw-marker; do
  [ -e "$f" ] || continue
  echo "=== $f $(sha256sum < "$f" | cut -d' ' -f1)"; cat "$f"; echo "=== end"
done`)
	c := journalCopy{files: map[string]string{}, sums: map[string]string{}, last: map[string]string{}, torn: map[string]int{}}
	for _, block := range strings.Split(out, "=== end\n") {
		head, body, ok := strings.Cut(block, "\n")
		if !ok || !strings.HasPrefix(head, "=== ") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(head, "=== "))
		c.files[fields[0]], c.sums[fields[0]] = body, fields[1]
		if !journalFile.MatchString(fields[0]) {
			continue
		}
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		for _, l := range lines {
			if !recordLine.MatchString(l) {
				c.torn[fields[0]]++
			}
		}
		c.last[fields[0]] = lines[len(lines)-1]
		c.records = max(c.records, len(lines))
	}
	if len(c.last) != 4 {
		t.Fatalf("the DR copy of %s lacks journal files: %v", pvc, out)
	}
	return c
}

// pointInTimeLeftovers lists the temporary PVCs and the VolumeSnapshots of
// an operation (a source snapshot, an unfinished restore point) in ns.
func (e *pvcSyncEnv) pointInTimeLeftovers(t *testing.T, side, ns string) []string {
	t.Helper()
	c := e.prod
	if side == "dr" {
		c = e.dr
	}
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx, opts := context.Background(), metav1.ListOptions{LabelSelector: kube.LabelOperation}
	var left []string
	pvcs, err := cs.CoreV1().PersistentVolumeClaims(ns).List(ctx, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, p := range pvcs.Items {
		left = append(left, fmt.Sprintf("%s pvc %s/%s", side, p.Namespace, p.Name))
	}
	snaps, err := snapclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.SnapshotV1().VolumeSnapshots(ns).List(ctx, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		left = append(left, fmt.Sprintf("%s volumesnapshot %s/%s", side, s.Namespace, s.Name))
	}
	return left
}
