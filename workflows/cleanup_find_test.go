package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

// A sync looks for working objects before it runs Cleanup: what an earlier
// run left is deleted before the sync starts, its own objects at its end.
// A look that finds nothing skips Cleanup; one that fails does not, and a
// sync that failed cleans up at its end without looking.
func TestPVCSyncCleansUpOnlyWhatItFinds(t *testing.T) {
	for _, tc := range []struct {
		name             string
		left, own        []string
		findFails        bool
		transferFails    bool
		cleanups         int
		deletedAtTheEnd  []string
		leftoversCleaned bool
	}{
		{name: "an earlier run left pods", left: []string{"prod/pod/shop/drs-mount-old"}, own: []string{"dr/pod/shop-dr/x"},
			cleanups: 2, deletedAtTheEnd: []string{"dr/pod/shop-dr/x"}, leftoversCleaned: true},
		{name: "nothing left and nothing of its own at the end", cleanups: 0},
		{name: "the look fails: Cleanup runs anyway", findFails: true, cleanups: 2,
			deletedAtTheEnd: []string{"dr/pod/shop-dr/x"}, leftoversCleaned: true},
		{name: "the sync failed: its end cleans up without a look", transferFails: true, cleanups: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPVCSuite(t, "FindWorkingObjects", "Transfer")
			transfer := s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput())
			if tc.transferFails {
				transfer.Return(contract.TransferResult{}, temporal.NewNonRetryableApplicationError("boom", contract.ErrTypeTransferFailed, nil))
			} else {
				transfer.Return(contract.TransferResult{Streams: 1}, nil)
			}
			leftoversCleaned := false
			s.env.OnActivity(s.a.FindWorkingObjects, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in contract.CleanupInput) (contract.WorkingObjects, error) {
					if tc.findFails {
						return contract.WorkingObjects{}, errors.New("apiserver unreachable")
					}
					if in.Leftovers {
						return contract.WorkingObjects{Objects: tc.left}, nil
					}
					return contract.WorkingObjects{Objects: tc.own}, nil
				})
			s.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
				var in contract.CleanupInput
				if info.ActivityType.Name == "Cleanup" && args.Get(&in) == nil && in.Leftovers {
					leftoversCleaned = true
				}
			})
			s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
			s.env.AssertActivityNumberOfCalls(t, "Cleanup", tc.cleanups)
			assert.Equal(t, tc.leftoversCleaned, leftoversCleaned, "the sweep for what earlier runs left")
			if tc.transferFails {
				require.Error(t, s.env.GetWorkflowError())
				s.env.AssertActivityNumberOfCalls(t, "FindWorkingObjects", 1) // the sweep only
				return
			}
			require.NoError(t, s.env.GetWorkflowError())
			var result contract.PVCSyncResult
			require.NoError(t, s.env.GetWorkflowResult(&result))
			assert.Equal(t, tc.deletedAtTheEnd, result.Cleanup.Deleted)
			s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 1)
		})
	}
}
