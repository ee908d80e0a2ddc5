package controller

import (
	"time"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

func TestPlanNamesTheGuardThatHeldARun(t *testing.T) {
	for _, errType := range []string{contract.ErrTypeDeletionGuard, contract.ErrTypeSourceReplaced, contract.ErrTypeSourceShrank, contract.ErrTypeConflict} {
		t.Run(errType, func(t *testing.T) {
			held := starter.RunState{WorkflowID: "replication/ops/shop/1", RunID: "r1", Status: "Failed", Start: now.Add(-90 * time.Second), Close: now,
				Error: errType + ": DR copy kept; annotate ...", ErrorType: errType}
			p := planReplication(replicationObservation{Replication: replication(drv1.ModeManual), Run: &held}, now, poll)
			c := synced(t, p.Status)
			assert.Equal(t, metav1.ConditionFalse, c.Status)
			assert.Equal(t, errType, c.Reason, "the condition's reason is the guard")
			assert.Contains(t, c.Message, "DR copy kept")
		})
	}
}

func TestPlanRecordsAcceptedChangesOnce(t *testing.T) {
	done := starter.RunState{WorkflowID: "replication/ops/shop/2", RunID: "r2", Status: "Completed", Start: now.Add(-90 * time.Second), Close: now,
		Result: &contract.ReplicationResult{AcceptChanges: "yes-1",
			Resources: &contract.ResourcesResult{
				DeletionGuard: &contract.DeletionGuardResult{},
				Resources: []contract.ObjectStatus{{Kind: "PersistentVolumeClaim", Name: "old", State: contract.StateSynced,
					Action: contract.ActionDeleteCopy, Detail: "deleted as annotated dr-syncer.io/delete-copy=true"}}}}}
	done.Result.Resources.DeletionGuard.Deletions = 24
	repl := replication(drv1.ModeManual, func(r *drv1.Replication) {
		r.Annotations = map[string]string{drv1.AnnotationAcceptChanges: "yes-1"}
	})
	p := planReplication(replicationObservation{Replication: repl, Run: &done}, now, poll)
	assert.Equal(t, "yes-1", p.Status.AcceptChangesHandled, "a later run needs a new value")
	var reasons []string
	for _, e := range p.Events {
		reasons = append(reasons, e.Reason)
		if e.Reason == EventChangesAccepted {
			assert.Contains(t, e.Message, "took dr-syncer.io/accept-changes=yes-1")
			assert.Contains(t, e.Message, "24 DR objects whose source is gone deleted")
		}
		if e.Reason == EventCopyDeleted {
			assert.Contains(t, e.Message, "deleted DR PersistentVolumeClaim old")
		}
	}
	assert.ElementsMatch(t, []string{EventSyncSucceeded, EventChangesAccepted, EventCopyDeleted}, reasons)

	again := replication(drv1.ModeManual, func(r *drv1.Replication) { r.Status = *p.Status.DeepCopy() })
	p2 := planReplication(replicationObservation{Replication: again, Run: &done}, now, poll)
	assert.Empty(t, p2.Events, "recorded once")
}

func TestSyncedMessageNamesKeptCopies(t *testing.T) {
	repl := replication(drv1.ModeManual, func(r *drv1.Replication) {
		r.Status.LastRun = &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/3", Result: "Completed"}
		r.Status.ResourceStatus = []drv1.ResourceStatus{{Kind: "PersistentVolumeClaim", Name: "data", State: string(contract.StateSourceDeleted)}}
	})
	p := planReplication(replicationObservation{Replication: repl}, now, poll)
	c := synced(t, p.Status)
	require.Equal(t, metav1.ConditionTrue, c.Status)
	assert.Contains(t, c.Message, "PersistentVolumeClaim data: source deleted, DR copy kept (annotate the DR object with dr-syncer.io/delete-copy=true to delete it)")
}
