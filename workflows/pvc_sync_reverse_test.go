package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/contract"
)

// A reverse sync tells the target step and MarkSynced its direction, and
// MarkSynced which claim the data came from, so neither marks the source's
// original claim as a copy.
func TestPVCSyncPassesItsDirection(t *testing.T) {
	s := newPVCSuite(t, "EnsureTargetPVC", "MarkSynced")
	s.in.Direction, s.in.AcceptChanges = contract.DirectionReverse, true
	s.env.OnActivity(s.a.EnsureTargetPVC, mock.Anything, contract.TargetPVCInput{
		Source: sourcePVC, Destination: dstCluster, DestinationNamespace: "shop-dr", CreateNamespace: true,
		StorageClassMappings: map[string]string{"standard": "fast"}, Replication: "dr-syncer-system/shop",
		Acknowledged: true, Direction: contract.DirectionReverse,
	}).Return(contract.TargetPVC{Name: "data", Namespace: "shop-dr", StorageClass: "fast", Size: "1Gi"}, nil)
	s.env.OnActivity(s.a.MarkSynced, mock.Anything, mock.MatchedBy(func(in contract.MarkSyncedInput) bool {
		return in.Direction == contract.DirectionReverse && in.Source != nil && *in.Source == sourcePVC && in.Name == "data"
	})).Return(nil)
	// The transfer is acknowledged too: the failback is the person's word.
	transfer := s.transferInput()
	transfer.Acknowledged = true
	s.env.OnActivity(s.a.Transfer, mock.Anything, transfer).Return(contract.TransferResult{}, nil)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 1)
}
