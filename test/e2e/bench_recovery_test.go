//go:build e2e && bench

package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// benchRecovery measures the RTO of a drill and of a planned failover of
// the demo app (a Deployment on a 1 GiB PVC holding 4 MiB and 50 files) in
// the deployed system, from each one's status: request to every workload
// Ready. The drill has no restore point to use (the demo's DR class has no
// snapshots), so it copies the live DR copy through DR's agent.
func benchRecovery(t *testing.T, report reportFunc) {
	app := fmt.Sprintf("drs-bfo-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	deployDemoApp(t, prod, app)
	applyDemoReplication(t, dr, root, app, appDR)
	syncNowCompleted(t, dr, app, "first", 150*time.Second)

	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/drill=bench", "--overwrite")
	drill := waitStatus(t, dr, app, "the drill", `{.status.lastDrill.result}|{.status.lastDrill.rto}|{.status.lastDrill.dataAge}`,
		func(f []string) bool { return f[0] != "" })
	if drill[0] != "Succeeded" {
		t.Fatalf("drill: %v", drill)
	}
	report("drill_rto", seconds(t, drill[1]), "s", "drill: request to the app Ready in a scratch namespace (objects copied, PVC copied from the live DR copy)")

	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/failover=bench", "--overwrite")
	fo := waitStatus(t, dr, app, "the failover", `{.status.failover.state}|{.status.failover.rto}|{.status.failover.dataAge}`,
		func(f []string) bool { return f[0] == "FailedOver" || f[0] == "FailoverCanceled" })
	if fo[0] != "FailedOver" {
		t.Fatalf("failover: %v", fo)
	}
	report("failover_planned_rto", seconds(t, fo[1]), "s", "planned failover: request to the app Ready in DR (pause, final sync, stop prod, start DR)")
	report("failover_planned_data_age", seconds(t, fo[2]), "s", "planned failover: final sync start to prod stopped (the RPO)")
}

// waitStatus polls jsonpath fields of Replication app until done holds.
func waitStatus(t *testing.T, dr *lab.Cluster, app, what, jsonpath string, done func([]string) bool) []string {
	t.Helper()
	var f []string
	pollUntil(t, 6*time.Minute, what, func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", "jsonpath="+jsonpath)
		f = strings.Split(st, "|")
		return done(f), st
	})
	return f
}

func seconds(t *testing.T, d string) float64 {
	t.Helper()
	v, err := time.ParseDuration(d)
	if err != nil {
		t.Fatalf("duration %q: %v", d, err)
	}
	return v.Seconds()
}
