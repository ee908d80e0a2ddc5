//go:build e2e && bench

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// followWithController runs the real controller out of process, watching
// only the fan-out's control namespace, and hands it each run the bench
// starts as the Replication's current run: it then polls the run and
// writes its progress and outcome to the status as it would for a run it
// started, so its memory is measured under a real run's load. The
// returned check fails t unless the controller recorded runID as the last
// run; the process goes when t ends.
func (f *fanOut) followWithController(t *testing.T, bin string) (ctl *exec.Cmd, recorded func(runID string)) {
	t.Helper()
	// Registered before the process starts, so it runs after the process
	// is stopped: the controller's finalizers on the RemoteClusters and the
	// Replication would hold the namespace and the CRDs the test deletes.
	t.Cleanup(func() {
		for _, kind := range []string{"replications", "remoteclusters"} {
			out, err := tryKubectl(f.e.prod, "", "-n", f.ctlNS, "get", kind, "-o", "name")
			if err != nil {
				continue
			}
			for _, obj := range strings.Fields(out) {
				_, _ = tryKubectl(f.e.prod, "", "-n", f.ctlNS, "patch", obj, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
			}
		}
	})
	ctl = startProcess(t, "controller", bin, "--kubeconfig", f.e.prod.Kubeconfig, "--temporal-address", f.e.tp.Address,
		"--temporal-namespace", f.e.tp.Namespace, "--metrics-addr", freeLocalAddr(t), "--health-probe-addr", freeLocalAddr(t),
		"--watch-namespaces", f.ctlNS, "--system-namespace", f.ctlNS, "--log-format", "console")
	f.started = func(runID string) {
		kubectl(t, f.e.prod, "", "-n", f.ctlNS, "patch", "replication", f.rep.Name, "--subresource=status", "--type=merge",
			"-p", fmt.Sprintf(`{"status":{"currentRun":{"workflowID":%q,"runID":%q}}}`, f.workflowID(), runID))
		// A status change alone does not wake the controller; an annotation does.
		kubectl(t, f.e.prod, "", "-n", f.ctlNS, "annotate", "replication", f.rep.Name, "--overwrite", "bench.dr-syncer.io/run="+runID)
	}
	control, err := ctrlclient.New(f.e.prod.Config, ctrlclient.Options{Scheme: kube.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return ctl, func(runID string) {
		t.Helper()
		pollUntil(t, time.Minute, "the controller records run "+runID+" as the last run", func() (bool, string) {
			var r drv1.Replication
			if err := control.Get(context.Background(), ctrlclient.ObjectKeyFromObject(f.rep), &r); err != nil {
				return false, err.Error()
			}
			return r.Status.LastRun != nil && r.Status.LastRun.RunID == runID, fmt.Sprintf("lastRun %+v", r.Status.LastRun)
		})
	}
}
