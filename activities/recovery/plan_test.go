package recovery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// The scaling decisions, one table per step; the API server tests
// (recovery_test.go) show the patches land.
func TestPlanScaleDownSourceRecordsOnce(t *testing.T) {
	rec := drv1.AnnotationFailoverReplicas
	for _, tc := range []struct {
		name   string
		w      workload
		change contract.WorkloadChange
		patch  *workloadPatch
	}{
		{"records and zeroes", workload{Kind: KindDeployment, Name: "web", Replicas: 3},
			contract.WorkloadChange{Kind: KindDeployment, Name: "web", From: 3},
			&workloadPatch{Annotations: map[string]*string{rec: ptr("3")}, Replicas: ptr(int32(0))}},
		{"a retry keeps the recorded value", workload{Kind: KindStatefulSet, Name: "db", Replicas: 2, Annotations: map[string]string{rec: "5"}},
			contract.WorkloadChange{Kind: KindStatefulSet, Name: "db", From: 5},
			&workloadPatch{Replicas: ptr(int32(0))}},
		{"done already", workload{Kind: KindDeployment, Name: "web", Annotations: map[string]string{rec: "3"}},
			contract.WorkloadChange{Kind: KindDeployment, Name: "web", From: 3}, nil},
		{"zero is recorded as zero", workload{Kind: KindDeployment, Name: "idle"},
			contract.WorkloadChange{Kind: KindDeployment, Name: "idle"},
			&workloadPatch{Annotations: map[string]*string{rec: ptr("0")}, Replicas: ptr(int32(0))}},
		{"a CronJob records its suspend", workload{Kind: KindCronJob, Name: "report"},
			contract.WorkloadChange{Kind: KindCronJob, Name: "report", Suspended: ptr(true)},
			&workloadPatch{Annotations: map[string]*string{rec: ptr("suspend=false")}, Suspend: ptr(true)}},
		{"a suspended CronJob records it was", workload{Kind: KindCronJob, Name: "off", Suspend: true},
			contract.WorkloadChange{Kind: KindCronJob, Name: "off", Suspended: ptr(true)},
			&workloadPatch{Annotations: map[string]*string{rec: ptr("suspend=true")}, Suspend: ptr(true)}},
		{"a CronJob retried", workload{Kind: KindCronJob, Name: "report", Suspend: true, Annotations: map[string]string{rec: "suspend=false"}},
			contract.WorkloadChange{Kind: KindCronJob, Name: "report", Suspended: ptr(true)}, nil},
	} {
		change, patch, ok, err := planScaleDownSource(tc.w)
		require.NoError(t, err, tc.name)
		assert.True(t, ok, tc.name)
		assert.Equal(t, tc.change, change, tc.name)
		assert.Equal(t, tc.patch, patch, tc.name)
	}
	_, _, _, err := planScaleDownSource(workload{Kind: KindDeployment, Name: "web", Annotations: map[string]string{rec: "three"}})
	assert.ErrorContains(t, err, `Deployment/web has annotation dr-syncer.io/failover-replicas="three", which is not a replica count`)
}

func TestPlanRestoreSourceUndoesOnlyWhatWasRecorded(t *testing.T) {
	rec := drv1.AnnotationFailoverReplicas
	drop := map[string]*string{rec: nil}
	change, patch, ok, err := planRestoreSource(workload{Kind: KindDeployment, Name: "web", Annotations: map[string]string{rec: "3"}})
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, contract.WorkloadChange{Kind: KindDeployment, Name: "web", To: 3}, change)
	assert.Equal(t, &workloadPatch{Annotations: drop, Replicas: ptr(int32(3))}, patch)

	change, patch, _, err = planRestoreSource(workload{Kind: KindCronJob, Name: "report", Suspend: true, Annotations: map[string]string{rec: "suspend=false"}})
	require.NoError(t, err)
	assert.Equal(t, contract.WorkloadChange{Kind: KindCronJob, Name: "report", Suspended: ptr(false)}, change)
	assert.Equal(t, &workloadPatch{Annotations: drop, Suspend: ptr(false)}, patch)

	_, patch, ok, err = planRestoreSource(workload{Kind: KindDeployment, Name: "new", Replicas: 2})
	require.NoError(t, err)
	assert.False(t, ok, "never stopped by a failover: not restore's")
	assert.Nil(t, patch)

	_, _, _, err = planRestoreSource(workload{Kind: KindCronJob, Name: "report", Annotations: map[string]string{rec: "3"}})
	assert.ErrorContains(t, err, `not "suspend=true" or "suspend=false"`)
}

