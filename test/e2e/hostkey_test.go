//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
)

// TestLabHostKeyRotatedMidTransfer rotates prod's agent host key with
// `drsyncer rotate-host-key` while the deployed system syncs 256 MiB
// through that agent. The agents restart with the new key mid-transfer;
// the sync must still complete byte-identical, the rotation must end with
// the previous key dropped, and a sync afterwards, which pins only the new
// key, must complete too.
func TestLabHostKeyRotatedMidTransfer(t *testing.T) {
	app := fmt.Sprintf("drs-hk-%06x", rand.IntN(1<<24))
	appDR := app + "-dr"
	prod, dr, root := deployedLab(t, app)
	srcPod := deployDemoApp(t, prod, app)
	kubectl(t, prod, "", "-n", app, "exec", srcPod, "--", "bash", "-c", "head -c 268435456 /dev/urandom > /data/big.bin")
	applyDemoReplication(t, dr, root, app, appDR)
	// 8 MiB/s: the transfer lasts about 32 s, long enough to rotate under
	// it. At 16 MiB/s a CI run once saw the sync end 3 s after the rotation
	// was asked, before the agents restarted.
	kubectl(t, dr, "", "-n", sys, "patch", "replication", app, "--type=merge", "-p", `{"spec":{"pvcConfig":{"dataSyncConfig":{"bandwidthLimit":8192}}}}`)
	secret := contract.AgentHostKeySecretName("prod")
	hostPub := func() string {
		return kubectl(t, dr, "", "-n", sys, "get", "secret", secret, "-o", `jsonpath={.data.ssh_host_ed25519_key\.pub}|{.data.ssh_host_ed25519_key\.previous\.pub}`)
	}

	value := fmt.Sprint(time.Now().UnixNano())
	kubectl(t, dr, "", "-n", sys, "annotate", "replication", app, "dr-syncer.io/sync-now="+value, "--overwrite")
	pollUntil(t, 120*time.Second, "the transfer of "+app+" moving bytes", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", `jsonpath={.status.syncNowHandled}|{.status.syncProgress.bytesTransferred}|{.status.phase}`)
		f := strings.Split(st, "|")
		n, _ := strconv.ParseInt(f[1], 10, 64)
		if f[0] == value && f[2] == "Completed" {
			t.Fatalf("the sync completed before the rotation could start: raise the volume or lower the bandwidth limit")
		}
		return f[0] == value && n > 0, st
	})
	before := hostPub()
	cli := buildCommand(t, "drsyncer")
	asked := time.Now().Add(-time.Second) // creation times are whole seconds
	out, err := exec.Command(cli, "rotate-host-key", sys+"/prod", "--kubeconfig", dr.Kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("drsyncer rotate-host-key %s/prod: %v\n%s", sys, err, out)
	}
	t.Logf("drsyncer rotate-host-key: %s", out)

	// The sync completes through the agents restarting with the new key.
	pollUntil(t, 240*time.Second, "Replication "+app+" Completed across the rotation", func() (bool, string) {
		st := kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", `jsonpath={.status.syncNowHandled}|{.status.phase}`)
		if st == value+"|Failed" {
			t.Fatalf("Replication %s failed across the host key rotation: %s", app,
				kubectl(t, dr, "", "-n", sys, "get", "replication", app, "-o", "jsonpath={.status.lastError}"))
		}
		return st == value+"|Completed", st
	})
	completed := time.Now()
	// The agent restarted with the new key while the transfer ran: that is
	// what this test is about.
	agents := strings.Fields(kubectl(t, prod, "", "-n", "dr-syncer", "get", "pods", "-l", "app.kubernetes.io/name=dr-syncer-agent",
		"-o", `jsonpath={range .items[*]}{.metadata.creationTimestamp}{" "}{end}`))
	if len(agents) == 0 {
		t.Errorf("no agent pod in prod's dr-syncer namespace")
	}
	for _, created := range agents {
		at, err := time.Parse(time.RFC3339, created)
		if err != nil || at.Before(asked) || at.After(completed) {
			t.Errorf("agent pod in prod created at %s, want between the rotation (%s) and the sync's end (%s)", created, asked.Format(time.RFC3339), completed.Format(time.RFC3339))
		}
	}
	// The rotation ends once every node runs the new key, and the previous
	// key is no longer pinned.
	pollUntil(t, 180*time.Second, "RemoteCluster prod's host key rotation complete", func() (bool, string) {
		c := kubectl(t, dr, "", "-n", sys, "get", "remotecluster", "prod", "-o",
			`jsonpath={.status.conditions[?(@.type=="HostKeyRotating")].status}|{.status.conditions[?(@.type=="HostKeyRotating")].reason}|{.status.conditions[?(@.type=="HostKeyRotating")].message}`)
		return strings.HasPrefix(c, "False|RotationComplete|"), c
	})
	after := hostPub()
	cur, prev, _ := strings.Cut(after, "|")
	if cur == strings.Split(before, "|")[0] || prev != "" {
		t.Errorf("host key Secret %s/%s after the rotation: want a new public key and no previous one; before %q, after %q", sys, secret, before, after)
	}

	want := dataSums(t, prod, app, srcPod)
	have := dataSums(t, dr, appDR, verifyPod(t, dr, appDR))
	if !strings.Contains(want, "big.bin") || want != have {
		t.Errorf("DR data differs from the source after the rotation\nprod:\n%s\ndr:\n%s", want, have)
	}

	// A sync after the rotation pins only the new key.
	took := syncNowCompleted(t, dr, app, fmt.Sprint(time.Now().UnixNano()), 150*time.Second)
	t.Logf("sync after the rotation completed in %.1fs", took.Seconds())
}
