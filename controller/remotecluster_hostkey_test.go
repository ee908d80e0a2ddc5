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

// hostKeyCase is a RemoteCluster whose agent completed (or runs) the
// rollout of version v with the host key hostFP on 3 nodes, as the live
// DaemonSet shows it; its status recorded the request the key answers.
func hostKeyCase(annotation string, state rotatingKey, rolledOutFP string, running bool) remoteClusterObservation {
	const version, hostFP, checksum = "v2", "SHA256:new", "sum"
	id := contract.AgentRolloutWorkflowID("ns", "src", version)
	rc := &drv1.RemoteCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src", Generation: 1},
		Spec:       drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true}},
		Status: drv1.RemoteClusterStatus{Health: HealthHealthy, Agent: &drv1.AgentStatus{RotateHostKeyHandled: state.Handled,
			ReadyNodes: 3, TotalNodes: 3, Rollout: &drv1.WorkflowRef{WorkflowID: id, Result: resultCompleted}}},
	}
	if annotation != "" {
		rc.Annotations = map[string]string{drv1.AnnotationRotateHostKey: annotation}
	}
	tracked := &starter.AgentRolloutState{
		WorkflowState: starter.WorkflowState{WorkflowID: id, Status: resultCompleted},
		Outcome:       &contract.AgentRolloutResult{ReadyNodes: 3, TotalNodes: 3, HostKeyFingerprint: rolledOutFP},
	}
	deployed := &kube.DaemonSetState{Found: true, Observed: true, Desired: 3, Ready: 3, Updated: 3,
		Annotations:         map[string]string{contract.AnnotationAgentOwner: "ns/src", contract.AnnotationAgentVersion: version},
		TemplateAnnotations: map[string]string{contract.AnnotationAgentChecksum: checksum}}
	if running {
		// The DaemonSet rolls: one node still runs the old pod.
		tracked.WorkflowState.Status = starter.StatusRunning
		deployed.Ready, deployed.Updated = 2, 2
		rc.Status.Agent.Rollout.Result = ""
	}
	return remoteClusterObservation{
		Cluster: rc, Probed: true, HostKeyFP: hostFP, HostKeyState: state, Checksum: checksum,
		Rollout: contract.AgentRolloutInput{Version: version}, Tracked: tracked, Deployed: deployed,
	}
}