func TestPlanScaleCopies(t *testing.T) {
	orig, susp := drv1.AnnotationOriginalReplicas, resources.AnnotationOriginalSuspend
	up := planScaleUpCopies(map[string]int32{"Deployment/api": 5, "Deployment/ghost": 1})
	for _, tc := range []struct {
		name      string
		w         workload
		up, down  contract.WorkloadChange
		upPatch   *workloadPatch
		downPatch *workloadPatch
		notTheirs bool
	}{
		{name: "original replicas", w: workload{Kind: KindDeployment, Name: "web", Annotations: map[string]string{orig: "3"}},
			up:      contract.WorkloadChange{Kind: KindDeployment, Name: "web", To: 3},
			upPatch: &workloadPatch{Replicas: ptr(int32(3))},
			down:    contract.WorkloadChange{Kind: KindDeployment, Name: "web"}},
		{name: "an override wins", w: workload{Kind: KindDeployment, Name: "api", Replicas: 1, Annotations: map[string]string{orig: "2"}},
			up:        contract.WorkloadChange{Kind: KindDeployment, Name: "api", From: 1, To: 5},
			upPatch:   &workloadPatch{Replicas: ptr(int32(5))},
			down:      contract.WorkloadChange{Kind: KindDeployment, Name: "api", From: 1},
			downPatch: &workloadPatch{Replicas: ptr(int32(0))}},
		{name: "a CronJob gets the source's suspend", w: workload{Kind: KindCronJob, Name: "report", Suspend: true, Annotations: map[string]string{susp: "false"}},
			up:      contract.WorkloadChange{Kind: KindCronJob, Name: "report", Suspended: ptr(false)},
			upPatch: &workloadPatch{Suspend: ptr(false)},
			down:    contract.WorkloadChange{Kind: KindCronJob, Name: "report", Suspended: ptr(true)}},
		{name: "not a copy dr-syncer scaled", w: workload{Kind: KindDeployment, Name: "ghost", Replicas: 2}, notTheirs: true},
	} {
		change, patch, ok, err := up(tc.w)
		require.NoError(t, err, tc.name)
		assert.Equal(t, !tc.notTheirs, ok, tc.name)
		if tc.notTheirs {
			continue
		}
		assert.Equal(t, tc.up, change, tc.name)
		assert.Equal(t, tc.upPatch, patch, tc.name)
		change, patch, _, err = planScaleDownCopies(tc.w)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.down, change, tc.name)
		assert.Equal(t, tc.downPatch, patch, tc.name)
	}
}

