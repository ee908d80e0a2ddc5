//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// TestLabFailoverAndBack fails the demo app over to DR and back as an
// operator would, with the deployed system and only kubectl.
//
// Failover: a sync, then the failover annotation; the worker is killed
// with SIGKILL as soon as the failover started, and the failover completes
// anyway. It pauses syncs, syncs one last time, stops prod's Deployment
// (recording its replicas) and starts DR's from its recorded replicas. The
// test checks that the app is Ready in DR on data byte-identical to
// prod's, that prod is at zero, that the status says DR is active with an
// RTO and data age, and that a sync-now while failed over starts nothing.
//
// Failback: new data written in DR, then the failback annotation. The test
// checks that prod runs again on data byte-identical to DR's, that DR is
// at zero, and that the next sync goes prod → DR again.
func TestLabFailoverAndBack(t *testing.T) {
	app := fmt.Sprintf("drs-fo-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	srcPod := deployDemoApp(t, prod, app)
	applyDemoReplication(t, dr, root, app, appDR)
	syncNowCompleted(t, dr, app, "first", 150*time.Second)
	// The app wrote its data at its first start; only starts.log changes after.
	want := dataSums(t, prod, app, srcPod, "./starts.log")

	start := time.Now()
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/failover=e2e", "--overwrite")
	pollUntil(t, time.Minute, "the failover started", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", `jsonpath={.status.failover.state}`)
		return st != "", st
	})
	killWorker(t, dr)
	var st string
	pollUntil(t, 6*time.Minute, "Replication "+app+" failed over", func() (bool, string) {
		st = kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
			`jsonpath={.status.failover.state}|{.status.failover.activeSide}|{.status.phase}|{.status.failover.rto}|{.status.failover.dataAge}|{.status.failover.mode}|{.status.failover.message}`)
		if strings.HasPrefix(st, "FailoverCanceled|") {
			t.Fatalf("failover of %s was cancelled: %s", app, st)
		}
		return strings.HasPrefix(st, "FailedOver|"), st
	})
	t.Logf("failover annotation → FailedOver in %.1fs, the worker killed on the way; status %s", time.Since(start).Seconds(), st)
	f := strings.Split(st, "|")
	if f[1] != "Destination" || f[2] != "FailedOver" || f[3] == "" || f[4] == "" || f[5] != "Planned" {
		t.Errorf("status.failover = %q, want activeSide Destination, phase FailedOver, an RTO, a data age and mode Planned", st)
	}

	// prod at zero, its replicas recorded; DR Ready at the recorded count.
	if got := kubectl(t, prod, "", "-n", app, "get", "deployment", "db", "-o",
		`jsonpath={.spec.replicas} {.metadata.annotations.dr-syncer\.io/failover-replicas}`); got != "0 1" {
		t.Errorf("prod deployment %s/db: replicas and failover-replicas = %q, want \"0 1\"", app, got)
	}
	if got := kubectl(t, dr, "", "-n", appDR, "get", "deployment", "db", "-o", `jsonpath={.spec.replicas} {.status.readyReplicas}`); got != "1 1" {
		t.Errorf("DR deployment %s/db: replicas and ready = %q, want \"1 1\"", appDR, got)
	}
	drPod := appPod(t, dr, appDR)
	if have := dataSums(t, dr, appDR, drPod, "./starts.log"); have != want {
		t.Errorf("DR data differs from prod's at the final sync\nprod:\n%s\ndr:\n%s", want, have)
	} else {
		t.Logf("%d files byte-identical in prod/%s and dr/%s", strings.Count(want, "\n"), app, appDR)
	}
	// The app started in DR on prod's data: prod's start line, then DR's.
	if starts := kubectl(t, dr, "", "-n", appDR, "exec", drPod, "--", "cat", "/data/starts.log"); strings.Count(starts, "started ") != 2 {
		t.Errorf("starts.log in DR = %q, want prod's start and DR's", starts)
	}

	// Failed over, syncs stay paused: a sync-now starts nothing.
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/sync-now=while-failed-over", "--overwrite")
	time.Sleep(5 * time.Second)
	if got := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", "jsonpath={.status.syncNowHandled} {.status.phase}"); got != "first FailedOver" {
		t.Errorf("after a sync-now while failed over: syncNowHandled and phase = %q, want \"first FailedOver\" (no run)", got)
	}
	if got := kubectl(t, dr, "", "-n", appDR, "get", "deployment", "db", "-o", `jsonpath={.spec.replicas}`); got != "1" {
		t.Errorf("DR deployment %s/db scaled to %s after a sync-now while failed over, want 1", appDR, got)
	}

	failBack(t, prod, dr, app, appDR)
}