func TestPlanHostKeyRotation(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	settled := rotatingKey{GeneratedAt: now.Add(-time.Hour), Handled: "r1"}
	overlap := rotatingKey{GeneratedAt: now.Add(-time.Minute), Handled: "r1", Overlap: true}
	for _, tc := range []struct {
		name       string
		obs        remoteClusterObservation
		want       keyAction
		handled    string
		rotating   metav1.ConditionStatus // "" for no HostKeyRotating condition
		ready      string
		rollout    bool // a rollout starts in the same reconcile
		messageHas string
	}{
		{name: "a new annotation value rotates, and the rollout waits for the new key",
			obs: hostKeyCase("r2", settled, "SHA256:new", false), want: keyRotate, handled: "r2", rotating: metav1.ConditionTrue,
			ready: ReasonAgentRollingOut, messageHas: `requested by dr-syncer.io/rotate-host-key="r2"`},
		{name: "the value already handled does nothing",
			obs: hostKeyCase("r1", settled, "SHA256:new", false), want: keyKeep, handled: "r1", ready: ReasonAgentReady},
		{name: "no annotation does nothing",
			obs: hostKeyCase("", rotatingKey{GeneratedAt: now.Add(-time.Hour)}, "SHA256:new", false), want: keyKeep, ready: ReasonAgentReady},
		{name: "the previous key stays pinned while nodes still run the old agent",
			obs: hostKeyCase("r1", overlap, "SHA256:old", true), want: keyKeep, handled: "r1", rotating: metav1.ConditionTrue,
			ready: ReasonAgentRollingOut, messageHas: "the previous key stays pinned until all 3 nodes run it"},
		{name: "a rollout completed with the old key keeps the previous key pinned",
			obs: hostKeyCase("r1", overlap, "SHA256:old", false), want: keyKeep, handled: "r1", rotating: metav1.ConditionTrue},
		{name: "the previous key is dropped once every node runs the new one",
			obs: hostKeyCase("r1", overlap, "SHA256:new", false), want: keyDropPrevious, handled: "r1", rotating: metav1.ConditionFalse,
			ready: ReasonAgentReady, messageHas: "all 3 nodes run the new key SHA256:new; the previous key is no longer pinned"},
		{name: "a second request during the overlap waits for it to end",
			obs: hostKeyCase("r2", overlap, "SHA256:old", true), want: keyKeep, handled: "r1", rotating: metav1.ConditionTrue,
			messageHas: "the next rotation asked for waits until this one ends"},
		{name: "a value this RemoteCluster handled stays handled after a sharer of its Secret rotated it",
			obs: func() remoteClusterObservation {
				o := hostKeyCase("mine", rotatingKey{GeneratedAt: now.Add(-time.Hour), Handled: "theirs"}, "SHA256:new", false)
				o.Cluster.Status.Agent.RotateHostKeyHandled = "mine"
				return o
			}(), want: keyKeep, handled: "mine", ready: ReasonAgentReady},
		{name: "the interval rotates an old key",
			obs: func() remoteClusterObservation {
				o := hostKeyCase("", rotatingKey{GeneratedAt: now.Add(-48 * time.Hour)}, "SHA256:new", false)
				o.Cluster.Spec.PVCSync.SSH = &drv1.SSHSpec{HostKeyRotationInterval: "24h"}
				return o
			}(), want: keyRotate, rotating: metav1.ConditionTrue, messageHas: "hostKeyRotationInterval elapsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planRemoteCluster(tc.obs, now, time.Second, time.Minute)
			assert.Equal(t, tc.want, p.HostKeyAction)
			assert.Equal(t, tc.handled, p.Status.Agent.RotateHostKeyHandled)
			assert.Equal(t, tc.rollout, p.StartRollout != nil)
			c := meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionHostKeyRotating)
			if tc.rotating == "" {
				assert.Nil(t, c)
			} else if assert.NotNil(t, c) {
				assert.Equal(t, tc.rotating, c.Status)
				assert.Contains(t, c.Message, tc.messageHas)
			}
			if tc.ready != "" {
				assert.Equal(t, tc.ready, meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionReady).Reason)
			}
			if tc.want != keyKeep {
				assert.NotEmpty(t, p.HostKeyEvent, "a rotation's start and end are Events")
			}
			if tc.want == keyRotate {
				assert.Equal(t, now.Truncate(time.Second), p.Status.Agent.KeyGeneratedAt.Time.UTC())
			}
		})
	}
}

// A broken host key Secret is reported, never rotated or regenerated over:
// syncs may still pin what is in it.
func TestPlanHostKeyInvalidIsNotRotated(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	obs := hostKeyCase("r2", rotatingKey{Handled: "r1"}, "SHA256:new", false)
	obs.HostKeyProblem = "agent host key Secret ns/src-agent-host-key lacks a valid ssh_host_ed25519_key"
	p := planRemoteCluster(obs, now, time.Second, time.Minute)
	assert.Equal(t, keyKeep, p.HostKeyAction)
	assert.Nil(t, p.GenerateHostKey)
	assert.Equal(t, ReasonHostKeyInvalid, meta.FindStatusCondition(p.Status.Conditions, drv1.ConditionReady).Reason)
}

// The overlap ends only when the rollout that completed carried the
// current key and the DaemonSet, read now, shows every node updated.
func TestHostKeyRolledOut(t *testing.T) {
	id := contract.AgentRolloutWorkflowID("ns", "src", "v2")
	obs := hostKeyCase("", rotatingKey{Overlap: true}, "SHA256:new", false)
	found, read := judgeAgent(obs)
	require.True(t, read)
	assert.True(t, hostKeyRolledOut(obs, id, found, read))
	assert.False(t, hostKeyRolledOut(obs, id, found, false), "a DaemonSet not read now keeps the overlap")
	assert.False(t, hostKeyRolledOut(obs, contract.AgentRolloutWorkflowID("ns", "src", "v1"), found, read), "another version's rollout")
	obs.Deployed.Updated = 2
	found, _ = judgeAgent(obs)
	assert.False(t, hostKeyRolledOut(obs, id, found, read), "a node still runs the old pod")
}
