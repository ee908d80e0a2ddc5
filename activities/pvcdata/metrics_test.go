package pvcdata

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
)

var metricsTransfer = contract.TransferInput{
	PVC:       contract.PVCRef{Cluster: contract.ClusterRef{Namespace: "dr-syncer", Name: "dr"}, Namespace: "shop", Name: "data-0"},
	Authority: &contract.PlanRequest{Replication: contract.ObjectRef{Namespace: "shop-ns", Name: "shop-db"}},
	Progress:  &contract.ProgressTarget{WorkflowID: "replication/shop-ns/shop-db/x", RunID: "r1", PVC: "data-0"},
}

var metricsLabels = map[string]string{"replication_namespace": "shop-ns", "replication": "shop-db", "pvc": "data-0"}

// scrape flushes the scope and reads the worker's /metrics as Prometheus would.
func scrape(t *testing.T, m *telemetry.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	require.NoError(t, m.Close())
	return metricstest.Scrape(t, m.Handler())
}

func gauge(t *testing.T, families map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no %s on /metrics", name)
	v, ok := metricstest.Value(f, metricsLabels)
	require.True(t, ok, "no %s series for %v", name, metricsLabels)
	return v
}

// While a transfer runs, /metrics shows it running with its bytes, size,
// share done and rate, under the contract's names, types and labels.
func TestTransferGaugesShowARunningTransfer(t *testing.T) {
	m, err := telemetry.NewMetrics("drsyncer_worker")
	require.NoError(t, err)
	clock := time.Unix(1_700_000_000, 0)
	g := startTransferGauges(m.Scope, metricsTransfer, func() time.Time { return clock })
	clock = clock.Add(30 * time.Second)
	g.observe(progress.Snapshot{BytesDone: 256 << 20, BytesTotal: 1 << 30, Percent: 25, RateBytesPerSec: 8 << 20, FilesDone: 3})
	clock = clock.Add(time.Minute)
	g.observe(progress.Snapshot{}) // a "finishing" heartbeat carries no figures
	g.observe(progress.Snapshot{BytesDone: 256 << 20, BytesTotal: 1 << 30, Percent: 25, RateBytesPerSec: 0, FilesDone: 3})

	families := scrape(t, m)
	for name, want := range map[string]float64{
		"drsyncer_worker_pvc_sync_running":                         1,
		"drsyncer_worker_pvc_sync_done_bytes":                      256 << 20,
		"drsyncer_worker_pvc_sync_size_bytes":                      1 << 30,
		"drsyncer_worker_pvc_sync_progress_ratio":                  0.25,
		"drsyncer_worker_pvc_sync_rate_bytes_per_second":           0,
		"drsyncer_worker_pvc_sync_last_progress_timestamp_seconds": 1_700_000_030, // bytes last moved then, not a minute later
	} {
		f := families[name]
		require.NotNil(t, f, name)
		assert.Equal(t, dto.MetricType_GAUGE, f.GetType(), name)
		assert.Equal(t, []string{"pvc", "replication", "replication_namespace"}, metricstest.LabelNames(f), name)
		assert.Equal(t, want, gauge(t, families, name), name)
	}
}

// A transfer that fails (here: refused, its Replication is gone) no longer
// shows as running, and shows no bytes in flight.
func TestTransferEndResetsTheGauges(t *testing.T) {
	m, err := telemetry.NewMetrics("drsyncer_worker")
	require.NoError(t, err)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(&PVCActivities{Control: fake.NewClientBuilder().WithScheme(kube.NewScheme()).Build(), Metrics: m.Scope})
	_, err = env.ExecuteActivity((&PVCActivities{}).Transfer, metricsTransfer)
	require.ErrorContains(t, err, "not found")

	families := scrape(t, m)
	assert.Equal(t, 0.0, gauge(t, families, "drsyncer_worker_pvc_sync_running"), "the transfer ended")
	assert.Equal(t, 0.0, gauge(t, families, "drsyncer_worker_pvc_sync_done_bytes"))
	assert.NotZero(t, gauge(t, families, "drsyncer_worker_pvc_sync_last_progress_timestamp_seconds"), "when it last moved is kept")
}

func TestProgressRatio(t *testing.T) {
	for _, c := range []struct {
		name string
		s    progress.Snapshot
		want float64
	}{
		{"nothing known yet", progress.Snapshot{}, 0},
		{"total unknown: rsync's percent", progress.Snapshot{BytesDone: 10, Percent: 40}, 0.4},
		{"bytes over the total", progress.Snapshot{BytesDone: 3 << 20, BytesTotal: 4 << 20, Percent: 70}, 0.75},
		{"an estimate overtaken", progress.Snapshot{BytesDone: 5 << 20, BytesTotal: 4 << 20}, 1},
	} {
		assert.InDelta(t, c.want, progressRatio(c.s), 1e-9, c.name)
	}
}

func TestTransferLabelsAreBounded(t *testing.T) {
	assert.Equal(t, metricsLabels, transferLabels(metricsTransfer))
	old := contract.TransferInput{PVC: metricsTransfer.PVC, Op: contract.Operation{WorkflowID: "pvc-sync/prod/shop/data-0", RunID: "r1"}}
	assert.Equal(t, map[string]string{"replication_namespace": "", "replication": "", "pvc": "data-0"}, transferLabels(old),
		"a step without an authority shows the DR PVC, and never its run")
}
