package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/dr-syncer/dr-syncer/activities/objects"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

func resourcesPlan(mode drv1.FailureMode) contract.ReplicationPlan {
	spec := drv1.ReplicationSpec{SourceCluster: "source", DestinationCluster: "dr", SourceNamespace: "shop",
		ResourceTypes:   []string{"*"},
		RetryConfig:     &drv1.RetryConfig{InitialBackoff: "1s", MaxBackoff: "2s"},
		FailureHandling: &drv1.FailureHandling{DefaultMode: mode}}
	drv1.SetReplicationDefaults(&spec)
	return contract.ReplicationPlan{
		Replication:     contract.ObjectRef{Namespace: "ops", Name: "shop"},
		Source:          contract.ClusterRef{Namespace: "ops", Name: "source"},
		Destination:     contract.ClusterRef{Namespace: "ops", Name: "dr"},
		SourceNamespace: "shop", DestinationNamespace: "shop", Spec: resolve.Settings(spec),
	}
}

func kind(t *testing.T, name string) resources.Kind {
	k, ok := resources.Lookup(name)
	require.True(t, ok)
	return k
}

// resourcesHarness runs ReplicateResources with mocked activities and
// records the order ReplicateKind is called in.
type resourcesHarness struct {
	env   *testsuite.TestWorkflowEnvironment
	plan  contract.ReplicationPlan
	mu    sync.Mutex
	calls []string
	// results per kind, consumed one per call; an error string fails the call.
	results map[string][]kindOutcome
}

type kindOutcome struct {
	result contract.KindResult
	err    error
}

func newResourcesHarness(t *testing.T, mode drv1.FailureMode, stages [][]string, unknown ...string) *resourcesHarness {
	var s testsuite.WorkflowTestSuite
	h := &resourcesHarness{env: s.NewTestWorkflowEnvironment(), plan: resourcesPlan(mode), results: map[string][]kindOutcome{}}
	h.env.RegisterWorkflowWithOptions(ReplicateResources, workflowOptions(contract.ReplicateResourcesName))
	h.env.RegisterActivity(&objects.ResourceActivities{})
	var a *objects.ResourceActivities
	sel := contract.KindSelection{Unknown: unknown}
	for _, stage := range stages {
		var ks []resources.Kind
		for _, name := range stage {
			k := kind(t, name)
			ks = append(ks, k)
			h.env.OnActivity(a.ReplicateKind, mock.Anything, contract.ReplicateKindInput{Plan: h.plan, Kind: k}).Return(
				func(_ context.Context, in contract.ReplicateKindInput) (contract.KindResult, error) {
					h.mu.Lock()
					defer h.mu.Unlock()
					h.calls = append(h.calls, in.Kind.Kind)
					queue := h.results[in.Kind.Kind]
					if len(queue) == 0 {
						return contract.KindResult{Kind: in.Kind.Kind, Objects: []contract.ObjectStatus{
							{Kind: in.Kind.Kind, Name: "a", State: contract.StateSynced, Action: "None"}}}, nil
					}
					h.results[in.Kind.Kind] = queue[1:]
					return queue[0].result, queue[0].err
				})
		}
		sel.Stages = append(sel.Stages, ks)
	}
	h.env.OnActivity(a.SelectKinds, mock.Anything, h.plan).Return(sel, nil)
	h.env.OnActivity(a.EnsureNamespace, mock.Anything, h.plan).Return(contract.NamespaceResult{Name: "shop"}, nil)
	return h
}

func (h *resourcesHarness) then(kind string, outcomes ...kindOutcome) {
	h.results[kind] = append(h.results[kind], outcomes...)
}

func (h *resourcesHarness) run(t *testing.T) (contract.ResourcesResult, error) {
	h.env.ExecuteWorkflow(contract.ReplicateResourcesName, h.plan)
	require.True(t, h.env.IsWorkflowCompleted())
	var res contract.ResourcesResult
	err := h.env.GetWorkflowError()
	if err != nil {
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "%v", err)
		assert.Equal(t, contract.ErrTypeResourcesFailed, appErr.Type())
		require.NoError(t, appErr.Details(&res), "a failed run still carries its result")
		return res, err
	}
	require.NoError(t, h.env.GetWorkflowResult(&res))
	return res, nil
}

var threeStages = [][]string{{"serviceaccount", "configmap"}, {"service"}, {"deployment", "hpa"}}

func TestReplicateResourcesRunsKindsStageByStage(t *testing.T) {
	h := newResourcesHarness(t, drv1.FailureRetryAndWait, threeStages)
	h.then("Deployment", kindOutcome{result: contract.KindResult{Kind: "Deployment", Writes: 1,
		Objects: []contract.ObjectStatus{{Kind: "Deployment", Name: "web", State: contract.StateSynced, Action: "Create"},
			{Kind: "Deployment", Name: "old", State: contract.StateSkipped, Error: "labelled dr-syncer.io/ignore=true"}},
		Scales: []contract.WorkloadScale{{Kind: "Deployment", Name: "web", OriginalReplicas: 3}}}})
	res, err := h.run(t)
	require.NoError(t, err)

	require.Len(t, h.calls, 5)
	assert.ElementsMatch(t, []string{"ServiceAccount", "ConfigMap"}, h.calls[:2], "stage 1 first")
	assert.Equal(t, "Service", h.calls[2], "then Services")
	assert.ElementsMatch(t, []string{"Deployment", "HorizontalPodAutoscaler"}, h.calls[3:], "then workloads")

	assert.Equal(t, 6, res.Total)
	assert.Equal(t, 5, res.Synced)
	assert.Equal(t, 1, res.Skipped)
	assert.Equal(t, 0, res.Failed)
	assert.True(t, res.Changed)
	assert.Equal(t, []contract.WorkloadScale{{Kind: "Deployment", Name: "web", OriginalReplicas: 3}}, res.Scales)
	assert.Equal(t, []contract.ResourceGroup{
		{Kind: "ServiceAccount", Total: 1, Synced: 1}, {Kind: "ConfigMap", Total: 1, Synced: 1}, {Kind: "Service", Total: 1, Synced: 1},
		{Kind: "Deployment", Total: 2, Synced: 1, Skipped: 1}, {Kind: "HorizontalPodAutoscaler", Total: 1, Synced: 1},
	}, res.Groups, "groups in the order kinds ran, whatever order they finished in")
}

