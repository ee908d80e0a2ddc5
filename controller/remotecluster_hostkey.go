package controller

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// Reasons of the HostKeyRotating condition, and of the Events that mark a
// rotation's start and end.
const (
	ReasonHostKeyRotationInProgress = "RotationInProgress"
	ReasonHostKeyRotationComplete   = "RotationComplete"
	EventHostKeyRotated             = "HostKeyRotated"
	EventHostKeyRotationComplete    = "HostKeyRotationComplete"
)

// planHostKey rotates the agent host key when the rotate-host-key
// annotation or the interval asks, and ends a rotation's overlap once
// every agent presents the new key (hostKeyRolledOut): until then the
// Secret keeps the previous public key, which every sync pod pins next to
// the new one, so no sync meets an agent whose key it cannot verify.
// It returns the Ready condition when a rotation starts now: the rollout
// of the new key waits for the next reconcile, which reads it.
func (p *remoteClusterPlan) planHostKey(obs remoteClusterObservation, now time.Time, id string, found deployedAgent, read bool) *condition {
	rc, st := obs.Cluster, &p.Status
	k := obs.HostKeyState
	req := rotationRequest{Value: rc.Annotations[drv1.AnnotationRotateHostKey], Interval: hostKeyRotationInterval(rc)}
	if req.Value != "" && req.Value == st.Agent.RotateHostKeyHandled {
		// RemoteClusters that share an agent share its host key Secret,
		// whose record names the last one's request only: a value this
		// one handled stays handled, or two would rotate in turns forever.
		k.Handled = req.Value
	}
	why := "spec.pvcSync.ssh.hostKeyRotationInterval elapsed"
	if req.Value != "" && req.Value != k.Handled {
		why = fmt.Sprintf("requested by %s=%q", drv1.AnnotationRotateHostKey, req.Value)
	}
	p.HostKeyAction = planRotation(&k, req, hostKeyRolledOut(obs, id, found, read), now)
	p.RotateHostKeyValue = k.Handled
	st.Agent.KeyGeneratedAt = timeOf(k.GeneratedAt)
	if req.Value != "" && k.Handled == req.Value {
		st.Agent.RotateHostKeyHandled = req.Value
	}
	p.RequeueAfter = req.requeue(k, now, p.RequeueAfter)
	p.hostKeyOverlap = k.Overlap

	nodes := "every node"
	if n := st.Agent.TotalNodes; n > 0 {
		nodes = fmt.Sprintf("all %d nodes", n)
	}
	var msg string
	switch {
	case p.HostKeyAction == keyRotate:
		msg = fmt.Sprintf("host key rotation (%s): generated a new host key; the agents roll out with it, and syncs keep pinning the previous key %s until %s run the new one",
			why, obs.HostKeyFP, nodes)
		p.HostKeyEvent = msg
	case p.HostKeyAction == keyDropPrevious:
		msg = fmt.Sprintf("host key rotation complete: %s run the new key %s; the previous key is no longer pinned", nodes, obs.HostKeyFP)
		p.HostKeyEvent = msg
	case k.Overlap:
		msg = fmt.Sprintf("host key rotation: agents rolling out with the new key %s (ready on %d/%d nodes); the previous key stays pinned until %s run it",
			obs.HostKeyFP, st.Agent.ReadyNodes, st.Agent.TotalNodes, nodes)
		if req.due(k, now) {
			msg += "; the next rotation asked for waits until this one ends"
		}
	}
	setHostKeyRotating(st, rc.Generation, k.Overlap, msg, now)
	if p.HostKeyAction == keyRotate {
		return &condition{ReasonAgentRollingOut, msg}
	}
	return nil
}

// hostKeyRolledOut is set when every node's agent presents the current
// host key: the rollout of the current version completed with it, and the
// live DaemonSet, read just now, runs that version's pod template (whose
// checksum carries the host key) ready and updated on every node. A
// cluster that could not be read keeps the overlap.
func hostKeyRolledOut(obs remoteClusterObservation, id string, found deployedAgent, read bool) bool {
	t := obs.Tracked
	return read && found.Drift == "" && found.NotReady == "" && found.Conflict == "" &&
		t != nil && t.WorkflowID == id && t.Completed() && t.Outcome != nil && !t.Outcome.Removed &&
		t.Outcome.HostKeyFingerprint == obs.HostKeyFP
}

// setHostKeyRotating writes the HostKeyRotating condition: True with msg
// during an overlap, False once it ended. A RemoteCluster whose host key
// never rotated gets none.
func setHostKeyRotating(st *drv1.RemoteClusterStatus, generation int64, overlap bool, msg string, now time.Time) {
	c := metav1.Condition{Type: drv1.ConditionHostKeyRotating, Status: metav1.ConditionTrue, Reason: ReasonHostKeyRotationInProgress,
		Message: msg, ObservedGeneration: generation, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))}
	old := meta.FindStatusCondition(st.Conditions, drv1.ConditionHostKeyRotating)
	if !overlap {
		if old == nil && msg == "" {
			return
		}
		c.Status, c.Reason = metav1.ConditionFalse, ReasonHostKeyRotationComplete
		if msg == "" {
			c.Message = old.Message
			// The previous key went another way (the manual procedure).
			if old.Status == metav1.ConditionTrue {
				c.Message = "the previous host key is no longer pinned"
			}
		}
	}
	meta.SetStatusCondition(&st.Conditions, c)
}

// hostKeyRotationInterval is spec.pvcSync.ssh.hostKeyRotationInterval; 0 for none.
func hostKeyRotationInterval(rc *drv1.RemoteCluster) time.Duration {
	if p := rc.Spec.PVCSync; p != nil && p.SSH != nil {
		return durationOr(p.SSH.HostKeyRotationInterval)
	}
	return 0
}
