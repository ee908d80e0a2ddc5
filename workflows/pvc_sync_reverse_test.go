package workflows

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/contract"
)

// A reverse sync tells the target step and MarkSynced its direction, and
// MarkSynced which claim the data came from, so neither marks the source's
// original claim as a copy.
func TestPVCSyncPassesItsDirection(t *testing.T) {
	s := newPVCSuite(t, "EnsureTargetPVC", "MarkSynced", "EnsureCredentials", "EnsureMountPod")
	s.in.Direction, s.in.AcceptChanges = contract.DirectionReverse, true
	// The pod and Secret steps name the reverse run, which their checks re-plan.
	reverse := &contract.PlanRequest{Replication: s.in.Replication, Direction: contract.DirectionReverse}
	s.env.OnActivity(s.a.EnsureCredentials, mock.Anything, mock.MatchedBy(func(in contract.CredentialsInput) bool {
		return reflect.DeepEqual(in.Authority, reverse)
	})).Return(contract.Credentials{Secret: "drs-creds-x"}, nil)
	s.env.OnActivity(s.a.EnsureMountPod, mock.Anything, mock.MatchedBy(func(in contract.MountPodInput) bool {
		return reflect.DeepEqual(in.Authority, reverse)
	})).Return(contract.MountPod{Name: "drs-mount-x", Target: "10.244.1.7:8873"}, nil)
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
	transfer.Authority = reverse
	s.env.OnActivity(s.a.Transfer, mock.Anything, transfer).Return(contract.TransferResult{}, nil)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 1)
}
