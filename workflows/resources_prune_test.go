package workflows

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/dr-syncer/dr-syncer/activities/objects"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// pruneHarness is a run in which deletions of the 30 ConfigMaps this
// Replication owns lost their source; it records what PruneObjects was asked.
func pruneHarness(t *testing.T, accepted string, terminating bool, deletions int) (*resourcesHarness, *[]contract.PruneInput) {
	return pruneHarnessOf(t, func(p *contract.ReplicationPlan) { p.AcceptChanges = accepted }, terminating, deletions)
}

// pruneHarnessOf is pruneHarness with the plan edited first.
func pruneHarnessOf(t *testing.T, edit func(*contract.ReplicationPlan), terminating bool, deletions int) (*resourcesHarness, *[]contract.PruneInput) {
	var s testsuite.WorkflowTestSuite
	h := &resourcesHarness{env: s.NewTestWorkflowEnvironment(), plan: resourcesPlan(drv1.FailureRetryAndWait)}
	edit(&h.plan)
	h.env.RegisterWorkflowWithOptions(ReplicateResources, workflowOptions(contract.ReplicateResourcesName))
	h.env.RegisterActivity(&objects.ResourceActivities{})
	var names []string
	for i := 0; i < deletions; i++ {
		names = append(names, fmt.Sprintf("cm-%02d", i))
	}
	cm := kind(t, "configmap")
	var a *objects.ResourceActivities
	h.env.OnActivity(a.SelectKinds, mock.Anything, h.plan).Return(contract.KindSelection{Stages: [][]resources.Kind{{cm}}}, nil)
	h.env.OnActivity(a.EnsureNamespace, mock.Anything, h.plan).Return(contract.NamespaceResult{Name: "shop", SourceTerminating: terminating}, nil)
	h.env.OnActivity(a.ReplicateKind, mock.Anything, contract.ReplicateKindInput{Plan: h.plan, Kind: cm}).Return(
		contract.KindResult{Kind: "ConfigMap", Owned: 30, Prune: names,
			Objects: []contract.ObjectStatus{{Kind: "ConfigMap", Name: "kept", State: contract.StateSynced, Action: "None"}}}, nil)
	var pruned []contract.PruneInput
	h.env.OnActivity(a.PruneObjects, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.PruneInput) (contract.KindResult, error) {
			pruned = append(pruned, in)
			res := contract.KindResult{Kind: in.Kind.String(), Writes: len(in.Names)}
			for _, n := range in.Names {
				res.Objects = append(res.Objects, contract.ObjectStatus{Kind: in.Kind.String(), Name: n, State: contract.StateSynced, Action: "Prune"})
			}
			return res, nil
		})
	return h, &pruned
}

func TestDeletionGuardHoldsAMassDeletion(t *testing.T) {
	h, pruned := pruneHarness(t, "", false, 24)
	res, err := h.run(t)
	require.NoError(t, err, "a held deletion fails the Replication run, not the resource step")
	assert.Empty(t, *pruned, "nothing is deleted")
	require.NotNil(t, res.DeletionGuard)
	assert.Equal(t, 24, res.DeletionGuard.Deletions)
	assert.Equal(t, 30, res.DeletionGuard.Owned)
	assert.Equal(t, 15, res.DeletionGuard.Limit, "50% of 30")
	assert.Contains(t, res.DeletionGuard.Held, "would delete 24 of the 30 objects")
	held := 0
	for _, o := range res.Resources {
		if o.State == contract.StateDeletionHeld {
			held++
		}
	}
	assert.Equal(t, 24, held, "every held object is listed")
	assert.Equal(t, 0, res.Failed)
}

func TestDeletionGuardLetsAcceptedAndSmallDeletionsThrough(t *testing.T) {
	for _, tc := range []struct {
		name      string
		accepted  string
		deletions int
	}{{"accepted", "v1", 24}, {"within the limit", "", 10}} {
		t.Run(tc.name, func(t *testing.T) {
			h, pruned := pruneHarness(t, tc.accepted, false, tc.deletions)
			res, err := h.run(t)
			require.NoError(t, err)
			require.Len(t, *pruned, 1)
			assert.Len(t, (*pruned)[0].Names, tc.deletions)
			assert.Empty(t, res.DeletionGuard.Held)
			assert.Equal(t, tc.accepted, res.DeletionGuard.Accepted)
			assert.True(t, res.Changed)
		})
	}
}

func TestDeletionGuardHoldsEverythingWhileTheSourceNamespaceGoes(t *testing.T) {
	h, pruned := pruneHarness(t, "", true, 1)
	res, err := h.run(t)
	require.NoError(t, err)
	assert.Empty(t, *pruned)
	assert.Contains(t, res.DeletionGuard.Held, "source namespace shop is being deleted")
}

func TestReplicationRunHeldByTheDeletionGuardFailsWithItsReason(t *testing.T) {
	r := contract.ReplicationResult{Resources: &contract.ResourcesResult{DeletionGuard: &contract.DeletionGuardResult{Held: "this run would delete 24 ..."}}}
	assert.Equal(t, contract.ErrTypeDeletionGuard, r.FailureType())
	assert.Contains(t, failureSummary(r), "DeletionGuard: this run would delete 24")
	r = contract.ReplicationResult{PVCs: []contract.PVCOutcome{{PVC: "data", Error: "PVC shop/data: the source PVC was re-created", ErrorType: contract.ErrTypeSourceReplaced}}}
	assert.Equal(t, contract.ErrTypeSourceReplaced, r.FailureType())
	r = contract.ReplicationResult{PVCs: []contract.PVCOutcome{{PVC: "data", Error: "x", ErrorType: contract.ErrTypePodFailed}}}
	assert.Equal(t, contract.ErrTypeSyncFailed, r.FailureType())
	r = contract.ReplicationResult{PVCs: []contract.PVCOutcome{{PVC: "logs", Error: "x", ErrorType: contract.ErrTypePodFailed},
		{PVC: "data", Error: "no VolumeSnapshotClass for CSI driver x: create one", ErrorType: contract.ErrTypeNoSnapshotClass}}}
	assert.Equal(t, contract.ErrTypeNoSnapshotClass, r.FailureType(), "what a person must fix names the condition")
}

// A failback never deletes in the source, though its acknowledgement would
// let any deletion past the guard.
func TestReverseRunPrunesNothing(t *testing.T) {
	h, pruned := pruneHarnessOf(t, func(p *contract.ReplicationPlan) {
		p.Direction, p.AcceptChanges = contract.DirectionReverse, "failback:failback-1"
	}, false, 24)
	res, err := h.run(t)
	require.NoError(t, err)
	assert.Empty(t, *pruned)
	assert.Nil(t, res.DeletionGuard, "no deletion step ran")
	h.env.AssertActivityNumberOfCalls(t, "PruneObjects", 0)
}
