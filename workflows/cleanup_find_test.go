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

	"github.com/dr-syncer/dr-syncer/contract"
)

// A sync looks for working objects before it runs Cleanup: what an earlier
// run left is deleted before the sync starts, its own objects at its end,
// and a look that finds nothing (or that fails) decides as the tests say.
func TestPVCSyncCleansUpOnlyWhatItFinds(t *testing.T) {
	for _, tc := range []struct {
		name             string
		left, own        []string
		findFails        bool
		cleanups         int
		deletedAtTheEnd  []string
		leftoversCleaned bool
	}{
		{name: "an earlier run left pods", left: []string{"prod/pod/shop/drs-mount-old"}, own: []string{"dr/pod/shop-dr/x"},
			cleanups: 2, deletedAtTheEnd: []string{"dr/pod/shop-dr/x"}, leftoversCleaned: true},
		{name: "nothing left and nothing of its own at the end", cleanups: 0},
		{name: "the look fails: Cleanup runs anyway", findFails: true, cleanups: 2,
			deletedAtTheEnd: []string{"dr/pod/shop-dr/x"}, leftoversCleaned: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPVCSuite(t, "FindWorkingObjects")
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
			require.NoError(t, s.env.GetWorkflowError())
			var result contract.PVCSyncResult
			require.NoError(t, s.env.GetWorkflowResult(&result))
			s.env.AssertActivityNumberOfCalls(t, "Cleanup", tc.cleanups)
			assert.Equal(t, tc.leftoversCleaned, leftoversCleaned, "the sweep for what earlier runs left")
			assert.Equal(t, tc.deletedAtTheEnd, result.Cleanup.Deleted)
			s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 1)
		})
	}
}
