package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"

	"github.com/dr-syncer/dr-syncer/contract"
)

// A failover's page in the Web UI lists its steps as they run and end
// (current details), as `drsyncer failover` prints them.
func TestFailoverShowsItsStepsAsCurrentDetails(t *testing.T) {
	s := newRecoverySuite(t, recoveryTarget)
	s.env.ExecuteWorkflow(contract.FailoverName, failoverIn)
	require.NoError(t, s.env.GetWorkflowError())
	v, err := s.env.QueryWorkflow("__temporal_workflow_metadata")
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	var res contract.FailoverResult
	require.NoError(t, s.env.GetWorkflowResult(&res))
	require.NotEmpty(t, res.Steps)
	for _, st := range res.Steps {
		assert.Contains(t, md.GetCurrentDetails(), "- ✓ **"+st.Name+"**", "every step is listed, done")
	}
	assert.NotContains(t, md.GetCurrentDetails(), "- →", "no step is left running")
}
