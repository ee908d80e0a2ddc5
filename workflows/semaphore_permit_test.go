package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// A sync whose grant was lost asks the semaphore again after
// permitRerequestAfter, and goes on once the permit comes.
func TestPVCSyncAsksAgainWhenItsGrantIsLost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  workflow.Version
		requests int
	}{
		{"since the change: asks again", 1, 2},
		{"before the change: waits on the one request", workflow.DefaultVersion, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPVCSuite(t, "Transfer")
			s.in.GlobalConcurrencyLimit = 3
			// A run before the change is a run before the baseline too.
			s.env.OnGetVersion(changeBaseline, workflow.DefaultVersion, baselineVersion).Return(tc.version)
			s.env.OnGetVersion(changePermitRerequest, workflow.DefaultVersion, 1).Return(tc.version)
			var permits *pvcdata.PermitActivities
			s.env.RegisterActivity(permits)
			requests := 0
			// The same request each time: the semaphore dedups by workflow ID.
			s.env.OnActivity(permits.RequestPermit, mock.Anything, mock.MatchedBy(func(in contract.AcquireInput) bool {
				return in.SemaphoreID == contract.ClusterSemaphoreID(srcCluster) && in.Limit == 3 &&
					in.Request == contract.PermitRequest{WorkflowID: s.op.WorkflowID, RunID: s.op.RunID}
			})).Return(func(context.Context, contract.AcquireInput) error { requests++; return nil })
			s.env.OnSignalExternalWorkflow(mock.Anything, contract.ClusterSemaphoreID(srcCluster), "", contract.SignalRelease, s.op.WorkflowID).Return(nil)
			transfers := 0
			s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).
				Return(func(context.Context, contract.TransferInput) (contract.TransferResult, error) {
					transfers++
					return contract.TransferResult{Streams: 1}, nil
				})
			// The first grant never arrives; the semaphore answers the second request.
			lateGrant := permitRerequestAfter + time.Minute
			s.env.RegisterDelayedCallback(func() {
				assert.Zero(t, transfers, "no transfer before the permit")
				assert.Equal(t, tc.requests, requests)
				s.env.SignalWorkflow(contract.SignalPermit, nil)
			}, lateGrant)
			s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
			require.True(t, s.env.IsWorkflowCompleted())
			require.NoError(t, s.env.GetWorkflowError())
			assert.Equal(t, tc.requests, requests)
			assert.Equal(t, 1, transfers)
		})
	}
}

// Signals delivered to a run that has reached its signal budget are not lost
// at continue-as-new: they are applied to the state the next run starts from.
func TestClusterSemaphoreCarriesSignalsAcrossContinueAsNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version workflow.Version
		want    contract.SemaphoreState
	}{
		{"since the change: drained", 1,
			contract.SemaphoreState{Limit: 1, Holders: []contract.PermitRequest{}, Waiting: []contract.PermitRequest{req("x"), req("y")}}},
		{"before the change: lost", workflow.DefaultVersion,
			contract.SemaphoreState{Limit: 1, Holders: []contract.PermitRequest{req("h")}, Waiting: []contract.PermitRequest{req("x")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterWorkflowWithOptions(ClusterSemaphore, workflow.RegisterOptions{Name: contract.ClusterSemaphoreName})
			env.RegisterActivity(&pvcdata.PermitActivities{})
			env.OnGetVersion(changeSemaphoreDrain, workflow.DefaultVersion, 1).Return(tc.version)
			var granted []string
			// A grant takes a second to reach its workflow; signals that
			// arrive meanwhile wait in the channels.
			env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, contract.SignalPermit, mock.Anything).
				After(time.Second).Return(func(_, workflowID, _, _ string, _ any) error {
				granted = append(granted, workflowID)
				return nil
			})
			env.RegisterDelayedCallback(func() {
				for i := range semaphoreSignalsPerRun - 2 {
					env.SignalWorkflow(contract.SignalRelease, fmt.Sprintf("gone-%d", i))
				}
				env.SignalWorkflow(contract.SignalAcquire, req("x"))
				// The last signal of the run's budget: the holder missed its
				// grant and asks again; the grant goes out.
				env.SignalWorkflow(contract.SignalAcquire, req("h"))
			}, time.Second)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(contract.SignalAcquire, req("y")) // a new sync queues
				env.SignalWorkflow(contract.SignalRelease, "h")      // the holder is done
			}, 1500*time.Millisecond)
			env.ExecuteWorkflow(contract.ClusterSemaphoreName, contract.SemaphoreState{Limit: 1, Holders: []contract.PermitRequest{req("h")}})
			require.True(t, env.IsWorkflowCompleted())
			var can *workflow.ContinueAsNewError
			require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
			var carried contract.SemaphoreState
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &carried))
			assert.Equal(t, tc.want, carried)
			assert.Equal(t, []string{"h"}, granted)
		})
	}
}

func req(id string) contract.PermitRequest {
	return contract.PermitRequest{WorkflowID: id, RunID: "r-" + id}
}
