//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/lab"
)

// idleWindow is how long an idle namespace is watched after its first sync.
const idleWindow = 60 * time.Second

// TestLabContinuousIdle is Continuous mode on an idle namespace: exactly one
// sync in 60 s. dr-syncer is deployed into dr (hack/lab/deploy.sh, so the
// lab's images must hold the code under test: `make lab-images` first), and
// an app in prod keeps data in a PVC. A Continuous Replication of it, with an
// hour's background interval, syncs at once; its PVC sync creates a
// credential Secret and a mount pod in the app's namespace and deletes them
// again (the test watches them come, so it knows the case happened). The user
// then changes nothing for 60 s, and no further sync may start: the
// controller's watch must not take dr-syncer's own objects or status updates
// for changes. Last, a user's new ConfigMap still starts a sync.
func TestLabContinuousIdle(t *testing.T) {
	app := fmt.Sprintf("drs-cont-%06x", rand.IntN(1<<24))
	prod, dr, root := deployedLab(t, app)

	// The app: a pod that wrote 2 MiB and 20 small files into its PVC and
	// keeps it mounted.
	kubectl(t, prod, "", "create", "namespace", app)
	(&pvcSyncEnv{prod: prod}).fillPVC(t, app, "data",
		`head -c 2097152 /dev/urandom > /data/blob; for i in $(seq 20); do echo "$i $RANDOM" > /data/$i.txt; done`)
	own := watchOwnObjects(t, prod, app)

	kubectl(t, dr, "", "apply", "-f", root+"/hack/lab/demo/clusters.yaml")
	kubectl(t, dr, fmt.Sprintf(`apiVersion: dr-syncer.io/v1alpha1
kind: Replication
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  clusterMappingRef: {name: prod-to-dr}
  sourceNamespace: %[1]s
  destinationNamespace: %[1]s-dr
  replicationMode: Continuous
  continuous: {backgroundSyncInterval: 1h}
  resourceTypes: ["*"]
  scaleToZero: true
  pvcConfig:
    syncData: true
    storageClassMappings: [{from: standard, to: fast}]
`, app, sys), "apply", "-f", "-")

	pollUntil(t, 4*time.Minute, "the first continuous sync of "+app+" Completed", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o",
			`jsonpath={.status.lastRun.result}|{.status.lastRun.workflowID}|{.status.conditions[?(@.type=="Synced")].message}`)
		if strings.HasPrefix(st, "Failed|") {
			t.Fatalf("the first sync of %s failed: %s", app, st)
		}
		return strings.HasPrefix(st, "Completed|"), st
	})
	kubectl(t, dr, "", "-n", app+"-dr", "get", "pvc", "data")
	if secrets, pods := own.seen(); secrets == 0 || pods == 0 {
		t.Errorf("the first sync made %d credential Secrets and %d mount pods in prod/%s; want both, or this test proves nothing", secrets, pods, app)
	}

	// The lab's Temporal (deploy.sh) listens on dr's node address.
	tc, err := client.Dial(client.Options{HostPort: net.JoinHostPort(dr.NodeIP, "7233"), Namespace: "default"})
	if err != nil {
		t.Fatalf("dial the lab's Temporal: %v", err)
	}
	defer tc.Close()
	syncs := func() []contract.ContinuousRun {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v, err := tc.QueryWorkflow(ctx, contract.ContinuousReplicationWorkflowID(sys, app), "", contract.ProgressQuery)
		if err != nil {
			t.Fatalf("query the continuous workflow: %v", err)
		}
		var st contract.ContinuousState
		if err := v.Get(&st); err != nil {
			t.Fatal(err)
		}
		return st.Recent
	}
	for deadline := time.Now().Add(idleWindow); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if runs := syncs(); len(runs) != 1 {
			t.Fatalf("%d syncs of an idle namespace; each names what started it: %+v", len(runs), runs)
		}
	}
	t.Logf("one sync, and none in the %s after it", idleWindow)

	// The watch still sees a user's change.
	kubectl(t, prod, "", "-n", app, "create", "configmap", "after-idle", "--from-literal=v=1")
	pollUntil(t, 90*time.Second, "a sync for a user's ConfigMap", func() (bool, string) {
		runs := syncs()
		return len(runs) == 2 && runs[1].Trigger == "ConfigMap/after-idle", fmt.Sprintf("%+v", runs)
	})
}

// deployedLab attaches to the lab, deploys dr-syncer into dr as a user
// would (hack/lab/deploy.sh), and when the test ends removes it, its
// resources and the namespaces of apps in both clusters
// (hack/lab/undeploy.sh). It returns prod, dr and the repository root.
func deployedLab(t *testing.T, apps ...string) (prod, dr *lab.Cluster, root string) {
	t.Helper()
	l := lab.Attach(t) // fails with "run make lab-up" without a lab
	prod, dr = l.MustCluster(t, lab.Prod), l.MustCluster(t, lab.DR)
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := labScript(root, 3*time.Minute, "undeploy.sh", append([]string{lab.DR}, apps...)...); err != nil {
			t.Errorf("hack/lab/undeploy.sh: %v\n%s", err, out)
		}
	})
	start := time.Now()
	if out, err := labScript(root, 3*time.Minute, "deploy.sh", lab.DR); err != nil {
		t.Fatalf("hack/lab/deploy.sh: %v\n%s", err, out)
	}
	t.Logf("dr-syncer deployed into dr in %.1fs", time.Since(start).Seconds())
	return prod, dr, root
}

// ownObjects counts the credential Secrets and mount pods dr-syncer creates
// in a namespace, from a watch: they live only for the length of a sync.
type ownObjects struct {
	mu            sync.Mutex
	secrets, pods map[string]bool
}

func (o *ownObjects) seen() (secrets, pods int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.secrets), len(o.pods)
}

// watchOwnObjects watches c's namespace ns for dr-syncer's own Secrets and
// pods until the test ends.
func watchOwnObjects(t *testing.T, c *lab.Cluster, ns string) *ownObjects {
	t.Helper()
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	selector := metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedBy + "," + kube.LabelOperation}
	o := &ownObjects{secrets: map[string]bool{}, pods: map[string]bool{}}
	for _, w := range []struct {
		start func(context.Context, metav1.ListOptions) (watch.Interface, error)
		into  map[string]bool
	}{
		{cs.CoreV1().Secrets(ns).Watch, o.secrets},
		{cs.CoreV1().Pods(ns).Watch, o.pods},
	} {
		wi, err := w.start(ctx, selector)
		if err != nil {
			t.Fatalf("%s: watch dr-syncer's objects in %s: %v", c.Name, ns, err)
		}
		go func() {
			defer wi.Stop()
			for ev := range wi.ResultChan() {
				if m, ok := ev.Object.(metav1.Object); ok && ev.Type == watch.Added {
					o.mu.Lock()
					w.into[m.GetName()] = true
					o.mu.Unlock()
				}
			}
		}()
	}
	return o
}
