package workflows

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
)

func metricsSuite(m *telemetry.Metrics) *testsuite.WorkflowTestSuite {
	ts := &testsuite.WorkflowTestSuite{}
	ts.SetMetricsHandler(m.TemporalHandler())
	return ts
}

// With one slot and three PVCs, each PVC sync takes a minute: the syncs
// wait 0, 1 and 2 minutes for the slot, and at the end none waits.
func TestReplicationReportsSlotWaits(t *testing.T) {
	m, err := telemetry.NewMetrics("drsyncer_worker")
	require.NoError(t, err)
	s := newReplicationSuiteIn(t, metricsSuite(m), testPlan(1), []string{"a", "b", "c"}, "")
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-1"})
	require.NoError(t, s.env.GetWorkflowError())
	require.NoError(t, m.Close())

	families := metricstest.Scrape(t, m.Handler())
	labels := map[string]string{"replication_namespace": replRef.Namespace, "replication": replRef.Name}

	waiting := families["drsyncer_worker_sync_slot_waiting"]
	require.NotNil(t, waiting)
	assert.Equal(t, dto.MetricType_GAUGE, waiting.GetType())
	assert.Equal(t, []string{"replication", "replication_namespace"}, metricstest.LabelNames(waiting))
	v, ok := metricstest.Value(waiting, labels)
	require.True(t, ok)
	assert.Equal(t, 0.0, v, "the run ended: nothing waits")

	wait := families["drsyncer_worker_sync_slot_wait_seconds"]
	require.NotNil(t, wait)
	assert.Equal(t, dto.MetricType_HISTOGRAM, wait.GetType())
	assert.Equal(t, []string{"replication", "replication_namespace"}, metricstest.LabelNames(wait))
	h := wait.GetMetric()[0].GetHistogram()
	assert.Equal(t, uint64(3), h.GetSampleCount(), "one observation per PVC sync")
	assert.InDelta(t, (3 * time.Minute).Seconds(), h.GetSampleSum(), 1, "0 + 1 + 2 minutes")
}

// The gauge counts the PVC syncs still queued behind the slots.
func TestSlotQueueShowsWaitingSyncs(t *testing.T) {
	m, err := telemetry.NewMetrics("drsyncer_worker")
	require.NoError(t, err)
	s := newReplicationSuiteIn(t, metricsSuite(m), testPlan(2), []string{"a", "b", "c", "d", "e"}, "")
	var seen float64
	s.env.RegisterDelayedCallback(func() {
		require.NoError(t, m.Close())
		v, ok := metricstest.Value(metricstest.Scrape(t, m.Handler())["drsyncer_worker_sync_slot_waiting"],
			map[string]string{"replication": replRef.Name})
		require.True(t, ok)
		seen = v
	}, 30*time.Second)
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-1"})
	require.NoError(t, s.env.GetWorkflowError())
	assert.Equal(t, 3.0, seen, "two of five run, three wait")
}
