package controller

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// Reasons of a ClusterMapping's Ready condition.
const (
	ReasonMappingInvalidReference = "InvalidReference"
	ReasonMappingPaused           = "Paused"
	ReasonAgentDisabled           = "AgentDisabled"
	ReasonWaitingForAgent         = "WaitingForAgent"
	ReasonKeysReady               = "KeysReady"
	ReasonNotVerified             = "ConnectivityNotVerified"
)

type clusterMappingPlan struct {
	Status drv1.ClusterMappingStatus
	Keys   keyAction
	// RotateValue is the rotate-keys annotation value the key action handles.
	RotateValue  string
	RequeueAfter time.Duration
	// StartCheck is the ID of a connectivity workflow to start.
	StartCheck string
}

// clusterKey is what the planner reads of a key Secret.
type clusterKey struct {
	Valid       bool
	Fingerprint string
	rotatingKey
}

func readClusterKey(s *corev1.Secret) clusterKey {
	fp, k := clusterKeyLayout.read(s)
	return clusterKey{Valid: fp != "", Fingerprint: fp, rotatingKey: k}
}

// planClusterMapping decides the key action and the status. Pure.
func planClusterMapping(obs clusterMappingObservation, now time.Time, poll time.Duration) clusterMappingPlan {
	m := obs.Mapping
	p := clusterMappingPlan{Status: *m.Status.DeepCopy()}
	st := &p.Status
	st.ObservedGeneration = m.Generation
	if obs.ReferenceProblem != "" {
		// Keys are kept as they are: generating one would write into the
		// namespace the reference must not reach.
		st.Phase = drv1.ClusterMappingFailed
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: drv1.ConditionReady, Status: metav1.ConditionFalse, Reason: ReasonMappingInvalidReference, Message: obs.ReferenceProblem,
			ObservedGeneration: m.Generation, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
		})
		return p
	}
	key := readClusterKey(obs.KeySecret)
	req := rotationRequest{Value: m.Annotations[drv1.AnnotationRotateKeys], Interval: durationOr(m.Spec.KeyRotationInterval)}
	if !key.Valid {
		// The first key also settles a rotate-keys value already present.
		p.Keys, p.RotateValue = keyGenerate, req.Value
		key.GeneratedAt, key.Handled, key.Overlap = now, req.Value, false
	} else {
		p.Keys = planRotation(&key.rotatingKey, req, slices.Contains(obs.AgentKeys, key.Fingerprint), now)
		p.RotateValue = key.Handled
	}
	st.KeyGeneratedAt = timeOf(key.GeneratedAt)
	st.RotateKeysHandled = key.Handled

	phase, ready := mappingPhase(obs, m)
	if ready.Reason == ReasonKeysReady {
		phase, ready = planConnectivity(obs, key, &p, now, poll)
	}
	if key.Overlap {
		ready.Message += "; key rotation in progress: the previous key stays authorized until the source agent has the new one"
		p.RequeueAfter = poll
	}
	p.RequeueAfter = req.requeue(key.rotatingKey, now, p.RequeueAfter)
	st.Phase = phase
	status := metav1.ConditionFalse
	if connectivityReady(ready.Reason) {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: drv1.ConditionReady, Status: status, Reason: ready.Reason, Message: ready.Message,
		ObservedGeneration: m.Generation, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
	})
	return p
}

// mappingPhase says where the mapping stands, with the Ready condition.
func mappingPhase(obs clusterMappingObservation, m *drv1.ClusterMapping) (drv1.ClusterMappingPhase, condition) {
	if obs.Problem != "" {
		return drv1.ClusterMappingFailed, condition{ReasonMappingInvalidReference, obs.Problem}
	}
	if m.Spec.Paused {
		return drv1.ClusterMappingPending, condition{ReasonMappingPaused, "paused: keys are kept, connectivity is not checked; set spec.paused to false to resume"}
	}
	src := obs.Source
	if !agentEnabled(src) {
		return drv1.ClusterMappingPending, condition{ReasonAgentDisabled, fmt.Sprintf(
			"source RemoteCluster %s runs no agent: set spec.pvcSync.enabled to true on it", src.Name)}
	}
	agent := src.Status.Agent
	if agent == nil || agent.Rollout == nil || agent.Rollout.Result != resultCompleted {
		ready, total := int32(0), int32(0)
		if agent != nil {
			ready, total = agent.ReadyNodes, agent.TotalNodes
		}
		return drv1.ClusterMappingPending, condition{ReasonWaitingForAgent, fmt.Sprintf(
			"waiting for the agent on source RemoteCluster %s: ready on %d/%d nodes (see its status.agent)", src.Name, ready, total)}
	}
	if m.Spec.VerifyConnectivity != nil && !*m.Spec.VerifyConnectivity {
		return drv1.ClusterMappingPending, condition{ReasonNotVerified, "keys ready and source agent ready; connectivity not verified (spec.verifyConnectivity is false)"}
	}
	// planConnectivity takes it from here.
	return drv1.ClusterMappingPending, condition{ReasonKeysReady, "keys ready and source agent ready"}
}

// durationOr parses a schema-validated duration; zero when empty or invalid.
func durationOr(d drv1.Duration) time.Duration {
	v, err := time.ParseDuration(string(d))
	if err != nil || v < 0 {
		return 0
	}
	return v
}
