package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/activities/recovery"
	"github.com/dr-syncer/dr-syncer/contract"
)

var failoverIn = contract.FailoverInput{Replication: replRef}

func TestFailoverPlanned(t *testing.T) {
	s := newRecoverySuite(t, recoveryTarget)
	s.env.ExecuteWorkflow(contract.FailoverName, failoverIn)
	require.NoError(t, s.env.GetWorkflowError())
	var res contract.FailoverResult
	require.NoError(t, s.env.GetWorkflowResult(&res))

	assert.Equal(t, []string{"LocateRecovery", "ProbeCluster", "RecordFailoverState", "PauseSyncs", "WaitSyncsIdle",
		"ScaleDownSource", "WaitWorkloads", "ScaleUpCopies", "WaitWorkloads", "RecordFailoverState"}, s.steps)
	require.Len(t, s.syncs, 1, "one final sync")
	assert.Equal(t, contract.ReplicationInput{Replication: replRef, Trigger: contract.RecoveryTrigger("failover", recoveryID)}, s.syncs[0])
	assert.Equal(t, contract.FailoverPlanned, res.Mode)
	assert.Equal(t, sourceScaled, res.SourceScales)
	assert.Equal(t, drScaled, res.DRScales)
	assert.Equal(t, contract.ReplicationWorkflowID("dr-syncer-system", "shop", s.syncs[0].Trigger), res.FinalSync)
	assert.False(t, res.DataAsOf.IsZero(), "data as of the final sync's start")

	require.Len(t, s.states, 2)
	assert.Equal(t, contract.StateFailingOver, s.states[0].State)
	assert.Equal(t, contract.SideSource, s.states[0].ActiveSide)
	last := s.lastState(t)
	assert.Equal(t, contract.StateFailedOver, last.State)
	assert.Equal(t, contract.SideDestination, last.ActiveSide)
	assert.Equal(t, res.RTO, last.RTO)
	for _, st := range res.Steps {
		assert.Contains(t, []contract.StepState{contract.StepDone}, st.State, st.Name)
	}
}

func TestFailoverUnplanned(t *testing.T) {
	for name, tc := range map[string]struct {
		in    contract.FailoverInput
		probe bool
	}{
		"source does not answer":   {in: failoverIn, probe: true},
		"a person says it is lost": {in: contract.FailoverInput{Replication: replRef, SourceUnreachable: true}},
	} {
		t.Run(name, func(t *testing.T) {
			s := newRecoverySuite(t, recoveryTarget, "ProbeCluster")
			s.env.OnActivity(s.a.ProbeCluster, mockAny, srcCluster).Return(unreachable).Maybe()
			s.env.ExecuteWorkflow(contract.FailoverName, tc.in)
			require.NoError(t, s.env.GetWorkflowError())
			var res contract.FailoverResult
			require.NoError(t, s.env.GetWorkflowResult(&res))

			assert.Equal(t, contract.FailoverUnplanned, res.Mode)
			assert.Equal(t, 1, s.ran("CancelSyncs"), "a running sync against the lost source is cancelled, not waited for")
			assert.Empty(t, s.syncs, "no final sync from a lost source")
			assert.Zero(t, s.ran("ScaleDownSource"))
			assert.Equal(t, map[bool]int{true: 1, false: 0}[tc.probe], s.ran("ProbeCluster"))
			skipped := map[string]string{}
			for _, st := range res.Steps {
				if st.State == contract.StepSkipped {
					skipped[st.Name] = st.Detail
				}
			}
			assert.Contains(t, skipped, contract.StepFinalSync)
			assert.Contains(t, skipped, contract.StepScaleDownSource)
			assert.Equal(t, recoveryTarget.DataAsOf, res.DataAsOf, "data of the last sync")
			assert.Positive(t, res.DataAge)
			assert.Equal(t, contract.StateFailedOver, s.lastState(t).State)
			assert.Equal(t, contract.FailoverUnplanned, s.lastState(t).Mode)
		})
	}
}

func TestFailoverRefusesWhenFailedOver(t *testing.T) {
	target := recoveryTarget
	target.ActiveSide = contract.SideDestination
	s := newRecoverySuite(t, target)
	s.env.ExecuteWorkflow(contract.FailoverName, failoverIn)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, s.env.GetWorkflowError(), &appErr)
	assert.Equal(t, contract.ErrTypeAlreadyFailedOver, appErr.Type())
	assert.Contains(t, appErr.Message(), "drsyncer failback")
	assert.Empty(t, s.states, "status untouched")
}

