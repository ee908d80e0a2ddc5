//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLabDeployedSyncNow is `make demo` as a test: dr-syncer deployed into dr from
// deploy/ (hack/lab/deploy.sh: Temporal dev server, kubectl apply -k, in-cluster
// controller and worker), then only kubectl: the demo's RemoteClusters and
// ClusterMapping (hack/lab/demo/clusters.yaml), a Manual Replication of a fresh app
// namespace and the sync-now annotation. It checks that the system rolled its
// agent out into prod, ran the Replication to Completed with lastSyncTime set,
// and that the app's objects and PVC data arrived in dr, the data byte-identical.
// It removes everything it made (hack/lab/undeploy.sh), dr-syncer included.
func TestLabDeployedSyncNow(t *testing.T) {
	app := fmt.Sprintf("drs-dep-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)

	srcPod := deployDemoApp(t, prod, app)
	applyDemoReplication(t, dr, root, app, appDR)
	value := fmt.Sprint(time.Now().UnixNano())
	took := syncNowCompleted(t, dr, app, value, 150*time.Second)
	t.Logf("sync-now → Completed in %.1fs (agent rollout, keys, objects, PVC data)", took.Seconds())
	got := kubectl(t, dr, "", "-n", sys, "get", "repl", app)
	t.Logf("kubectl get repl:\n%s", got)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "SOURCE → DESTINATION") || !strings.Contains(lines[0], "LAST SYNC") {
		t.Fatalf("kubectl get repl %s: unexpected output\n%s", app, got)
	}
	// NAME, the route (three words), MODE, PHASE, the LAST SYNC age, AGE.
	cols := strings.Fields(lines[1])
	if len(cols) < 8 || strings.Join(cols[1:4], " ") != "prod/"+app+" → dr/"+appDR || cols[4] != "Manual" || cols[5] != "Completed" {
		t.Errorf("kubectl get repl %s: want prod/%s → dr/%s, MODE Manual, PHASE Completed and a LAST SYNC age; got %q", app, app, appDR, lines[1])
	}

	// The agent, rolled out into prod by the system. The sync needs only its SSH
	// port, so it can finish before the readiness probe (every 10 s) has passed:
	// wait for Ready as `kubectl rollout status` would, within two probe periods.
	pollUntil(t, 30*time.Second, "agent DaemonSet dr-syncer/dr-syncer-agent in prod: all nodes ready with dr-syncer/dataplane:dev", func() (bool, string) {
		ds := kubectl(t, prod, "", "-n", "dr-syncer", "get", "daemonset", "dr-syncer-agent", "-o",
			"jsonpath={.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled} {.spec.template.spec.containers[0].image}")
		f := strings.Fields(ds)
		return len(f) == 4 && f[0] != "0" && f[0] == f[1] && f[0] == f[2] && f[3] == "dr-syncer/dataplane:dev", "desired ready updated image = " + ds
	})

	// The objects in dr: the Deployment scaled to zero with its original replicas
	// recorded, the ConfigMap, the PVC in the mapped class.
	dep := kubectl(t, dr, "", "-n", appDR, "get", "deployment", "db", "-o",
		`jsonpath={.spec.replicas} {.metadata.annotations.dr-syncer\.io/original-replicas}`)
	if dep != "0 1" {
		t.Errorf("deployment %s/db in dr: replicas and dr-syncer.io/original-replicas = %q, want \"0 1\"", appDR, dep)
	}
	kubectl(t, dr, "", "-n", appDR, "get", "configmap", "app-config")
	if sc := kubectl(t, dr, "", "-n", appDR, "get", "pvc", "data", "-o", "jsonpath={.spec.storageClassName}"); sc != "fast" {
		t.Errorf("PVC %s/data in dr has class %q, want the mapped class fast", appDR, sc)
	}

	// The data: sha256 of every file, in a pod on each side.
	want := dataSums(t, prod, app, srcPod)
	have := dataSums(t, dr, appDR, verifyPod(t, dr, appDR))
	if n := strings.Count(want, "\n"); n != 53 {
		t.Errorf("source has %d files, want 53", n)
	}
	if want != have {
		t.Errorf("DR data differs from the source\nprod:\n%s\ndr:\n%s", want, have)
	} else {
		t.Logf("%d files byte-identical in prod/%s and dr/%s", strings.Count(want, "\n"), app, appDR)
	}
}

// labScript runs hack/lab/NAME with args and returns its combined output.
func labScript(root string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(root, "hack/lab", name), args...).CombinedOutput()
	return string(out), err
}

// pollUntil polls cond every second until it holds; after timeout it fails the
// test with what cond last reported.
func pollUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		time.Sleep(time.Second)
	}
}
