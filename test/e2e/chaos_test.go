//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// TestLabChaos breaks one part of the system in the middle of a real
// transfer and checks that the sync still ends with a byte-identical DR copy
// and nothing left behind in either cluster. Each scenario has its own PVC;
// they run one after another because most faults (a Temporal restart, a
// stopped kube-apiserver, the agent's restart) hit everything running.
func TestLabChaos(t *testing.T) {
	e := setupPVCSync(t)
	for _, sc := range []struct {
		name  string
		fault func(t *testing.T)
	}{
		{"TemporalRestart", func(t *testing.T) { e.tp.Restart(t) }},
		{"SourceAPIServerDown30s", func(t *testing.T) {
			resume := stopAPIServer(t, e.prod)
			defer resume()
			time.Sleep(30 * time.Second)
		}},
		{"SyncPodDeleted", func(t *testing.T) {
			kubectl(t, e.dr, "", "-n", e.dstNS, "delete", "pod", "-l", kube.LabelRole+"=sync", "--wait=false")
		}},
		{"AgentRestarted", func(t *testing.T) {
			kubectl(t, e.prod, "", "-n", e.agent.namespace, "delete", "pod", "--all", "--wait=false")
		}},
		{"MountPodDeleted", func(t *testing.T) {
			kubectl(t, e.prod, "", "-n", e.srcNS, "delete", "pod", "-l", kube.LabelRole+"=mount", "--wait=false")
		}},
	} {
		t.Run(sc.name, func(t *testing.T) { e.survives(t, sc.fault) })
	}
	t.Run("ClusterKeyRotated", func(t *testing.T) {
		// The whole rotation at once, the old key dropped: the open
		// connection of the running sync carries on, and once the agent
		// has the new key, the next sync logs in with a certificate from it.
		var authorized string
		e.survives(t, func(t *testing.T) { authorized = e.rotateClusterKey(t) })
		// The kubelet brings the Secret's new version into the agent's
		// volume within its sync period; the agent reads it on the next login.
		pollUntil(t, 3*time.Minute, "the new key in the agent's volume", func() (bool, string) {
			have, _ := tryKubectl(e.prod, "", "-n", e.agent.namespace, "exec", "daemonset/"+e.agent.name, "--",
				"cat", "/etc/dr-syncer/authorized-keys/authorized_keys")
			return strings.Contains(have, strings.TrimSpace(authorized)), have
		})
		e.survives(t, func(*testing.T) {})
	})
}

// rotateClusterKey replaces the cluster-pair key in the control cluster and
// in the agent's trusted set, as a completed rotation leaves them, and
// returns the new key's authorized_keys line.
func (e *pvcSyncEnv) rotateClusterKey(t *testing.T) string {
	t.Helper()
	pair, err := keys.GenerateClusterPairKey("dr-syncer prod->dr e2e rotated")
	if err != nil {
		t.Fatal(err)
	}
	secret := func(ns, name, key string, value []byte) string {
		b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]string{"name": name, "namespace": ns},
			"data":     map[string][]byte{key: value}})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	kubectl(t, e.dr, secret(e.controlNS, e.clusterKey.Name, kube.SecretKeyClusterKey, pair.PrivateKey.Reveal()), "apply", "-f", "-")
	kubectl(t, e.prod, secret(e.agent.namespace, agentdeploy.Defaults().AuthorizedKeysSecret, "authorized_keys", pair.AuthorizedKey), "apply", "-f", "-")
	t.Logf("cluster-pair key rotated to %s mid-transfer", pair.Fingerprint)
	return string(pair.AuthorizedKey)
}

// survives fills a PVC, starts its sync at 2 MiB/s (about 12 s of transfer),
// runs fault once bytes are moving, and checks the outcome.
func (e *pvcSyncEnv) survives(t *testing.T, fault func(t *testing.T)) {
	name := fmt.Sprintf("chaos-%d", time.Now().UnixNano()%1e6)
	want := e.fillBig(t, name, 24)
	run := e.startSync(t, name, e.input(name, rsyncargs.Config{BandwidthLimitKiB: 2048}), e.tp.TaskQueue)
	e.waitBytesMoved(t, run)
	began := time.Now()
	fault(t)
	res := e.waitSync(t, run)
	t.Logf("completed %.1fs after the fault; resumed from %d bytes, moved %d of %d",
		time.Since(began).Seconds(), res.Transfer.ResumedFromBytes,
		res.Transfer.Stats.TotalTransferredFileSize, res.Transfer.Stats.TotalFileSize)
	if got := e.drChecksums(t, name); got != want {
		t.Errorf("%s: DR copy differs from the source after the fault\nsource:\n%s\ndr:\n%s", name, want, got)
	}
	e.assertNothingLeft(t)
}
