//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// sys is the namespace dr-syncer is deployed into and its resources live in.
const sys = "dr-syncer-system"

// deployDemoApp creates the demo app in namespace app of prod: a
// ConfigMap and a Deployment whose first start writes 4 MiB and 50 small
// files into its PVC; every start, in whichever cluster, appends a line to
// /data/starts.log. It returns the app's pod once its data is written.
func deployDemoApp(t *testing.T, prod *lab.Cluster, app string) string {
	t.Helper()
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
        command: [bash, -c, 'if [ ! -f /data/.done ]; then head -c 4194304 /dev/urandom > /data/db.bin; mkdir -p /data/f; for i in $(seq 50); do echo "row $i $RANDOM" > /data/f/$i.txt; done; touch /data/.done; fi; echo "started $HOSTNAME" >> /data/starts.log; exec sleep infinity']
        readinessProbe: {exec: {command: [test, -f, /data/.done]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`, app), "apply", "-f", "-")
	kubectl(t, prod, "", "-n", app, "rollout", "status", "deployment/db", "--timeout=120s")
	pod := appPod(t, prod, app)
	pollUntil(t, 60*time.Second, "the app's data in prod", func() (bool, string) {
		_, err := tryKubectl(prod, "", "-n", app, "exec", pod, "--", "test", "-f", "/data/.done")
		return err == nil, fmt.Sprint(err)
	})
	return pod
}

// appPod is the running pod of the demo app in namespace ns.
func appPod(t *testing.T, c *lab.Cluster, ns string) string {
	t.Helper()
	return strings.TrimSpace(kubectl(t, c, "", "-n", ns, "get", "pod", "-l", "app=db",
		"--field-selector=status.phase=Running", "-o", "jsonpath={.items[0].metadata.name}"))
}

// applyDemoReplication applies what a user applies: the demo's clusters
// and mapping, and a Replication like the demo's from app to appDR.
func applyDemoReplication(t *testing.T, dr *lab.Cluster, root, app, appDR string) {
	t.Helper()
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
	kubectl(t, dr, "", "apply", "-f", filepath.Join(root, "hack/lab/demo/clusters.yaml"))
	kubectl(t, dr, replYAML, "apply", "-f", "-")
}

// syncNowCompleted annotates Replication app with sync-now=value and waits
// until that run Completed; it returns how long that took.
func syncNowCompleted(t *testing.T, dr *lab.Cluster, app, value string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/sync-now="+value, "--overwrite")
	pollUntil(t, timeout, "Replication "+app+" Completed", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
			`jsonpath={.status.syncNowHandled}|{.status.phase}|{.status.lastSyncTime}|{.status.conditions[?(@.type=="Synced")].message}`)
		f := strings.SplitN(st, "|", 4)
		if len(f) == 4 && f[0] == value && f[1] == "Failed" {
			t.Fatalf("Replication %s failed: %s", app, f[3])
		}
		return len(f) == 4 && f[0] == value && f[1] == "Completed" && f[2] != "", st
	})
	return time.Since(start)
}

// verifyPod starts a pod mounting PVC data of ns read-only and returns its name.
func verifyPod(t *testing.T, c *lab.Cluster, ns string) string {
	t.Helper()
	kubectl(t, c, `apiVersion: v1
kind: Pod
metadata: {name: verify}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: v, image: dr-syncer/base:dev, imagePullPolicy: IfNotPresent, command: [sleep, infinity], volumeMounts: [{name: d, mountPath: /data, readOnly: true}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
`, "-n", ns, "apply", "-f", "-")
	waitReady(t, c, ns, "verify")
	return "verify"
}

// dataSums is the sha256 of every file under /data in pod, in name order;
// exclude names files (as find prints them, "./starts.log") to leave out.
func dataSums(t *testing.T, c *lab.Cluster, ns, pod string, exclude ...string) string {
	t.Helper()
	filter := ""
	for _, e := range exclude {
		filter += fmt.Sprintf(" ! -path %q", e)
	}
	return kubectl(t, c, "", "-n", ns, "exec", pod, "--", "bash", "-c",
		"cd /data && find . -type f"+filter+" -print0 | sort -z | xargs -0 sha256sum")
}
