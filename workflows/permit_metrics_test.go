package workflows

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
)

// A PVC sync records how long it waited for its cluster's permit, from its
// first request to the grant, across re-requests and in both versions of
// the wait; a sync cancelled while it waits got no permit and records none.
func TestPVCSyncRecordsItsPermitWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version workflow.Version
		grant   time.Duration // after the sync asked; 0: cancelled instead
		want    time.Duration
	}{
		{"granted after three minutes", 1, 3 * time.Minute, 3 * time.Minute},
		{"granted after a re-request", 1, permitRerequestAfter + time.Minute, permitRerequestAfter + time.Minute},
		{"before the re-request change", workflow.DefaultVersion, 3 * time.Minute, 3 * time.Minute},
		{"cancelled while waiting", 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPVCSuite(t)
			s.in.GlobalConcurrencyLimit = 1
			// A run before the change is a run before the baseline too.
			s.env.OnGetVersion(changeBaseline, workflow.DefaultVersion, baselineVersion).Return(tc.version)
			s.env.OnGetVersion(changePermitRerequest, workflow.DefaultVersion, 1).Return(tc.version)
			var permits *pvcdata.PermitActivities
			s.env.RegisterActivity(permits)
			var asked time.Time
			s.env.OnActivity(permits.RequestPermit, mock.Anything, mock.Anything).Return(func(context.Context, contract.AcquireInput) error {
				if asked.IsZero() {
					asked = s.env.Now()
				}
				return nil
			})
			s.env.OnSignalExternalWorkflow(mock.Anything, contract.ClusterSemaphoreID(srcCluster), "", contract.SignalRelease, s.op.WorkflowID).Return(nil).Maybe()
			// The steps before the permit take no time in the test
			// environment: the sync asks at once.
			if tc.grant > 0 {
				s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(contract.SignalPermit, nil) }, tc.grant)
			} else {
				s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 3*time.Minute)
			}
			s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
			require.True(t, s.env.IsWorkflowCompleted())
			require.False(t, asked.IsZero(), "the sync asked for a permit")
			require.NoError(t, s.metrics.Close())

			wait := metricstest.Scrape(t, s.metrics.Handler())["drsyncer_worker_cluster_permit_wait_seconds"]
			if tc.grant == 0 {
				require.Error(t, s.env.GetWorkflowError())
				assert.Nil(t, wait, "a wait that ended without a permit is not a permit wait")
				return
			}
			require.NoError(t, s.env.GetWorkflowError())
			require.NotNil(t, wait)
			assert.Equal(t, dto.MetricType_HISTOGRAM, wait.GetType())
			assert.Equal(t, []string{"remotecluster", "remotecluster_namespace", "replication", "replication_namespace"},
				metricstest.LabelNames(wait))
			n, ok := metricstest.Value(wait, map[string]string{
				"remotecluster_namespace": srcCluster.Namespace, "remotecluster": srcCluster.Name,
				"replication_namespace": s.in.Replication.Namespace, "replication": s.in.Replication.Name,
			})
			require.True(t, ok, "the wait is labelled with the source cluster and the Replication")
			assert.Equal(t, 1.0, n, "one wait per sync")
			// tally observes a sample as its bucket's upper bound: the wait
			// shows as the first bucket that holds it.
			assert.Equal(t, bucketOf(tc.want), firstFilledBucket(wait.GetMetric()[0].GetHistogram()), "the bucket of %s", tc.want)
		})
	}
}

