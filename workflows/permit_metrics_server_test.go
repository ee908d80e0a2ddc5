package workflows_test

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// On a real worker and server, two PVC syncs of one Replication share their
// cluster's limit of one: the worker exports both permit waits, the second
// longer than a second as it waited for the first's two-second transfer,
// and the semaphore's gauges end with nothing held or queued.
func TestPermitMetricsFromARealWorker(t *testing.T) {
	tp := testenv.StartTemporal(t)
	m, err := telemetry.NewMetrics("drsyncer_worker")
	require.NoError(t, err)
	c, err := client.NewClientFromExisting(tp.Client, client.Options{Namespace: tp.Namespace, MetricsHandler: m.TemporalHandler()})
	require.NoError(t, err)
	defer c.Close()
	transfer := func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		time.Sleep(2 * time.Second)
		return contract.TransferResult{Streams: 1}, nil
	}
	defer startPermitWorker(t, tp, c, transfer).Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}
	replication := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "app"}
	var runs []client.WorkflowRun
	for _, pvc := range []string{"data-0", "data-1"} {
		in := contract.PVCSyncInput{
			Replication:            replication,
			Source:                 contract.PVCRef{Cluster: prod, Namespace: "app", Name: pvc},
			Destination:            contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"},
			DestinationNamespace:   "app",
			GlobalConcurrencyLimit: 1,
			DataSync:               rsyncargs.Config{Timeout: rsyncargs.Duration(time.Minute)},
			Retry:                  contract.RetrySettings{MaxRetries: 3, InitialBackoff: "1s", MaxBackoff: "2s", BackoffMultiplier: 200},
		}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: contract.PVCSyncWorkflowID(prod.Name, in.Source.Namespace, in.Source.Name), TaskQueue: tp.TaskQueue,
		}, contract.PVCSyncName, in)
		require.NoError(t, err)
		runs = append(runs, run)
	}
	for _, run := range runs {
		require.NoError(t, run.Get(ctx, nil), run.GetID())
	}

	cluster := map[string]string{"remotecluster_namespace": prod.Namespace, "remotecluster": prod.Name}
	waits := map[string]string{"replication_namespace": replication.Namespace, "replication": replication.Name}
	for k, v := range cluster {
		waits[k] = v
	}
	var families map[string]*dto.MetricFamily
	// The scope reports to Prometheus every second.
	require.Eventually(t, func() bool {
		families = metricstest.Scrape(t, m.Handler())
		n, ok := metricstest.Value(families["drsyncer_worker_cluster_permit_wait_seconds"], waits)
		held, okHeld := metricstest.Value(families["drsyncer_worker_cluster_permits_held"], cluster)
		return ok && n == 2 && okHeld && held == 0
	}, 20*time.Second, 250*time.Millisecond, "both waits recorded and both permits back")

	series := families["drsyncer_worker_cluster_permit_wait_seconds"].GetMetric()
	require.Len(t, series, 1, "both waits in one series")
	for _, b := range series[0].GetHistogram().GetBucket() {
		if b.GetUpperBound() == 1 {
			assert.LessOrEqual(t, b.GetCumulativeCount(), uint64(1), "the second sync waited for the first's transfer")
		}
	}
	queued, ok := metricstest.Value(families["drsyncer_worker_cluster_permit_queue"], cluster)
	require.True(t, ok)
	assert.Equal(t, 0.0, queued)
	limit, ok := metricstest.Value(families["drsyncer_worker_cluster_permit_limit"], cluster)
	require.True(t, ok)
	assert.Equal(t, 1.0, limit)
	updated, ok := metricstest.Value(families["drsyncer_worker_cluster_permit_updated_timestamp_seconds"], cluster)
	require.True(t, ok)
	assert.InDelta(t, float64(time.Now().Unix()), updated, 30, "updated by the last release")
}