func TestPatchBodyCarriesTheResourceVersion(t *testing.T) {
	body, err := (&workloadPatch{Annotations: map[string]*string{"a": ptr("1"), "b": nil}, Replicas: ptr(int32(0))}).
		body(workload{Kind: KindDeployment, Name: "web", ResourceVersion: "42"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"metadata":{"resourceVersion":"42","annotations":{"a":"1","b":null}},"spec":{"replicas":0}}`, string(body))
}

func TestNotReady(t *testing.T) {
	up := contract.WorkloadChange{Kind: KindDeployment, Name: "web", To: 3}
	down := contract.WorkloadChange{Kind: KindStatefulSet, Name: "db"}
	for _, tc := range []struct {
		w    contract.WorkloadChange
		r    rollout
		want string
	}{
		{up, rollout{Found: true, Generation: 2, ObservedGeneration: 2, Replicas: 3, Ready: 3, Updated: 3}, ""},
		{up, rollout{Found: true, Generation: 2, ObservedGeneration: 1, Replicas: 3, Ready: 3, Updated: 3}, "controller has not seen generation 2 yet (observed 1)"},
		{up, rollout{Found: true, Generation: 2, ObservedGeneration: 2, Replicas: 3, Ready: 1, Updated: 3}, "1 of 3 ready"},
		{up, rollout{Found: true, Generation: 2, ObservedGeneration: 2, Replicas: 4, Ready: 3, Updated: 1}, "1 of 3 updated"},
		{up, rollout{}, "not found"},
		{down, rollout{Found: true, Generation: 3, ObservedGeneration: 3, Replicas: 1}, "1 pods still running"},
		{down, rollout{Found: true, Generation: 3, ObservedGeneration: 3}, ""},
		{down, rollout{}, ""},
	} {
		assert.Equal(t, tc.want, notReady(tc.w, tc.r), "%+v %+v", tc.w, tc.r)
	}
}

func TestRecoveryRunsAreNotWaitedFor(t *testing.T) {
	assert.Equal(t, "WorkflowType = 'Replication' AND DrSyncerReplication = 'ops/shop' AND ExecutionStatus = 'Running'",
		openRunsQuery(contract.ObjectRef{Namespace: "ops", Name: "shop"}))
	assert.Equal(t, []string{"replication/ops/shop/nightly", "replication/ops/shop/scheduled-2026-01-01T00:00:00Z"},
		syncsToWaitFor([]string{
			"replication/ops/shop/scheduled-2026-01-01T00:00:00Z",
			"replication/ops/shop/failover-1",
			"replication/ops/shop/failback-abc",
			"replication/ops/shop/drill-x",
			"replication/ops/shop/nightly",
		}))
	assert.False(t, isRecoveryRun("replication/ops/failover-db/scheduled"), "only the trigger counts, not the name")
}

func TestDataAsOf(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	end := metav1.NewTime(start.Add(2 * time.Minute))
	for _, tc := range []struct {
		name string
		st   drv1.ReplicationStatus
		want time.Time
	}{
		{"never synced", drv1.ReplicationStatus{}, time.Time{}},
		{"last run completed", drv1.ReplicationStatus{LastSyncTime: &end,
			LastRun: &drv1.WorkflowRef{Result: "Completed", StartTime: &metav1.Time{Time: start}}}, start},
		{"last run failed: the last success's end less its duration", drv1.ReplicationStatus{LastSyncTime: &end,
			LastRun:   &drv1.WorkflowRef{Result: "Failed", StartTime: &metav1.Time{Time: start.Add(time.Hour)}},
			SyncStats: &drv1.SyncStats{LastSyncDuration: "1m30s"}}, start.Add(30 * time.Second)},
		{"duration unknown: its end", drv1.ReplicationStatus{LastSyncTime: &end, SyncStats: &drv1.SyncStats{LastSyncDuration: "soon"}}, end.Time},
	} {
		assert.Equal(t, tc.want, dataAsOf(&tc.st), tc.name)
	}
}

func TestStatusValuesReplaceTheOldOnes(t *testing.T) {
	obj, err := replaceObject(failoverStatus(contract.FailoverState{ActiveSide: contract.SideDestination, State: contract.StateFailingOver,
		WorkflowID: "failover/ops/shop/1", StartedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), RTO: 12345 * time.Millisecond}))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"activeSide": "Destination", "state": "FailingOver", "workflowID": "failover/ops/shop/1",
		"mode": nil, "message": nil, "startedAt": "2026-03-01T10:00:00Z", "completedAt": nil, "rto": "12.3s", "dataAge": nil}, obj)
}