func TestReplicateResourcesReportsNothingChanged(t *testing.T) {
	h := newResourcesHarness(t, drv1.FailureRetryAndWait, threeStages)
	res, err := h.run(t)
	require.NoError(t, err)
	assert.False(t, res.Changed, "no writes and an existing namespace: nothing for the controller to report")
	assert.Equal(t, 5, res.Synced)
}

func TestReplicateResourcesFailFastStopsAtTheFirstFailure(t *testing.T) {
	h := newResourcesHarness(t, drv1.FailureFailFast, threeStages)
	h.then("ConfigMap", kindOutcome{result: contract.KindResult{Kind: "ConfigMap", Objects: []contract.ObjectStatus{
		{Kind: "ConfigMap", Name: "bad", State: contract.StateFailed, Category: contract.CategoryValidation, Error: "too big"}}}})
	res, err := h.run(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ConfigMap bad: too big")
	assert.ElementsMatch(t, []string{"ServiceAccount", "ConfigMap"}, h.calls, "no kind after the failing stage runs")
	assert.Equal(t, "ConfigMap bad: too big", res.Stopped)
	assert.Equal(t, 1, res.Failed)
}

func TestReplicateResourcesFailFastDoesNotRetry(t *testing.T) {
	h := newResourcesHarness(t, drv1.FailureFailFast, threeStages)
	h.then("Service", kindOutcome{err: errors.New("connection refused")}, kindOutcome{})
	_, err := h.run(t)
	require.Error(t, err)
	assert.Equal(t, []string{"Service"}, h.calls[2:], "one attempt, and no workloads after it")
}

func TestReplicateResourcesWaitForNextSyncRecordsAndContinues(t *testing.T) {
	h := newResourcesHarness(t, drv1.FailureWaitForNextSync, threeStages)
	h.then("Service", kindOutcome{err: errors.New("connection refused")}, kindOutcome{})
	res, err := h.run(t)
	require.NoError(t, err, "the run completes; the next sync tries again")
	assert.Len(t, h.calls, 5, "Service was not retried, and the workloads still ran")
	assert.Equal(t, 1, res.Failed)
	require.Equal(t, contract.ObjectStatus{Kind: "Service", State: contract.StateFailed, Category: contract.CategoryNetwork,
		Error: "connection refused"}, res.Resources[2])
}

func TestReplicateResourcesRetryAndWaitRetriesPerRetryConfig(t *testing.T) {
	h := newResourcesHarness(t, drv1.FailureRetryAndWait, threeStages)
	h.then("Service", kindOutcome{err: errors.New("timeout")}, kindOutcome{err: errors.New("timeout")})
	res, err := h.run(t)
	require.NoError(t, err)
	assert.Equal(t, []string{"Service", "Service", "Service"}, h.calls[2:5], "two failures, then success")
	assert.Equal(t, 0, res.Failed)
}

func TestReplicateResourcesKeepsPerObjectStatusOfTransientFailures(t *testing.T) {
	h := newResourcesHarness(t, drv1.FailureRetryOnly, threeStages)
	partial := contract.KindResult{Kind: "ConfigMap", Objects: []contract.ObjectStatus{
		{Kind: "ConfigMap", Name: "ok", State: contract.StateSynced},
		{Kind: "ConfigMap", Name: "slow", State: contract.StateFailed, Category: contract.CategoryNetwork, Error: "i/o timeout"}}}
	objectsFailed := temporal.NewApplicationErrorWithOptions("1 ConfigMap failed", contract.ErrTypeObjectsFailed,
		temporal.ApplicationErrorOptions{Details: []any{partial}})
	for range 6 { // retryConfig's default 5 retries: 6 attempts
		h.then("ConfigMap", kindOutcome{err: objectsFailed})
	}
	res, err := h.run(t)
	require.Error(t, err, "RetryOnly fails the run once retries are spent")
	assert.Len(t, h.calls, 5+5, "ConfigMap tried 6 times; the other kinds still ran")
	assert.Equal(t, 1, res.Failed)
	assert.Contains(t, res.Resources, partial.Objects[0])
	assert.Contains(t, res.Resources, partial.Objects[1])
}

func TestReplicateResourcesUnknownTypesFollowResourceNotFound(t *testing.T) {
	t.Run("WaitForNextSync records them and replicates the rest", func(t *testing.T) {
		h := newResourcesHarness(t, drv1.FailureWaitForNextSync, [][]string{{"configmap"}}, "widgets")
		res, err := h.run(t)
		require.NoError(t, err)
		assert.Equal(t, []string{"ConfigMap"}, h.calls)
		assert.Equal(t, contract.CategoryNotFound, res.Resources[0].Category)
		assert.Contains(t, res.Resources[0].Error, `unknown resource type "widgets"`)
	})
	t.Run("FailFast fails before writing anything", func(t *testing.T) {
		h := newResourcesHarness(t, drv1.FailureFailFast, [][]string{{"configmap"}}, "widgets")
		_, err := h.run(t)
		require.Error(t, err)
		assert.Empty(t, h.calls)
		h.env.AssertNotCalled(t, "EnsureNamespace", mock.Anything, mock.Anything)
	})
}