// A semaphore with a limit of one and two syncs asking: one holds the
// permit, one queues; once the first releases, the second holds it and none
// queues; once both are done, nothing is held. The gauges name the cluster
// and say when they were last updated.
func TestClusterSemaphoreShowsHeldAndQueuedPermits(t *testing.T) {
	for _, tc := range []struct {
		name        string
		at          time.Duration
		held, queue float64
	}{
		{"both asked", 2 * time.Second, 1, 1},
		{"the first released", 4 * time.Second, 1, 0},
		{"both released", 6 * time.Second, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, env := semaphoreWithMetrics(t)
			var granted []string
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, contract.SignalPermit, mock.Anything).Return(
				func(_, workflowID, _, _ string, _ any) error {
					granted = append(granted, workflowID)
					return nil
				})
			at := func(d time.Duration, f func()) { env.RegisterDelayedCallback(f, d) }
			at(time.Second, func() {
				env.SignalWorkflow(contract.SignalAcquire, req("a"))
				env.SignalWorkflow(contract.SignalAcquire, req("b"))
			})
			at(3*time.Second, func() { env.SignalWorkflow(contract.SignalRelease, "a") })
			at(5*time.Second, func() { env.SignalWorkflow(contract.SignalRelease, "b") })
			var families map[string]*dto.MetricFamily
			var now time.Time
			at(tc.at, func() {
				// Closing flushes the scope; later updates are not scraped.
				require.NoError(t, m.Close())
				families, now = metricstest.Scrape(t, m.Handler()), env.Now()
			})
			env.ExecuteWorkflow(contract.ClusterSemaphoreName, contract.SemaphoreState{Limit: 1})
			require.NoError(t, env.GetWorkflowError())
			assert.Equal(t, []string{"a", "b"}, granted)

			cluster := map[string]string{"remotecluster_namespace": srcCluster.Namespace, "remotecluster": srcCluster.Name}
			gauge := func(name string) float64 {
				f := families[name]
				require.NotNil(t, f, "%s exported", name)
				assert.Equal(t, dto.MetricType_GAUGE, f.GetType(), name)
				assert.Equal(t, []string{"remotecluster", "remotecluster_namespace"}, metricstest.LabelNames(f), name)
				v, ok := metricstest.Value(f, cluster)
				require.True(t, ok, "%s of cluster %s", name, srcCluster.Name)
				return v
			}
			assert.Equal(t, tc.held, gauge("drsyncer_worker_cluster_permits_held"), "held")
			assert.Equal(t, tc.queue, gauge("drsyncer_worker_cluster_permit_queue"), "queued")
			assert.Equal(t, 1.0, gauge("drsyncer_worker_cluster_permit_limit"))
			updated := gauge("drsyncer_worker_cluster_permit_updated_timestamp_seconds")
			assert.InDelta(t, float64(now.Add(-time.Second).Unix()), updated, 1, "updated with the last change, a second ago")
		})
	}
}

// bucketOf is the upper bound, in seconds, of the wait buckets' first
// bucket that holds d.
func bucketOf(d time.Duration) float64 {
	for _, b := range slotWaitBuckets {
		if d <= b {
			return b.Seconds()
		}
	}
	return math.Inf(1)
}

// firstFilledBucket is the upper bound of the lowest bucket with a sample.
func firstFilledBucket(h *dto.Histogram) float64 {
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() > 0 {
			return b.GetUpperBound()
		}
	}
	return math.Inf(1)
}

// At continue-as-new the gauges show the state the next run starts from:
// the signal that used up the run's budget queued a sync, and the loop
// that would have shown it has ended.
func TestClusterSemaphoreShowsItsStateAtContinueAsNew(t *testing.T) {
	m, env := semaphoreWithMetrics(t)
	env.RegisterDelayedCallback(func() {
		for i := range semaphoreSignalsPerRun - 1 {
			env.SignalWorkflow(contract.SignalRelease, fmt.Sprintf("gone-%d", i))
		}
		env.SignalWorkflow(contract.SignalAcquire, req("x"))
	}, time.Second)
	env.ExecuteWorkflow(contract.ClusterSemaphoreName, contract.SemaphoreState{Limit: 1, Holders: []contract.PermitRequest{req("h")}})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.NoError(t, m.Close())

	families := metricstest.Scrape(t, m.Handler())
	cluster := map[string]string{"remotecluster_namespace": srcCluster.Namespace, "remotecluster": srcCluster.Name}
	held, ok := metricstest.Value(families["drsyncer_worker_cluster_permits_held"], cluster)
	require.True(t, ok)
	assert.Equal(t, 1.0, held, "h still holds its permit")
	queued, ok := metricstest.Value(families["drsyncer_worker_cluster_permit_queue"], cluster)
	require.True(t, ok)
	assert.Equal(t, 1.0, queued, "x waits, in the state carried over")
}

// semaphoreWithMetrics is srcCluster's semaphore in a test environment
// whose metrics m records.
func semaphoreWithMetrics(t *testing.T) (*telemetry.Metrics, *testsuite.TestWorkflowEnvironment) {
	m, err := telemetry.NewMetrics("drsyncer_worker")
	require.NoError(t, err)
	env := metricsSuite(m).NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(ClusterSemaphore, workflow.RegisterOptions{Name: contract.ClusterSemaphoreName})
	env.RegisterActivity(&pvcdata.PermitActivities{})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: contract.ClusterSemaphoreID(srcCluster)})
	return m, env
}
