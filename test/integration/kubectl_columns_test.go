package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// `kubectl get repl` against a real API server with the generated CRD
// shows where each Replication copies, its mode and phase, when it last
// synced (the age is the RPO as kubectl shows it), when it syncs next (a
// future time prints as a time, not <invalid>) and how far the running sync
// is; -o wide adds the active side and the workflow ID.
func TestKubectlGetReplicationColumns(t *testing.T) {
	cluster := testenv.StartCluster(t, "source")
	kubectl := testenv.Binary(t, "kubectl")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, cluster.Kubeconfig, 0o600))
	ctx := context.Background()
	testenv.EnsureNamespace(t, cluster.Client, "ops")

	repl := &drv1.Replication{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "shop"},
		Spec: drv1.ReplicationSpec{SourceCluster: "prod", DestinationCluster: "dr", SourceNamespace: "shop",
			ReplicationMode: drv1.ModeScheduled, Schedule: "0 * * * *"},
	}
	require.NoError(t, cluster.Client.Create(ctx, repl))
	next := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	repl.Status = drv1.ReplicationStatus{
		Phase:        drv1.PhaseRunning,
		Route:        "prod/shop → dr/shop",
		LastSyncTime: &metav1.Time{Time: time.Now().Add(-90 * time.Minute)},
		NextSyncTime: &metav1.Time{Time: next},
		SyncProgress: &drv1.SyncProgress{PercentComplete: 45, PVCsDone: 3, PVCsTotal: 10, Summary: "3/10 PVCs, 45%"},
		CurrentRun:   &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/scheduled-1", RunID: "r1", WebUI: "http://localhost:8233/x"},
	}
	require.NoError(t, cluster.Client.Status().Update(ctx, repl))

	get := func(args ...string) ([]string, map[string]string) {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig, "get", "repl", "-n", "ops"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "kubectl get repl: %s", out)
		return columns(t, string(out))
	}

	header, row := get()
	assert.Equal(t, []string{"NAME", "SOURCE → DESTINATION", "MODE", "PHASE", "LAST SYNC", "NEXT SYNC", "PROGRESS", "AGE"}, header)
	assert.Equal(t, "shop", row["NAME"])
	assert.Equal(t, "prod/shop → dr/shop", row["SOURCE → DESTINATION"])
	assert.Equal(t, "Scheduled", row["MODE"])
	assert.Equal(t, "Running", row["PHASE"])
	assert.Regexp(t, `^(89|90|91)m$`, row["LAST SYNC"], "the last sync's age")
	assert.Equal(t, next.Format(time.RFC3339), row["NEXT SYNC"], "a future next sync prints as a time")
	assert.Equal(t, "3/10 PVCs, 45%", row["PROGRESS"])

	header, wide := get("-o", "wide")
	assert.Equal(t, []string{"NAME", "SOURCE → DESTINATION", "MODE", "PHASE", "LAST SYNC", "NEXT SYNC", "PROGRESS", "ACTIVE", "WORKFLOW", "AGE"}, header)
	assert.Equal(t, "replication/ops/shop/scheduled-1", wide["WORKFLOW"])
	assert.Empty(t, wide["ACTIVE"], "never failed over")

	// describe shows the running workflow and its Web UI link.
	out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "describe", "repl", "-n", "ops", "shop").CombinedOutput()
	require.NoError(t, err, "kubectl describe repl: %s", out)
	assert.Regexp(t, `Current Run:\s+Run ID:\s+r1\s+Web UI:\s+http://localhost:8233/x\s+Workflow ID:\s+replication/ops/shop/scheduled-1`, string(out))
}

// columnGap separates kubectl's header names: columns are padded with at
// least three spaces, and no header name holds two in a row.
var columnGap = regexp.MustCompile(`\s{2,}`)

// columns reads a one-row kubectl table: its header names in order, and
// header → value. Values are cut at the header's column starts, since an
// empty value leaves no text of its own.
func columns(t *testing.T, table string) ([]string, map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	require.Len(t, lines, 2, "one header and one row:\n%s", table)
	head, line := []rune(lines[0]), []rune(lines[1])
	header := columnGap.Split(strings.TrimSpace(lines[0]), -1)
	starts := make([]int, len(header))
	for i, h := range header {
		from := 0
		if i > 0 {
			from = starts[i-1] + 1
		}
		at := strings.Index(string(head[from:]), h)
		require.GreaterOrEqual(t, at, 0, "header %q in %q", h, lines[0])
		starts[i] = from + len([]rune(string(head[from:])[:at]))
	}
	row := map[string]string{}
	for i, h := range header {
		end := len(line)
		if i+1 < len(starts) {
			end = min(starts[i+1], len(line))
		}
		if starts[i] < end {
			row[h] = strings.TrimSpace(string(line[starts[i]:end]))
		}
	}
	return header, row
}
