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

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// TestLabHelmInstallSyncsAndUninstallsClean is TestLabDeployedSyncNow with
// dr-syncer installed into dr from the chart (hack/lab/deploy.sh with
// DEPLOY_WITH=helm) instead of kustomize: a sync-now of the demo app must
// complete with the data byte-identical. Then `helm uninstall` must leave no
// dr-syncer workload behind, and keep what DR depends on: the CRDs, the
// Replication and the DR copy of the app's data.
func TestLabHelmInstallSyncsAndUninstallsClean(t *testing.T) {
	t.Setenv("DEPLOY_WITH", "helm") // read by deploy.sh and undeploy.sh; restored after deployedLab's cleanup
	app := fmt.Sprintf("drs-helm-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	if st := helmCmd(t, root, dr, "status", "dr-syncer", "--namespace", sys, "-o", "json"); !strings.Contains(st, `"status":"deployed"`) {
		t.Fatalf("helm status dr-syncer: not deployed:\n%s", st)
	}

	srcPod := deployDemoApp(t, prod, app)
	applyDemoReplication(t, dr, root, app, appDR)
	took := syncNowCompleted(t, dr, app, fmt.Sprint(time.Now().UnixNano()), 150*time.Second)
	t.Logf("sync-now → Completed in %.1fs with the chart's controller and worker", took.Seconds())
	want := dataSums(t, prod, app, srcPod)
	verify := verifyPod(t, dr, appDR)
	have := dataSums(t, dr, appDR, verify)
	if n := strings.Count(want, "\n"); n != 53 {
		t.Errorf("source has %d files, want 53", n)
	}
	if want != have {
		t.Fatalf("DR data differs from the source\nprod:\n%s\ndr:\n%s", want, have)
	}
	t.Logf("%d files byte-identical in prod/%s and dr/%s", strings.Count(want, "\n"), app, appDR)

	// undeploy.sh (deployedLab's cleanup) needs a running controller for the
	// Replication's finalizers: reinstall before it runs.
	t.Cleanup(func() {
		if out, err := labScript(root, 6*time.Minute, "deploy.sh", lab.DR); err != nil {
			t.Errorf("reinstall for cleanup: hack/lab/deploy.sh: %v\n%s", err, out)
		}
	})
	helmCmd(t, root, dr, "uninstall", "dr-syncer", "--namespace", sys, "--cascade", "foreground", "--wait", "--timeout", "2m")

	// No dr-syncer workload: no pods (once terminated), nothing that makes them,
	// no Services, ServiceAccounts or cluster-wide grants.
	pollUntil(t, 90*time.Second, "dr-syncer pods gone after helm uninstall", func() (bool, string) {
		out := kubectl(t, dr, "", "-n", sys, "get", "pods", "-l", "app.kubernetes.io/name=dr-syncer", "-o", "name")
		return strings.TrimSpace(out) == "", out
	})
	if left := kubectl(t, dr, "", "-n", sys, "get", "deployments,replicasets,jobs,services,serviceaccounts,configmaps,roles,rolebindings",
		"-o", "name"); strings.Contains(left, "dr-syncer") {
		t.Errorf("helm uninstall left dr-syncer objects in %s:\n%s", sys, left)
	}
	for _, kind := range []string{"clusterrole", "clusterrolebinding"} {
		for _, name := range []string{"dr-syncer-controller", "dr-syncer-worker"} {
			if out, err := tryKubectl(dr, "", "get", kind, name, "-o", "name"); err == nil {
				t.Errorf("helm uninstall left %s", strings.TrimSpace(out))
			}
		}
	}

	// What stays, so uninstalling never takes DR data with it.
	for _, crd := range []string{"replications.dr-syncer.io", "clustermappings.dr-syncer.io", "remoteclusters.dr-syncer.io"} {
		kubectl(t, dr, "", "get", "crd", crd, "-o", "name")
	}
	kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", "name")
	if again := dataSums(t, dr, appDR, verify); again != want {
		t.Errorf("the DR copy changed after helm uninstall\nbefore:\n%s\nafter:\n%s", want, again)
	}
}

// helmCmd runs the tools' helm against cluster c and returns its output,
// failing the test on an error.
func helmCmd(t *testing.T, root string, c *lab.Cluster, args ...string) string {
	t.Helper()
	bin := filepath.Join(lab.BinDir(), "helm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v (missing? run `make tools`)\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
