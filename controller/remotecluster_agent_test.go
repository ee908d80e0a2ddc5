package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/starter"
)

// The planner against what the cluster's agent DaemonSet shows: drift is
// re-applied, another RemoteCluster's agent is shared or refused, and the
// Ready condition reports the live counts.
func TestPlanRemoteClusterDeployedAgent(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	idA := contract.AgentRolloutWorkflowID("ns", "src", "vA")
	idB := contract.AgentRolloutWorkflowID("ns", "src", "vB")
	completed := func(id string) *drv1.AgentStatus {
		return &drv1.AgentStatus{ReadyNodes: 3, TotalNodes: 3, Rollout: &drv1.WorkflowRef{WorkflowID: id, Result: resultCompleted}}
	}
	ds := func(owner, version, checksum string, ready, desired int32, sharers string) *kube.DaemonSetState {
		return &kube.DaemonSetState{
			Found: true, Observed: true, Ready: ready, Desired: desired, Updated: desired,
			Annotations: map[string]string{contract.AnnotationAgentOwner: owner, contract.AnnotationAgentVersion: version,
				contract.AnnotationAgentSharers: sharers},
			TemplateAnnotations: map[string]string{contract.AnnotationAgentChecksum: checksum},
		}
	}
	obs := func(agent *drv1.AgentStatus, dep *kube.DaemonSetState) remoteClusterObservation {
		rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src", Generation: 2},
			Spec:   drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true}},
			Status: drv1.RemoteClusterStatus{Health: HealthHealthy, Agent: agent}}
		return remoteClusterObservation{Cluster: rc, Probed: true, Checksum: "sumA",
			Rollout: contract.AgentRolloutInput{Version: "vA"}, Deployed: dep}
	}
	for _, tc := range []struct {
		name     string
		obs      remoteClusterObservation
		reason   string
		message  string // a part of the Ready message
		start    bool   // the desired version (vA) is started
		conflict string // the AgentConflict status, "" when not set
		nodes    [2]int32
	}{
		{name: "DaemonSet deleted by hand after a completed rollout: not ready, re-applied under the same version",
			obs: obs(completed(idA), &kube.DaemonSetState{}), start: true, reason: ReasonAgentDrifted,
			message: "agent DaemonSet dr-syncer/dr-syncer-agent missing in cluster src; re-applying", conflict: "False", nodes: [2]int32{3, 3}},
		{name: "a first rollout into a cluster without an agent rolls out, with no drift warning",
			obs: obs(nil, &kube.DaemonSetState{}), start: true, reason: ReasonAgentRollingOut,
			message: "rolling the agent out", conflict: "False"},
		{name: "A → B → A: status tracks B, the cluster runs B, A is started again",
			obs: obs(completed(idB), ds("ns/src", "vB", "sumB", 3, 3, "")), start: true, reason: ReasonAgentDrifted,
			message: "runs settings sumB, the spec asks for sumA", conflict: "False"},
		{name: "a completed run of A does not hide that the cluster runs B",
			obs: obs(completed(idA), ds("ns/src", "vB", "sumB", 3, 3, "")), start: true, reason: ReasonAgentDrifted, conflict: "False"},
		{name: "keys changed behind the agent's back (version differs, settings equal) are re-applied",
			obs: obs(completed(idA), ds("ns/src", "vOld", "sumA", 3, 3, "")), start: true, reason: ReasonAgentDrifted,
			message: `applied at version "vOld"`, conflict: "False"},
		{name: "matching and ready is Ready with the live counts",
			obs: obs(completed(idA), ds("ns/src", "vA", "sumA", 4, 4, "")), reason: ReasonAgentReady,
			message: "agent ready on 4/4 nodes", conflict: "False", nodes: [2]int32{4, 4}},
		{name: "pods not ready say so, with the pods' reasons, and nothing is re-applied",
			obs: func() remoteClusterObservation {
				d := ds("ns/src", "vA", "sumA", 1, 3, "")
				d.PodProblems = []string{"dr-syncer-agent-x: ImagePullBackOff"}
				return obs(completed(idA), d)
			}(), reason: ReasonAgentNotReady, message: "ready on 1/3 nodes (3 up to date): dr-syncer-agent-x: ImagePullBackOff",
			conflict: "False", nodes: [2]int32{1, 3}},
		{name: "no node to run on is not ready",
			obs: obs(completed(idA), ds("ns/src", "vA", "sumA", 0, 0, "")), reason: ReasonAgentNotReady, message: "runs on no node", conflict: "False"},
		{name: "another live RemoteCluster's agent with other settings: AgentConflict naming it, nothing started",
			obs: func() remoteClusterObservation {
				o := obs(nil, ds("other/prod", "vX", "sumX", 3, 3, ""))
				o.OwnerLive = true
				return o
			}(), reason: ReasonAgentConflict, message: "belongs to RemoteCluster other/prod", conflict: "True"},
		{name: "another live RemoteCluster's agent with the same settings is joined",
			obs: func() remoteClusterObservation {
				o := obs(nil, ds("other/prod", "vX", "sumA", 3, 3, ""))
				o.OwnerLive = true
				return o
			}(), start: true, reason: ReasonAgentDrifted, message: "does not list this one as a sharer; joining it", conflict: "False"},
		{name: "a joined agent is Ready and says whose it is",
			obs: func() remoteClusterObservation {
				o := obs(completed(idA), ds("other/prod", "vX", "sumA", 3, 3, "ns/src"))
				o.OwnerLive = true
				return o
			}(), reason: ReasonAgentReady, message: "shared: RemoteCluster other/prod owns", conflict: "False"},
		{name: "an owner that is gone is taken over",
			obs: obs(completed(idA), ds("other/prod", "vX", "sumX", 3, 3, "")), start: true, reason: ReasonAgentDrifted,
			message: "no live owner", conflict: "False"},
		{name: "a running rollout is waited for, even while its DaemonSet is not there yet",
			obs: obs(&drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: idA}}, &kube.DaemonSetState{}), reason: ReasonAgentRollingOut, conflict: "False"},
		{name: "an unreadable DaemonSet is not called ready",
			obs: func() remoteClusterObservation {
				o := obs(completed(idA), nil)
				o.DeployedError = "forbidden"
				return o
			}(), reason: ReasonAgentNotReady, message: "cannot read the agent DaemonSet: forbidden"},
		{name: "a rollout refused as a conflict shows AgentConflict",
			obs: func() remoteClusterObservation {
				o := obs(&drv1.AgentStatus{Rollout: &drv1.WorkflowRef{WorkflowID: idA, Result: "Failed", CloseTime: &metav1.Time{Time: now}}}, nil)
				o.Tracked = &starter.AgentRolloutState{WorkflowState: starter.WorkflowState{WorkflowID: idA, Status: "Failed",
					Error: "belongs to RemoteCluster other/prod", ErrorType: contract.ErrTypeAgentConflict}}
				return o
			}(), reason: ReasonAgentConflict, message: "other/prod", conflict: "True"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planRemoteCluster(tc.obs, now, time.Second, time.Minute)
			ready := meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionReady)
			require.NotNil(t, ready)
			assert.Equal(t, tc.reason, ready.Reason)
			assert.Contains(t, ready.Message, tc.message)
			assert.Equal(t, tc.reason == ReasonAgentReady, ready.Status == metav1.ConditionTrue)
			assert.Equal(t, tc.reason == ReasonAgentDrifted, p.Drift != "", "a Drift warning Event goes with the AgentDrifted reason only")
			if tc.start {
				require.NotNil(t, p.StartRollout)
				assert.Equal(t, "vA", p.StartRollout.Version)
			} else {
				assert.Nil(t, p.StartRollout)
			}
			c := meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionAgentConflict)
			if tc.conflict == "" {
				assert.Nil(t, c)
			} else if assert.NotNil(t, c) {
				assert.Equal(t, tc.conflict, string(c.Status))
				if tc.conflict == "True" {
					assert.Contains(t, c.Message, "other/prod")
				}
			}
			if tc.nodes != [2]int32{} {
				assert.Equal(t, tc.nodes, [2]int32{p.Status.Agent.ReadyNodes, p.Status.Agent.TotalNodes})
			}
		})
	}
}

// Disabling pvcSync drops the AgentConflict condition with the agent.
func TestPlanRemoteClusterDisabledDropsConflict(t *testing.T) {
	rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"}}
	rc.Status.Conditions = []metav1.Condition{{Type: drv1.ConditionAgentConflict, Status: metav1.ConditionTrue, Reason: ReasonAgentConflict}}
	p := planRemoteCluster(remoteClusterObservation{Cluster: rc, Probed: true}, time.Now(), time.Second, time.Minute)
	assert.Nil(t, meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionAgentConflict))
}
