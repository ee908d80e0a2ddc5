//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// TestLabDrill runs a DR drill with `drsyncer drill` while a Continuous
// Replication (a sync every 10 s, restore points kept on the lab's CSI
// class) keeps syncing the demo app. The drill brings the DR copy up in a
// scratch namespace from the newest restore point, waits for Ready, runs a
// check in the app's pod and tears everything down. The test checks that
// the CLI followed every step, that at least one sync completed during the
// drill, that the status records it with an RTO and data age, that the
// scratch namespace is gone, and that the replica is untouched.
func TestLabDrill(t *testing.T) {
	app := fmt.Sprintf("drs-drill-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	srcPod := deployDemoApp(t, prod, app)
	applyCSIReplication(t, dr, root, app, appDR, "replicationMode: Continuous\n  continuous: {backgroundSyncInterval: 10s, watchResources: false}")
	waitRestorePoint(t, dr, app, appDR)
	drBefore := kubectl(t, dr, "", "-n", appDR, "get", "deployment,pvc", "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.uid} {.spec.replicas}{"\n"}{end}`)
	syncsBefore := successfulSyncs(t, dr, app)

	bin := buildCommand(t, "drsyncer")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--temporal-address", temporalAddress(t, dr), "drill", sys+"/"+app, "--id", "e2e",
		"--check-selector", "app=db", "--check-command", "test -s /data/db.bin && test -f /data/.done")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("drsyncer drill (%.1fs):\n%s", time.Since(start).Seconds(), out)
	if err != nil {
		t.Fatalf("drsyncer drill: %v", err)
	}
	for _, step := range []string{"CopyObjects", "CopyPVCs", "ScaleUpDR", "WaitReady", "Check", "Teardown"} {
		if !strings.Contains(string(out), "✓ "+step) {
			t.Errorf("drsyncer drill did not print step %s as done", step)
		}
	}

	if n := successfulSyncs(t, dr, app); n <= syncsBefore {
		t.Errorf("successful syncs %d before the drill, %d after: replication did not keep running", syncsBefore, n)
	}
	st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
		`jsonpath={.status.lastDrill.result}|{.status.lastDrill.namespace}|{.status.lastDrill.rto}|{.status.lastDrill.dataAge}`)
	f := strings.Split(st, "|")
	if len(f) != 4 || f[0] != "Succeeded" || f[2] == "" || f[3] == "" {
		t.Fatalf("status.lastDrill = %q, want Succeeded with a namespace, an RTO and a data age", st)
	}
	if out, err := tryKubectl(dr, "", "get", "namespace", f[1]); err == nil {
		t.Errorf("scratch namespace %s still exists after the drill: %s", f[1], out)
	}
	if drAfter := kubectl(t, dr, "", "-n", appDR, "get", "deployment,pvc", "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.uid} {.spec.replicas}{"\n"}{end}`); drAfter != drBefore {
		t.Errorf("the replica changed during the drill:\nbefore:\n%s\nafter:\n%s", drBefore, drAfter)
	}
	kubectl(t, dr, "", "-n", sys, "patch", "replication", app, "--type=merge", "-p", `{"spec":{"paused":true}}`)
	if have, want := dataSums(t, dr, appDR, verifyPod(t, dr, appDR), "./starts.log"), dataSums(t, prod, app, srcPod, "./starts.log"); have != want {
		t.Errorf("the DR copy differs from prod after the drill\nprod:\n%s\ndr:\n%s", want, have)
	}
}

// successfulSyncs is status.syncStats.successfulSyncs of Replication app.
func successfulSyncs(t *testing.T, dr *lab.Cluster, app string) int {
	t.Helper()
	n, _ := strconv.Atoi(kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", "jsonpath={.status.syncStats.successfulSyncs}"))
	return n
}

// temporalAddress is the lab's Temporal frontend, as hack/lab/deploy.sh
// started it in the controller cluster's node (reachable from the host).
func temporalAddress(t *testing.T, dr *lab.Cluster) string {
	t.Helper()
	host := strings.TrimPrefix(kubectl(t, dr, "", "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"), "https://")
	return strings.Split(host, ":")[0] + ":7233"
}

// applyCSIReplication applies the demo's clusters and a Replication of
// app into appDR on the lab's CSI class, keeping two restore points per
// PVC; mode is the spec's mode lines.
func applyCSIReplication(t *testing.T, dr *lab.Cluster, root, app, appDR, mode string) {
	t.Helper()
	kubectl(t, dr, "", "apply", "-f", root+"/hack/lab/demo/clusters.yaml")
	kubectl(t, dr, fmt.Sprintf(`apiVersion: dr-syncer.io/v1alpha1
kind: Replication
metadata: {name: %[1]s, namespace: %[3]s}
spec:
  clusterMappingRef: {name: prod-to-dr}
  sourceNamespace: %[1]s
  destinationNamespace: %[2]s
  %[4]s
  resourceTypes: ["*"]
  pvcConfig:
    syncData: true
    storageClassMappings: [{from: standard, to: csi-hostpath}]
    restorePoints: {keep: 2}
`, app, appDR, sys, mode), "apply", "-f", "-")
}

// waitRestorePoint waits until a sync has left a restore point of appDR/data.
func waitRestorePoint(t *testing.T, dr *lab.Cluster, app, appDR string) {
	t.Helper()
	pollUntil(t, 4*time.Minute, "a restore point of "+appDR+"/data", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", `jsonpath={.status.restorePoints[0].points[0].name}`)
		return st != "", st
	})
}
