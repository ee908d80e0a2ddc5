package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/dr-syncer/dr-syncer/activities/connectivity"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshcheck"
)

type connSuite struct {
	env *testsuite.TestWorkflowEnvironment
	a   *connectivity.ConnectivityActivities
	pvc *pvcdata.PVCActivities
	in  contract.ConnectivityInput
	op  contract.Operation
}

var connAgents = []string{"10.0.0.1:2222", "10.0.0.2:2222"}

func newConnSuite(t *testing.T) *connSuite {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	s := &connSuite{env: ts.NewTestWorkflowEnvironment()}
	s.env.RegisterWorkflowWithOptions(Connectivity, workflowOptions(contract.ConnectivityName))
	s.env.RegisterActivity(s.a)
	s.env.RegisterActivity(s.pvc)
	dr := contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}
	s.in = contract.ConnectivityInput{
		Source: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}, DR: dr,
		ClusterKey:   contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-to-dr-ssh-key"},
		AgentHostKey: contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-agent-host-key"},
		Image:        contract.Image{Reference: drv1.DefaultDataPlaneImage, PullPolicy: "IfNotPresent"},
		AgentPort:    2222, TimeoutSeconds: 30,
		Mapping: &contract.ObjectRef{Namespace: "dr-syncer-system", Name: "prod-to-dr"},
	}
	s.op = contract.Operation{WorkflowID: "default-test-workflow-id", RunID: "default-test-run-id"}
	s.env.OnActivity(s.a.AgentAddresses, mock.Anything, contract.AgentAddressesInput{Source: s.in.Source, Port: 2222}).Return(connAgents, nil)
	s.env.OnActivity(s.pvc.Cleanup, mock.Anything, contract.CleanupInput{
		Op: s.op, Source: dr, SourceNamespace: contract.ConnectivityNamespace, Destination: dr, DestinationNamespace: contract.ConnectivityNamespace,
	}).Return(contract.CleanupResult{}, nil)
	return s
}

func (s *connSuite) checkInput() contract.ConnectivityCheckInput {
	return contract.ConnectivityCheckInput{
		Op: s.op, DR: s.in.DR, ClusterKey: s.in.ClusterKey, AgentHostKey: s.in.AgentHostKey,
		Image: s.in.Image, Agents: connAgents, TimeoutSeconds: 30, Mapping: s.in.Mapping,
	}
}

func TestConnectivityReportsEachAgentAndCleansUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result contract.ConnectivityResult
	}{
		{"connected", contract.ConnectivityResult{Connected: true, Agents: []sshcheck.Result{{Addr: connAgents[0], OK: true}, {Addr: connAgents[1], OK: true}}}},
		{"wrong key", contract.ConnectivityResult{Agents: []sshcheck.Result{{Addr: connAgents[0], OK: true}, {Addr: connAgents[1],
			Kind: sshcheck.KindAuth, Error: "authentication failed (the agent does not accept this cluster key)"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newConnSuite(t)
			s.env.OnActivity(s.a.RunConnectivityCheck, mock.Anything, s.checkInput()).Return(tc.result, nil)
			s.env.ExecuteWorkflow(contract.ConnectivityName, s.in)
			require.NoError(t, s.env.GetWorkflowError())
			var got contract.ConnectivityResult
			require.NoError(t, s.env.GetWorkflowResult(&got))
			assert.Equal(t, tc.result, got)
			s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
		})
	}
}

func TestConnectivityFailureStillCleansUp(t *testing.T) {
	s := newConnSuite(t)
	s.env.OnActivity(s.a.RunConnectivityCheck, mock.Anything, s.checkInput()).Return(contract.ConnectivityResult{},
		temporal.NewNonRetryableApplicationError("pod did not finish within 30s", contract.ErrTypeConnectivityTimeout, nil))
	s.env.ExecuteWorkflow(contract.ConnectivityName, s.in)
	err := s.env.GetWorkflowError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not finish within 30s")
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
}

func TestConnectivityCancelStillCleansUp(t *testing.T) {
	s := newConnSuite(t)
	s.env.OnActivity(s.a.RunConnectivityCheck, mock.Anything, s.checkInput()).After(time.Hour).Return(contract.ConnectivityResult{}, nil)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Second)
	s.env.ExecuteWorkflow(contract.ConnectivityName, s.in)
	err := s.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(err, &canceled), "want a cancellation, got %v", err)
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
}

// No agents to check creates nothing, so there is nothing to clean up.
func TestConnectivityWithoutAgentsFails(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	var a *connectivity.ConnectivityActivities
	env.RegisterWorkflowWithOptions(Connectivity, workflowOptions(contract.ConnectivityName))
	env.RegisterActivity(a)
	env.OnActivity(a.AgentAddresses, mock.Anything, mock.Anything).Return(nil,
		temporal.NewNonRetryableApplicationError("no ready node runs the agent", contract.ErrTypeAgentNotInstalled, nil))
	env.ExecuteWorkflow(contract.ConnectivityName, contract.ConnectivityInput{Source: contract.ClusterRef{Name: "prod"}, AgentPort: 2222})
	require.Error(t, env.GetWorkflowError())
	env.AssertActivityNumberOfCalls(t, "RunConnectivityCheck", 0)
}
