//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// TestLabAgentOwnership runs the deployed system against the three agent
// faults seen in the lab: a second RemoteCluster for prod with another agent
// port, the agent DaemonSet deleted by hand, and a setting reverted A → B → A.
// After each, a sync of the demo app completes byte-identical.
func TestLabAgentOwnership(t *testing.T) {
	app := fmt.Sprintf("drs-agt-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	srcPod := deployDemoApp(t, prod, app)
	applyDemoReplication(t, dr, root, app, appDR)
	syncAndVerify := func(what string) {
		t.Helper()
		took := syncNowCompleted(t, dr, app, fmt.Sprint(time.Now().UnixNano()), 150*time.Second)
		if want, have := dataSums(t, prod, app, srcPod), dataSums(t, dr, appDR, verifyPod(t, dr, appDR)); want != have {
			t.Fatalf("%s: DR data differs from the source\nprod:\n%s\ndr:\n%s", what, want, have)
		}
		t.Logf("%s: sync completed in %.1fs, data byte-identical", what, took.Seconds())
	}
	syncAndVerify("first sync")
	agentPort := func() string {
		return kubectl(t, prod, "", "-n", "dr-syncer", "get", "daemonset", "dr-syncer-agent", "-o",
			"jsonpath={.spec.template.spec.containers[0].ports[0].containerPort}")
	}
	if p := agentPort(); p != "2322" {
		t.Fatalf("agent port %s, want prod RemoteCluster's 2322", p)
	}

	// A twin of prod with another port: a clear conflict, nothing re-rolled.
	kubectl(t, dr, twinRemoteCluster, "apply", "-f", "-")
	pollUntil(t, 90*time.Second, "prod-twin AgentConflict naming prod", func() (bool, string) {
		c := kubectl(t, dr, "", "-n", sys, "get", "remotecluster", "prod-twin", "-o",
			`jsonpath={.status.conditions[?(@.type=="AgentConflict")].status}|{.status.conditions[?(@.type=="AgentConflict")].message}`)
		return strings.HasPrefix(c, "True|") && strings.Contains(c, sys+"/prod"), c
	})
	if p := agentPort(); p != "2322" {
		t.Errorf("the twin re-rolled the agent: port %s, want 2322", p)
	}
	syncAndVerify("with a conflicting twin")
	// Deleted before the DaemonSet goes, so the twin cannot install its own.
	kubectl(t, dr, "", "-n", sys, "delete", "remotecluster", "prod-twin", "--wait=true")

	// The agent DaemonSet deleted by hand: seen within one health interval
	// (a minute) and re-applied.
	kubectl(t, prod, "", "-n", "dr-syncer", "delete", "daemonset", "dr-syncer-agent", "--wait=true")
	deleted := time.Now()
	pollUntil(t, 150*time.Second, "the missing agent reported and re-applied", func() (bool, string) {
		ev := kubectl(t, dr, "", "-n", sys, "get", "events", "--field-selector", "involvedObject.kind=RemoteCluster,involvedObject.name=prod",
			"-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
		ds, _ := tryKubectl(prod, "", "-n", "dr-syncer", "get", "daemonset", "dr-syncer-agent", "-o", "jsonpath={.status.numberReady}")
		return strings.Contains(ev, "missing") && ds == "1", "ready agents: " + ds + "; events: " + ev
	})
	t.Logf("deleted agent reported and back in %.1fs", time.Since(deleted).Seconds())
	syncAndVerify("after the agent was re-applied")

	// A → B → A: the revert is rolled out too.
	for _, port := range []string{"2323", "2322"} {
		kubectl(t, dr, "", "-n", sys, "patch", "remotecluster", lab.Prod, "--type=merge", "-p", `{"spec":{"pvcSync":{"ssh":{"port":`+port+`}}}}`)
		pollUntil(t, 120*time.Second, "agent on port "+port, func() (bool, string) {
			p := agentPort()
			ready, _ := tryKubectl(prod, "", "-n", "dr-syncer", "get", "daemonset", "dr-syncer-agent", "-o", "jsonpath={.status.updatedNumberScheduled}/{.status.numberReady}")
			return p == port && ready == "1/1", p + " " + ready
		})
	}
	syncAndVerify("after A → B → A")
}

// twinRemoteCluster describes prod again, with another agent port.
const twinRemoteCluster = `apiVersion: dr-syncer.io/v1alpha1
kind: RemoteCluster
metadata: {name: prod-twin, namespace: dr-syncer-system}
spec:
  kubeconfigSecretRef: {name: prod-kubeconfig, key: kubeconfig}
  pvcSync:
    enabled: true
    image: {repository: dr-syncer/dataplane, tag: dev, pullPolicy: IfNotPresent}
    ssh: {port: 2522}
`