// failBack writes new data in DR, fails back, and checks prod runs on it,
// DR is at zero, and the next sync goes prod → DR.
func failBack(t *testing.T, prod, dr *lab.Cluster, app, appDR string) {
	drPod := appPod(t, dr, appDR)
	kubectl(t, dr, "", "-n", appDR, "exec", drPod, "--", "bash", "-c",
		"head -c 1048576 /dev/urandom > /data/written-in-dr.bin && echo changed-in-dr >> /data/f/1.txt")
	want := dataSums(t, dr, appDR, drPod, "./starts.log")

	start := time.Now()
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/failback=e2e", "--overwrite")
	var st string
	pollUntil(t, 6*time.Minute, "Replication "+app+" failed back", func() (bool, string) {
		st = kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
			`jsonpath={.status.failover.state}|{.status.failover.activeSide}|{.status.failover.workflowID}|{.status.failover.message}`)
		if strings.HasPrefix(st, "FailedOver|") && strings.Contains(st, "failback/") {
			t.Fatalf("failback of %s stopped: %s", app, st)
		}
		return strings.HasPrefix(st, "FailedBack|Source|"), st
	})
	t.Logf("failback annotation → FailedBack in %.1fs; status %s", time.Since(start).Seconds(), st)

	if got := kubectl(t, prod, "", "-n", app, "get", "deployment", "db", "-o",
		`jsonpath={.spec.replicas} {.status.readyReplicas} {.metadata.annotations.dr-syncer\.io/failover-replicas}`); got != "1 1 " {
		t.Errorf("prod deployment %s/db: replicas, ready and failover-replicas = %q, want \"1 1 \" (running, nothing recorded)", app, got)
	}
	if got := kubectl(t, dr, "", "-n", appDR, "get", "deployment", "db", "-o", `jsonpath={.spec.replicas}`); got != "0" {
		t.Errorf("DR deployment %s/db has %s replicas after failback, want 0", appDR, got)
	}
	prodPod := appPod(t, prod, app)
	if have := dataSums(t, prod, app, prodPod, "./starts.log"); have != want {
		t.Errorf("prod data differs from DR's after failback\ndr:\n%s\nprod:\n%s", want, have)
	} else {
		t.Logf("%d files byte-identical in dr/%s and prod/%s, DR's new data included", strings.Count(want, "\n"), appDR, app)
	}
	// prod's first start, DR's, and prod's again, on DR's data.
	if starts := kubectl(t, prod, "", "-n", app, "exec", prodPod, "--", "cat", "/data/starts.log"); strings.Count(starts, "started ") != 3 {
		t.Errorf("starts.log in prod = %q, want prod's, DR's and prod's start again", starts)
	}

	// Syncs resume in the original direction: prod → DR.
	took := syncNowCompleted(t, dr, app, "after-failback", 4*time.Minute)
	t.Logf("first sync prod → DR after failback completed in %.1fs", took.Seconds())
	if have := dataSums(t, dr, appDR, verifyPod(t, dr, appDR)); have != dataSums(t, prod, app, prodPod) {
		t.Errorf("DR differs from prod after the first sync that followed the failback")
	}
}

// killWorker kills the deployed worker's process with SIGKILL, as a
// crashed node or an OOM kill would; its Deployment starts a new one.
func killWorker(t *testing.T, dr *lab.Cluster) {
	t.Helper()
	id := kubectl(t, dr, "", "-n", sys, "get", "pod", "-l", "app.kubernetes.io/component=worker", "-o",
		"jsonpath={.items[0].status.containerStatuses[0].containerID}")
	id = strings.TrimPrefix(id, "containerd://")
	path := filepath.Join(filepath.Dir(dr.Kubeconfig), "containerd/state/io.containerd.runtime.v2.task/k8s.io", id, "init.pid")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the worker container's pid (%s): %v", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("the worker container's pid in %s: %v", path, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d (the worker): %v", pid, err)
	}
	t.Logf("worker (pid %d, container %.12s) killed with SIGKILL", pid, id)
}