func TestFailoverFinalSyncFails(t *testing.T) {
	s := newRecoverySuite(t, recoveryTarget)
	s.syncErr = temporal.NewNonRetryableApplicationError("1 of 1 PVC syncs failed", contract.ErrTypeSyncFailed, nil)
	s.env.ExecuteWorkflow(contract.FailoverName, failoverIn)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, s.env.GetWorkflowError(), &appErr)
	assert.Equal(t, contract.ErrTypeFinalSyncFailed, appErr.Type())
	assert.Contains(t, appErr.Message(), "--source-unreachable")
	assert.Zero(t, s.ran("ScaleDownSource"), "nothing stopped")
	assert.Zero(t, s.ran("ScaleUpCopies"), "DR not started")
	assert.Equal(t, contract.StateFailoverCanceled, s.lastState(t).State, "syncs resume")
	assert.Equal(t, contract.SideSource, s.lastState(t).ActiveSide)
}

// TestFailoverCancelAtEachStep cancels a planned failover while each of
// its steps runs: before DR's scale-up began, the source gets its replicas
// back and stays active; from then on, the scale-up is finished and DR is
// active. Never are both sides left down.
func TestFailoverCancelAtEachStep(t *testing.T) {
	var a *recovery.RecoveryActivities
	steps := []struct {
		name     string
		fn, in   any
		results  []any
		drActive bool
	}{
		{"PauseSyncs", a.PauseSyncs, recoveryTarget, []any{nil}, false},
		{"WaitSyncsIdle", a.WaitSyncsIdle, recoveryTarget, []any{nil}, false},
		{"FinalSync", nil, nil, nil, false},
		{"ScaleDownSource", a.ScaleDownSource, srcWorkloads, []any{contract.WorkloadsResult{Workloads: sourceScaled}, nil}, false},
		{"ScaleUpCopies", a.ScaleUpCopies, drWorkloads, []any{contract.WorkloadsResult{Workloads: drScaled}, nil}, true},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			s := newRecoverySuite(t, recoveryTarget, step.name)
			if step.fn == nil {
				s.blockSync = true
				s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
			} else {
				s.cancelDuring(step.name, step.fn, step.in, step.results...)
			}
			s.env.ExecuteWorkflow(contract.FailoverName, failoverIn)
			require.True(t, errCanceled(s.env.GetWorkflowError()), "want canceled, got %v", s.env.GetWorkflowError())
			last := s.lastState(t)
			if step.drActive {
				assert.Equal(t, contract.StateFailedOver, last.State)
				assert.Equal(t, contract.SideDestination, last.ActiveSide)
				assert.Equal(t, 2, s.ran("ScaleUpCopies"), "the scale-up begun is finished")
				assert.Zero(t, s.ran("RestoreSource"))
				return
			}
			assert.Equal(t, contract.StateFailoverCanceled, last.State)
			assert.Equal(t, contract.SideSource, last.ActiveSide)
			assert.Zero(t, s.ran("ScaleUpCopies"), "DR never started")
			assert.Equal(t, 1, s.ran("RestoreSource"), "the source gets its replicas back")
		})
	}
}

// TestFailoverCancelWhileWaitingReady: DR's workloads are scaling up; the
// cancel finishes the scale-up and leaves DR active.
func TestFailoverCancelWhileWaitingReady(t *testing.T) {
	s := newRecoverySuite(t, recoveryTarget, "WaitWorkloads")
	s.env.OnActivity(s.a.WaitWorkloads, mockAny, contract.WaitReadyInput{Cluster: srcCluster, Namespace: "shop", Workloads: sourceScaled}).Return(nil)
	s.env.OnActivity(s.a.WaitWorkloads, mockAny, contract.WaitReadyInput{Cluster: dstCluster, Namespace: "shop-dr", Workloads: drScaled}).
		After(10 * time.Minute).Return(nil)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(contract.FailoverName, failoverIn)
	require.True(t, errCanceled(s.env.GetWorkflowError()))
	assert.Equal(t, contract.StateFailedOver, s.lastState(t).State)
	assert.Zero(t, s.ran("RestoreSource"))
}

