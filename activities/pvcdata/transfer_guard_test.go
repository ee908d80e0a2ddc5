package pvcdata

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// A refused sync fails for good, as SourceShrank, and the message names the
// DR PVC, the counts and what a person does to let the change through.
func TestSourceShrankSaysWhatToDo(t *testing.T) {
	pvc := contract.PVCRef{Cluster: contract.ClusterRef{Namespace: "dr-syncer", Name: "dr"}, Namespace: "shop", Name: "data"}
	err := sourceShrank(pvc, progress.GuardVerdict{Reason: progress.GuardSourceShrank, SourceFiles: 0, DRFiles: 332, Deletions: 340})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, contract.ErrTypeSourceShrank, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	for _, want := range []string{"PVC dr/shop/data", "the source holds 0 files, the DR copy 332 (under 10%)",
		"DR copy kept, nothing copied or deleted", "dr-syncer.io/accept-changes=<any new value>"} {
		assert.Contains(t, err.Error(), want)
	}
}