// TestLabFailoverUnplanned fails over with prod's kube-apiserver stopped
// (SIGSTOP: it holds its connections and answers nothing, as a hung or
// partitioned control plane does) while a sync is running, cut off by the
// disaster. `drsyncer failover --from-restore-points` finds the source
// unreachable, skips every source step and says so, cancels the cut-off
// sync, replaces the DR PVC in place from its newest restore point (the
// live copy's volume kept), and brings the app up in DR on that data.
func TestLabFailoverUnplanned(t *testing.T) {
	app := fmt.Sprintf("drs-ufo-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	srcPod := deployDemoApp(t, prod, app)
	applyCSIReplication(t, dr, root, app, appDR, "replicationMode: Manual")
	syncNowCompleted(t, dr, app, "first", 150*time.Second)
	waitRestorePoint(t, dr, app, appDR)
	want := dataSums(t, prod, app, srcPod, "./starts.log")
	t.Cleanup(func() { deleteRetainedVolumes(t, dr) })

	resume := stopAPIServer(t, prod)
	t.Cleanup(resume) // before undeploy.sh, which needs prod
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/sync-now=cut-off", "--overwrite")
	pollUntil(t, time.Minute, "the sync the disaster cuts off is running", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", `jsonpath={.status.currentRun.workflowID}`)
		return strings.HasSuffix(st, "/cut-off"), st
	})

	bin := buildCommand(t, "drsyncer")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, "--temporal-address", temporalAddress(t, dr), "failover", sys+"/"+app,
		"--from-restore-points", "--id", "lost").CombinedOutput()
	t.Logf("drsyncer failover --from-restore-points (%.1fs):\n%s", time.Since(start).Seconds(), out)
	if err != nil {
		t.Fatalf("drsyncer failover: %v", err)
	}
	for _, want := range []string{"every source step is skipped", "FinalSync skipped", "ScaleDownSource skipped", "✓ RestoreFromRestorePoints", "✓ WaitReady"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("drsyncer failover output lacks %q", want)
		}
	}
	st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
		`jsonpath={.status.failover.state}|{.status.failover.mode}|{.status.failover.dataAge}|{.status.failover.message}`)
	if f := strings.SplitN(st, "|", 4); f[0] != "FailedOver" || f[1] != "Unplanned" || f[2] == "" || !strings.Contains(f[3], "every source step is skipped") {
		t.Errorf("status.failover = %q, want FailedOver, mode Unplanned, a data age, and a message saying the source steps were skipped", st)
	}
	if got := kubectl(t, dr, "", "-n", appDR, "get", "deployment", "db", "-o", `jsonpath={.spec.replicas} {.status.readyReplicas}`); got != "1 1" {
		t.Errorf("DR deployment %s/db: replicas and ready = %q, want \"1 1\"", appDR, got)
	}
	if got := kubectl(t, dr, "", "-n", appDR, "get", "pvc", "data", "-o", `jsonpath={.spec.dataSource.kind}`); got != "VolumeSnapshot" {
		t.Errorf("DR PVC %s/data comes from %q, want a VolumeSnapshot (its restore point)", appDR, got)
	}
	if got := kubectl(t, dr, "", "get", "pv", "-l", "dr-syncer.io/replaced-by", "-o",
		`jsonpath={range .items[*]}{.spec.persistentVolumeReclaimPolicy} {.metadata.annotations.dr-syncer\.io/replaced-claim}{"\n"}{end}`); got != "Retain "+appDR+"/data\n" {
		t.Errorf("kept volumes of replaced DR PVCs = %q, want the live copy's, Retain, naming %s/data", got, appDR)
	}
	if have := dataSums(t, dr, appDR, appPod(t, dr, appDR), "./starts.log"); have != want {
		t.Errorf("DR data differs from the restore point's\nprod:\n%s\ndr:\n%s", want, have)
	}
	resume()
	// The source was never touched: its app still runs (the failback stops it first).
	if got := kubectl(t, prod, "", "-n", app, "get", "deployment", "db", "-o", `jsonpath={.spec.replicas}`); got != "1" {
		t.Errorf("prod deployment %s/db has %s replicas after an unplanned failover, want 1 (untouched)", app, got)
	}
}

// deleteRetainedVolumes deletes the volumes a test's in-place restores
// kept, with their data: Delete again, then the PV.
func deleteRetainedVolumes(t *testing.T, dr *lab.Cluster) {
	for _, pv := range strings.Fields(kubectl(t, dr, "", "get", "pv", "-l", "dr-syncer.io/replaced-by", "-o", "jsonpath={.items[*].metadata.name}")) {
		kubectl(t, dr, "", "patch", "pv", pv, "-p", `{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}`)
		kubectl(t, dr, "", "delete", "pv", pv, "--wait=false", "--ignore-not-found")
	}
}

// stopAPIServer stops c's kube-apiserver with SIGSTOP and returns the
// function that resumes it (idempotent).
func stopAPIServer(t *testing.T, c *lab.Cluster) func() {
	t.Helper()
	path := filepath.Join(filepath.Dir(c.Kubeconfig), "pids", "kube-apiserver.pid")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("kube-apiserver pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(data))[0])
	if err != nil {
		t.Fatalf("kube-apiserver pid in %s: %v", path, err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop kube-apiserver (pid %d): %v", pid, err)
	}
	t.Logf("%s kube-apiserver (pid %d) stopped", c.Name, pid)
	resumed := false
	return func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("resume kube-apiserver (pid %d): %v", pid, err)
			}
		}
	}
}