// TestFailoverNotReady: DR's workloads never get Ready; DR stays active
// (the source is stopped) and the failure says which timeout ran out.
func TestFailoverNotReady(t *testing.T) {
	s := newRecoverySuite(t, recoveryTarget, "WaitWorkloads")
	s.env.OnActivity(s.a.WaitWorkloads, mockAny, contract.WaitReadyInput{Cluster: srcCluster, Namespace: "shop", Workloads: sourceScaled}).Return(nil)
	s.env.OnActivity(s.a.WaitWorkloads, mockAny, contract.WaitReadyInput{Cluster: dstCluster, Namespace: "shop-dr", Workloads: drScaled}).
		Return(temporal.NewTimeoutError(0, nil))
	s.env.ExecuteWorkflow(contract.FailoverName, contract.FailoverInput{Replication: replRef, ReadyTimeout: time.Minute})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, s.env.GetWorkflowError(), &appErr)
	assert.Equal(t, contract.ErrTypeNotReady, appErr.Type())
	assert.Equal(t, contract.StateFailedOver, s.lastState(t).State)
	assert.Equal(t, contract.SideDestination, s.lastState(t).ActiveSide)
}

// TestFailoverUnplannedSyncStillCleaningUp: a cancelled sync that cannot
// finish its cleanup against the lost source does not hold DR back.
func TestFailoverUnplannedSyncStillCleaningUp(t *testing.T) {
	s := newRecoverySuite(t, recoveryTarget, "WaitSyncsIdle")
	s.env.OnActivity(s.a.WaitSyncsIdle, mockAny, recoveryTarget).Return(temporal.NewTimeoutError(0, nil))
	s.env.ExecuteWorkflow(contract.FailoverName, contract.FailoverInput{Replication: replRef, SourceUnreachable: true})
	require.NoError(t, s.env.GetWorkflowError())
	var res contract.FailoverResult
	require.NoError(t, s.env.GetWorkflowResult(&res))
	assert.Contains(t, res.Steps[3].Detail, "still cleaning up")
	assert.Equal(t, contract.StateFailedOver, s.lastState(t).State)
}

// TestFailoverFromRestorePoints: the last sync did not complete, so each
// DR PVC with a restore point is replaced from its newest one before DR
// starts; a PVC without one keeps its live copy; DR's data is as old as
// the oldest point used.
func TestFailoverFromRestorePoints(t *testing.T) {
	target := recoveryTarget
	target.LastSyncComplete = false
	s := newRecoverySuite(t, target)
	var snaps *pointintime.SnapshotActivities
	s.env.RegisterActivity(snaps)
	older := contract.RestorePoint{Name: "data-rp-1", PVC: "data", CopiedAt: time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)}
	newest := contract.RestorePoint{Name: "data-rp-2", PVC: "data", CopiedAt: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
	s.env.OnActivity(snaps.ListRestorePoints, mockAny, contract.ListRestorePointsInput{Cluster: dstCluster, Namespace: "shop-dr",
		Replication: replRef.String()}).Return([]contract.RestorePoint{newest, older}, nil)
	s.env.OnActivity(snaps.ReplaceFromRestorePoint, mockAny, contract.ReplaceFromPointInput{
		Op: contract.Operation{WorkflowID: recoveryID, RunID: "default-test-run-id"}, DR: contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "data"},
		Replication: replRef.String(), Point: newest,
	}).Return(contract.ReplaceFromPointResult{PVC: "dr/shop-dr/data", Point: newest.Name, RetainedVolume: "pv-1"}, nil).Once()
	s.env.ExecuteWorkflow(contract.FailoverName, contract.FailoverInput{Replication: replRef, SourceUnreachable: true, FromRestorePoints: true})
	require.NoError(t, s.env.GetWorkflowError())
	var res contract.FailoverResult
	require.NoError(t, s.env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"data"}, res.Restored)
	assert.Equal(t, newest.CopiedAt, res.DataAsOf)
	assert.Less(t, indexOf(s.steps, "ReplaceFromRestorePoint"), indexOf(s.steps, "ScaleUpCopies"), "replaced before DR starts")
}

// TestFailoverFromRestorePointsNotNeeded: after a complete sync (or a
// planned failover's final sync) the live copy is the newest data.
func TestFailoverFromRestorePointsNotNeeded(t *testing.T) {
	for name, in := range map[string]contract.FailoverInput{
		"planned":                    {Replication: replRef, FromRestorePoints: true},
		"unplanned, last sync whole": {Replication: replRef, FromRestorePoints: true, SourceUnreachable: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := newRecoverySuite(t, recoveryTarget)
			s.env.ExecuteWorkflow(contract.FailoverName, in)
			require.NoError(t, s.env.GetWorkflowError())
			var res contract.FailoverResult
			require.NoError(t, s.env.GetWorkflowResult(&res))
			assert.Empty(t, res.Restored)
			var step contract.Step
			for _, st := range res.Steps {
				if st.Name == contract.StepRestorePoints {
					step = st
				}
			}
			assert.Equal(t, contract.StepSkipped, step.State)
			assert.Contains(t, step.Detail, "completed")
		})
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
