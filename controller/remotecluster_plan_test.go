package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

func TestPlanRemoteCluster(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rc := func(enabled bool, agent *drv1.AgentStatus) *drv1.RemoteCluster {
		r := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src", Generation: 4}, Status: drv1.RemoteClusterStatus{Agent: agent}}
		if enabled {
			r.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true}
		}
		return r
	}
	current := contract.AgentRolloutWorkflowID("ns", "src", "v2")
	rollout := contract.AgentRolloutInput{Version: "v2"}
	for _, tc := range []struct {
		name       string
		obs        remoteClusterObservation
		health     string
		reason     string
		start      string // version started, "" for none
		cancel     bool
		hostKey    bool
		agentIsNil bool
	}{
		{name: "missing kubeconfig is Unhealthy and starts nothing", obs: remoteClusterObservation{Cluster: rc(true, nil), KubeconfigProblem: "Secret x not found", Rollout: rollout},
			health: HealthUnhealthy, reason: ReasonKubeconfigMissing},
		{name: "unreachable", obs: remoteClusterObservation{Cluster: rc(false, nil), Probed: true, ProbeError: "dial tcp: refused"},
			health: HealthUnhealthy, reason: ReasonUnreachable, agentIsNil: true},
		{name: "healthy without pvcSync", obs: remoteClusterObservation{Cluster: rc(false, nil), Probed: true},
			health: HealthHealthy, reason: ReasonClusterReachable, agentIsNil: true},
		{name: "host key missing is generated first", obs: remoteClusterObservation{Cluster: rc(true, nil), Probed: true, HostKeyMissing: true},
			health: HealthHealthy, reason: ReasonAgentPending, hostKey: true},
		{name: "first rollout starts", obs: remoteClusterObservation{Cluster: rc(true, nil), Probed: true, Rollout: rollout},
			health: HealthHealthy, reason: ReasonAgentRollingOut, start: "v2"},
		{name: "the same version is not started twice", obs: remoteClusterObservation{Cluster: rc(true, &drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: current}}), Probed: true, Rollout: rollout},
			health: HealthHealthy, reason: ReasonAgentRollingOut},
		{name: "a new version cancels the running one", obs: remoteClusterObservation{Cluster: rc(true, &drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: "agent-rollout/ns/src/v1"}}), Probed: true, Rollout: rollout},
			health: HealthHealthy, reason: ReasonAgentRollingOut, start: "v2", cancel: true},
		{name: "completed is ready", obs: remoteClusterObservation{Cluster: rc(true, &drv1.AgentStatus{ReadyNodes: 2, TotalNodes: 2, Rollout: &drv1.WorkflowRef{WorkflowID: current, Result: "Completed"}}), Probed: true, Rollout: rollout},
			health: HealthHealthy, reason: ReasonAgentReady},
		{name: "disabled with an agent removes it", obs: remoteClusterObservation{Cluster: rc(false, &drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: current, Result: "Completed"}}), Probed: true},
			health: HealthHealthy, reason: ReasonAgentRemoving, start: "remove-g4"},
		{name: "a completed removal forgets the agent", obs: remoteClusterObservation{Cluster: rc(false, &drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: "agent-rollout/ns/src/remove-g4", Result: "Completed"}}), Probed: true},
			health: HealthHealthy, reason: ReasonClusterReachable, agentIsNil: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planRemoteCluster(tc.obs, now, time.Second, time.Minute)
			assert.Equal(t, tc.health, p.Status.Health)
			assert.Equal(t, tc.reason, p.Status.Conditions[0].Reason)
			if tc.start == "" {
				assert.Nil(t, p.StartRollout)
			} else if assert.NotNil(t, p.StartRollout) {
				assert.Equal(t, tc.start, p.StartRollout.Version)
			}
			assert.Equal(t, tc.cancel, p.CancelRollout != nil)
			assert.Equal(t, tc.hostKey, p.GenerateHostKey != nil)
			assert.Equal(t, tc.agentIsNil, p.Status.Agent == nil)
		})
	}
}

// The rollout version names the workflow that installs an agent: the same
// spec must give the same version on every reconcile (or each would start
// a rollout), and a new metrics port a new one (or it would never roll out).
func TestRolloutVersionIsDeterministicAndFollowsTheMetricsPort(t *testing.T) {
	spec := func(metrics *drv1.AgentMetricsSpec) contract.AgentConfig {
		return resolve.AgentConfig(&drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"},
			Spec: drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true, Metrics: metrics,
				Deployment: &drv1.AgentDeploymentSpec{Labels: map[string]string{"a": "1", "b": "2", "c": "3"},
					Annotations: map[string]string{"x": "1", "y": "2", "z": "3"}}}}})
	}
	first := rolloutVersion(spec(nil), "fp", []string{"k1", "k2"})
	for range 20 {
		assert.Equal(t, first, rolloutVersion(spec(nil), "fp", []string{"k1", "k2"}))
	}
	assert.Equal(t, first, rolloutVersion(spec(&drv1.AgentMetricsSpec{Port: 2223}), "fp", []string{"k1", "k2"}),
		"the default written out is the same rollout")
	assert.NotEqual(t, first, rolloutVersion(spec(&drv1.AgentMetricsSpec{Port: 9464}), "fp", []string{"k1", "k2"}))
}
