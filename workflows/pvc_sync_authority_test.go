package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dr-syncer/dr-syncer/contract"
)

// The pod and Secret steps name the run they act for exactly as
// ResolveReplication planned it, so the activity re-plans the same thing:
// a drill's scratch namespace is part of it, other directions have none.
func TestAuthorityNamesTheRun(t *testing.T) {
	repl := contract.ObjectRef{Namespace: "ops", Name: "shop"}
	for _, tc := range []struct {
		in   contract.PVCSyncInput
		want contract.PlanRequest
	}{
		{contract.PVCSyncInput{Replication: repl, DestinationNamespace: "shop-dr"}, contract.PlanRequest{Replication: repl}},
		{contract.PVCSyncInput{Replication: repl, DestinationNamespace: "shop", Direction: contract.DirectionReverse},
			contract.PlanRequest{Replication: repl, Direction: contract.DirectionReverse}},
		{contract.PVCSyncInput{Replication: repl, DestinationNamespace: "shop-drill", Direction: contract.DirectionDrill},
			contract.PlanRequest{Replication: repl, Direction: contract.DirectionDrill, DrillNamespace: "shop-drill"}},
	} {
		assert.Equal(t, &tc.want, authority(tc.in))
	}
}
