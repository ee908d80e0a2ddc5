//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/lab"
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
	l := lab.Attach(t) // fails with "run make lab-up" without a lab
	prod, dr := l.MustCluster(t, lab.Prod), l.MustCluster(t, lab.DR)
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	const sys = "dr-syncer-system"
	app := fmt.Sprintf("drs-dep-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"

	t.Cleanup(func() {
		start := time.Now()
		if out, err := labScript(root, 3*time.Minute, "undeploy.sh", lab.DR, app); err != nil {
			t.Errorf("hack/lab/undeploy.sh: %v\n%s", err, out)
		}
		t.Logf("cleanup (CRs, agent, namespaces, dr-syncer) took %.1fs", time.Since(start).Seconds())
	})
	start := time.Now()
	if out, err := labScript(root, 3*time.Minute, "deploy.sh", lab.DR); err != nil {
		t.Fatalf("hack/lab/deploy.sh: %v\n%s", err, out)
	}
	t.Logf("dr-syncer deployed into dr in %.1fs", time.Since(start).Seconds())

	// The app in prod: a Deployment writing 4 MiB and 50 small files into its PVC.
	kubectl(t, prod, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: %[1]s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: %[1]s}
data: {mode: e2e}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: dr-syncer/base:dev
        imagePullPolicy: IfNotPresent
        command: [bash, -c, 'head -c 4194304 /dev/urandom > /data/db.bin; mkdir -p /data/f; for i in $(seq 50); do echo "row $i $RANDOM" > /data/f/$i.txt; done; touch /data/.done; exec sleep infinity']
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`, app), "apply", "-f", "-")
	kubectl(t, prod, "", "-n", app, "rollout", "status", "deployment/db", "--timeout=120s")
	srcPod := strings.TrimSpace(kubectl(t, prod, "", "-n", app, "get", "pod", "-l", "app=db",
		"--field-selector=status.phase=Running", "-o", "jsonpath={.items[0].metadata.name}"))
	pollUntil(t, 60*time.Second, "the app's data in prod", func() (bool, string) {
		_, err := tryKubectl(prod, "", "-n", app, "exec", srcPod, "--", "test", "-f", "/data/.done")
		return err == nil, fmt.Sprint(err)
	})

	// What a user applies: the demo's clusters and mapping, and a Replication like
	// the demo's for this test's namespace.
	clusters := filepath.Join(root, "hack/lab/demo/clusters.yaml")
	repl, err := os.ReadFile(filepath.Join(root, "hack/lab/demo/replication.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	replYAML := strings.NewReplacer("name: shop\n", "name: "+app+"\n",
		"sourceNamespace: shop\n", "sourceNamespace: "+app+"\n",
		"destinationNamespace: shop-dr\n", "destinationNamespace: "+appDR+"\n").Replace(string(repl))
	if !strings.Contains(replYAML, "sourceNamespace: "+app) || !strings.Contains(replYAML, "destinationNamespace: "+appDR) {
		t.Fatalf("hack/lab/demo/replication.yaml no longer has the shape this test rewrites:\n%s", replYAML)
	}
	kubectl(t, dr, "", "apply", "-f", clusters)
	kubectl(t, dr, replYAML, "apply", "-f", "-")
	value := fmt.Sprint(time.Now().UnixNano())
	syncNow := time.Now()
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/sync-now="+value, "--overwrite")

	// The run: Completed for this value, with lastSyncTime.
	var took time.Duration
	pollUntil(t, 150*time.Second, "Replication "+app+" Completed", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
			`jsonpath={.status.syncNowHandled}|{.status.phase}|{.status.lastSyncTime}|{.status.conditions[?(@.type=="Synced")].message}`)
		f := strings.SplitN(st, "|", 4)
		if len(f) == 4 && f[0] == value && f[1] == "Failed" {
			t.Fatalf("Replication %s failed: %s", app, f[3])
		}
		if len(f) == 4 && f[0] == value && f[1] == "Completed" && f[2] != "" {
			took = time.Since(syncNow)
			return true, st
		}
		return false, st
	})
	t.Logf("sync-now → Completed in %.1fs (agent rollout, keys, objects, PVC data)", took.Seconds())
	got := kubectl(t, dr, "", "-n", sys, "get", "repl", app)
	t.Logf("kubectl get repl:\n%s", got)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "LAST SYNC") {
		t.Fatalf("kubectl get repl %s: unexpected output\n%s", app, got)
	}
	cols := strings.Fields(lines[1])
	if len(cols) < 4 || cols[1] != "Completed" || cols[2] != "Manual" {
		t.Errorf("kubectl get repl %s: want PHASE Completed, MODE Manual and a LAST SYNC age; got %q", app, lines[1])
	}

	// The agent, rolled out into prod by the system.
	ds := kubectl(t, prod, "", "-n", "dr-syncer", "get", "daemonset", "dr-syncer-agent", "-o",
		"jsonpath={.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled} {.spec.template.spec.containers[0].image}")
	if f := strings.Fields(ds); len(f) != 4 || f[0] == "0" || f[0] != f[1] || f[0] != f[2] || f[3] != "dr-syncer/dataplane:dev" {
		t.Errorf("agent DaemonSet dr-syncer/dr-syncer-agent in prod: desired ready updated image = %q, want all nodes ready with dr-syncer/dataplane:dev", ds)
	}

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
	kubectl(t, dr, `apiVersion: v1
kind: Pod
metadata: {name: verify}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: v, image: dr-syncer/base:dev, imagePullPolicy: IfNotPresent, command: [sleep, infinity], volumeMounts: [{name: d, mountPath: /data, readOnly: true}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
`, "-n", appDR, "apply", "-f", "-")
	waitReady(t, dr, appDR, "verify")
	sums := `cd /data && find . -type f -print0 | sort -z | xargs -0 sha256sum`
	want := kubectl(t, prod, "", "-n", app, "exec", srcPod, "--", "bash", "-c", sums)
	have := kubectl(t, dr, "", "-n", appDR, "exec", "verify", "--", "bash", "-c", sums)
	if n := strings.Count(want, "\n"); n != 52 {
		t.Errorf("source has %d files, want 52", n)
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
