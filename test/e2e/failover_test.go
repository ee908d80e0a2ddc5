//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestLabFailoverPlanned fails the demo app over to DR as an operator
// would, with the deployed system and only kubectl: a sync, then the
// failover annotation. The failover pauses syncs, syncs one last time,
// stops prod's Deployment (recording its replicas) and starts DR's from its
// recorded replicas. The test checks that the app is Ready in DR on data
// byte-identical to prod's, that prod is at zero, that the status says DR
// is active with an RTO and data age, and that a sync-now while failed
// over starts nothing.
func TestLabFailoverPlanned(t *testing.T) {
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
	var st string
	pollUntil(t, 4*time.Minute, "Replication "+app+" failed over", func() (bool, string) {
		st = kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
			`jsonpath={.status.failover.state}|{.status.failover.activeSide}|{.status.phase}|{.status.failover.rto}|{.status.failover.dataAge}|{.status.failover.mode}|{.status.failover.message}`)
		if strings.HasPrefix(st, "FailoverCanceled|") {
			t.Fatalf("failover of %s was cancelled: %s", app, st)
		}
		return strings.HasPrefix(st, "FailedOver|"), st
	})
	t.Logf("failover annotation → FailedOver in %.1fs; status %s", time.Since(start).Seconds(), st)
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
}
