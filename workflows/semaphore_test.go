package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

func TestClusterSemaphoreGrantsAtMostLimitInOrder(t *testing.T) {
	env, granted := semaphoreEnv()
	var permits *pvcdata.PermitActivities
	env.OnActivity(permits.OpenWorkflows, mock.Anything, mock.Anything).Return(
		func(_ any, ids []string) ([]string, error) { return ids, nil }).Maybe()
	req := func(id string) contract.PermitRequest {
		return contract.PermitRequest{WorkflowID: id, RunID: "r-" + id}
	}
	at := func(d time.Duration, f func()) { env.RegisterDelayedCallback(f, d) }
	at(time.Second, func() { env.SignalWorkflow(contract.SignalAcquire, req("a")) })
	at(2*time.Second, func() { env.SignalWorkflow(contract.SignalAcquire, req("b")) })
	at(3*time.Second, func() { env.SignalWorkflow(contract.SignalAcquire, req("c")) })
	at(4*time.Second, func() { env.SignalWorkflow(contract.SignalAcquire, req("a")) }) // a retried acquire
	at(5*time.Second, func() {
		assert.Equal(t, []string{"a", "b", "a"}, *granted, "limit 2: c waits; a's retry is granted again")
		env.SignalWorkflow(contract.SignalRelease, "a")
	})
	at(6*time.Second, func() {
		assert.Equal(t, []string{"a", "b", "a", "c"}, *granted, "a's permit goes to c")
		env.SignalWorkflow(contract.SignalRelease, "b")
		env.SignalWorkflow(contract.SignalRelease, "c")
	})
	env.ExecuteWorkflow(contract.ClusterSemaphoreName, contract.SemaphoreState{Limit: 2})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "an idle semaphore closes by itself")
}

func TestClusterSemaphoreReclaimsPermitsOfVanishedHolders(t *testing.T) {
	env, granted := semaphoreEnv()
	var permits *pvcdata.PermitActivities
	// "a" was terminated without releasing: the audit finds it gone.
	env.OnActivity(permits.OpenWorkflows, mock.Anything, []string{"a"}).Return([]string{}, nil)
	env.OnActivity(permits.OpenWorkflows, mock.Anything, []string{"b"}).Return([]string{"b"}, nil).Maybe()
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalAcquire, contract.PermitRequest{WorkflowID: "a"})
		env.SignalWorkflow(contract.SignalAcquire, contract.PermitRequest{WorkflowID: "b"})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		assert.Equal(t, []string{"a", "b"}, *granted)
		env.SignalWorkflow(contract.SignalRelease, "b")
	}, 3*semaphoreAudit)
	env.ExecuteWorkflow(contract.ClusterSemaphoreName, contract.SemaphoreState{Limit: 1})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, []string{"a", "b"}, *granted)
}

// semaphoreEnv runs ClusterSemaphore with the permit signals it sends
// recorded, in order, as the IDs of the granted workflows.
func semaphoreEnv() (*testsuite.TestWorkflowEnvironment, *[]string) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(ClusterSemaphore, workflow.RegisterOptions{Name: contract.ClusterSemaphoreName})
	env.RegisterActivity(&pvcdata.PermitActivities{})
	var granted []string
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, contract.SignalPermit, mock.Anything).Return(
		func(_, workflowID, _, _ string, _ any) error {
			granted = append(granted, workflowID)
			return nil
		})
	return env, &granted
}
