package controller

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// RemoteCluster health values.
const (
	HealthHealthy   = "Healthy"
	HealthUnhealthy = "Unhealthy"
)

// Reasons of a RemoteCluster's Ready condition; each says what happened or what to fix.
const (
	ReasonClusterReachable   = "Reachable"
	ReasonKubeconfigMissing  = "KubeconfigMissing"
	ReasonUnreachable        = "Unreachable"
	ReasonHostKeyInvalid     = "HostKeyInvalid"
	ReasonAgentPending       = "AgentPending"
	ReasonAgentRollingOut    = "AgentRollingOut"
	ReasonAgentReady         = "AgentReady"
	ReasonAgentRolloutFailed = "AgentRolloutFailed"
	ReasonAgentRemoving      = "AgentRemoving"
)

// rolloutRetryAfter is how long a failed rollout waits before the same
// version runs again (the reuse policy allows re-running failed IDs).
const rolloutRetryAfter = time.Minute

// unhealthyRetry re-probes an unhealthy cluster this often.
const unhealthyRetry = 30 * time.Second

// removalVersion prefixes the version of a removal rollout.
const removalVersion = "remove-g"

// remoteClusterPlan is what the reconciler does, and the status it then writes.
type remoteClusterPlan struct {
	Status drv1.RemoteClusterStatus
	// GenerateHostKey creates the agent host key Secret.
	GenerateHostKey *contract.SecretRef
	// HostKeyAction rotates the existing host key or ends a rotation's
	// overlap (planHostKey); RotateHostKeyValue is the rotate-host-key
	// annotation value a new key answers, HostKeyEvent the Event that
	// reports the action.
	HostKeyAction      keyAction
	RotateHostKeyValue string
	HostKeyEvent       string
	// CancelRollout cancels a rollout the spec or keys superseded.
	CancelRollout *drv1.WorkflowRef
	// StartRollout starts this rollout (or removal).
	StartRollout *contract.AgentRolloutInput
	// Drift says why StartRollout re-applies an agent the cluster lost or
	// changed; execute records it as an event too.
	Drift string
	// StartNote is the log line of StartRollout: a first rollout's inputs,
	// or, when it replaces the tracked rollout with another version, both
	// versions and which inputs changed; execute logs it.
	StartNote string
	// awaitingKeys holds the rollout back for a new mapping's key.
	awaitingKeys bool
	RequeueAfter time.Duration
	// conflict is the AgentConflict message ("" for none) once the agent
	// was judged; nil leaves the condition as it is.
	conflict *string
	// hostKeyOverlap: the previous host key is still pinned.
	hostKeyOverlap bool
}

// planRemoteCluster decides, from what observe saw, the health, whether to
// make a host key, which rollout to start or cancel, and the status. Pure.
func planRemoteCluster(obs remoteClusterObservation, now time.Time, poll, healthEvery time.Duration) remoteClusterPlan {
	rc := obs.Cluster
	p := remoteClusterPlan{Status: *rc.Status.DeepCopy(), RequeueAfter: healthEvery}
	st := &p.Status
	st.ObservedGeneration = rc.Generation
	ready := condition{}
	healthy := false
	switch {
	case obs.KubeconfigProblem != "":
		st.Health, st.LastHealthCheck = HealthUnhealthy, timeOf(now)
		ready = condition{ReasonKubeconfigMissing, obs.KubeconfigProblem}
	case obs.Probed && obs.ProbeError != "":
		st.Health, st.LastHealthCheck = HealthUnhealthy, timeOf(now)
		ready = condition{ReasonUnreachable, fmt.Sprintf("cannot reach the API server with the kubeconfig of spec.kubeconfigSecretRef: %s; check the server address, credentials and network from the controller", obs.ProbeError)}
	case obs.Probed:
		st.Health, st.LastHealthCheck = HealthHealthy, timeOf(now)
		healthy = true
		ready = condition{ReasonClusterReachable, fmt.Sprintf("API server %s reachable; %d/%d nodes ready", obs.Health.ServerVersion, obs.Health.ReadyNodes, obs.Health.Nodes)}
	default:
		healthy = st.Health == HealthHealthy
		if old := meta.FindStatusCondition(st.Conditions, drv1.ConditionReady); old != nil && healthy {
			ready = condition{ReasonClusterReachable, "API server reachable"}
			if old.Reason == ReasonClusterReachable {
				ready.Message = old.Message
			}
		}
	}
	if !healthy {
		p.RequeueAfter = unhealthyRetry
	}
	if agent := p.planAgent(obs, now, healthy); agent != nil && healthy {
		ready = *agent
		if p.hostKeyOverlap && p.HostKeyAction != keyRotate {
			ready.Message += "; host key rotation in progress: the previous key stays pinned until every agent runs the new one"
		}
	}
	if st.Agent != nil && st.Agent.Rollout != nil && st.Agent.Rollout.Result == "" {
		p.RequeueAfter = min(p.RequeueAfter, poll)
	}
	if p.StartRollout != nil || p.GenerateHostKey != nil || p.awaitingKeys || p.hostKeyOverlap {
		p.RequeueAfter = min(p.RequeueAfter, poll)
	}
	status := metav1.ConditionFalse
	if ready.Reason == ReasonClusterReachable || ready.Reason == ReasonAgentReady {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: drv1.ConditionReady, Status: status, Reason: ready.Reason, Message: ready.Message,
		ObservedGeneration: rc.Generation, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
	})
	switch {
	case !agentEnabled(rc):
		meta.RemoveStatusCondition(&st.Conditions, drv1.ConditionAgentConflict)
	case p.conflict != nil:
		setConflict(st, rc.Generation, *p.conflict, now)
	}
	return p
}

// planAgent follows the tracked rollout into status.agent and decides the
// next one. It returns the Ready condition the agent implies, or nil when
// there is no agent to speak of.
func (p *remoteClusterPlan) planAgent(obs remoteClusterObservation, now time.Time, healthy bool) *condition {
	rc, st := obs.Cluster, &p.Status
	if obs.TrackedLost && st.Agent != nil {
		st.Agent.Rollout = nil
	}
	if t := obs.Tracked; t != nil && st.Agent != nil && st.Agent.Rollout != nil {
		followRollout(st.Agent, t)
	}
	if !agentEnabled(rc) {
		return p.planRemoval(obs, now, healthy)
	}
	if st.Agent == nil {
		st.Agent = &drv1.AgentStatus{}
	}
	st.Agent.KeyGeneratedAt = nil
	switch {
	case obs.HostKeyProblem != "":
		// Never regenerated or rotated over: see observeKeys.
		return &condition{ReasonHostKeyInvalid, obs.HostKeyProblem}
	case obs.HostKeyMissing:
		// The first key also settles a rotate-host-key value already present.
		p.GenerateHostKey, p.RotateHostKeyValue = &obs.HostKey, rc.Annotations[drv1.AnnotationRotateHostKey]
		return &condition{ReasonAgentPending, "generating the agent host key"}
	}
	id := contract.AgentRolloutWorkflowID(rc.Namespace, rc.Name, obs.Rollout.Version)
	tracked := st.Agent.Rollout
	// What the cluster runs decides, not whether a rollout of this
	// version once completed: a deleted or changed DaemonSet, or a
	// setting reverted A → B → A, is applied again.
	found, read := judgeAgent(obs)
	if read {
		countsFrom(st.Agent, obs.Deployed)
		p.conflict = &found.Conflict
	}
	if c := p.planHostKey(obs, now, id, found, read); c != nil {
		return c
	}
	if found.Conflict != "" {
		// Another RemoteCluster's agent runs here with other settings:
		// nothing is rolled out until they agree or the owner goes.
		return &condition{ReasonAgentConflict, found.Conflict}
	}
	drifted := found.Drift != "" && tracked != nil && tracked.Result == resultCompleted
	start := healthy && (tracked == nil || tracked.WorkflowID != id || retryDue(tracked, now) || drifted)
	if names := awaitedKeys(obs.Unkeyed, now); start && len(names) > 0 {
		// Held back, briefly: the agent as it runs (if any) keeps serving.
		start, p.awaitingKeys = false, true
		wait := fmt.Sprintf("waiting up to %s for the cluster-pair key of ClusterMapping %s, which its reconciler is creating, so the agent rolls out with it",
			unkeyedMappingWait, strings.Join(names, ", "))
		switch {
		case tracked == nil:
			return &condition{ReasonAgentPending, wait}
		case found.Drift != "":
			return &condition{ReasonAgentDrifted, found.Drift + "; " + wait}
		}
	}
	if start {
		p.supersede(tracked)
		p.StartNote = startNote(tracked, obs)
		in := obs.Rollout
		p.StartRollout = &in
		// A first rollout into a cluster that has no agent yet finds it
		// missing, as it should: that is no drift to warn about.
		firstRollout := tracked == nil && obs.Deployed != nil && !obs.Deployed.Found
		if found.Drift != "" && !firstRollout {
			p.Drift = found.Drift
			return &condition{ReasonAgentDrifted, fmt.Sprintf("%s (workflow %s)", found.Drift, id)}
		}
		return &condition{ReasonAgentRollingOut, fmt.Sprintf("rolling the agent out (workflow %s)", id)}
	}
	if tracked == nil {
		return &condition{ReasonAgentPending, "the agent rolls out once the cluster is reachable"}
	}
	switch tracked.Result {
	case "":
		return &condition{ReasonAgentRollingOut, fmt.Sprintf("agent ready on %d/%d nodes; waiting for the rest (workflow %s)",
			st.Agent.ReadyNodes, st.Agent.TotalNodes, tracked.WorkflowID)}
	case resultCompleted:
		c := agentCondition(obs, st.Agent, found, read)
		return &c
	default:
		msg := fmt.Sprintf("agent rollout %s ended %s", tracked.WorkflowID, tracked.Result)
		if obs.Tracked != nil && obs.Tracked.Error != "" {
			msg += ": " + obs.Tracked.Error
		}
		if obs.Tracked != nil && obs.Tracked.ErrorType == contract.ErrTypeAgentConflict {
			p.conflict = &msg
			return &condition{ReasonAgentConflict, msg + "; checked again every minute"}
		}
		return &condition{ReasonAgentRolloutFailed, msg + "; it is retried every minute, and at once when the spec changes"}
	}
}

// planRemoval removes an agent that a rollout installed once pvcSync is
// disabled, and forgets it when the removal completed.
func (p *remoteClusterPlan) planRemoval(obs remoteClusterObservation, now time.Time, healthy bool) *condition {
	rc, st := obs.Cluster, &p.Status
	if st.Agent == nil {
		return nil
	}
	tracked := st.Agent.Rollout
	if tracked != nil && isRemoval(tracked.WorkflowID) {
		switch tracked.Result {
		case resultCompleted:
			st.Agent = nil
			return nil
		case "":
			return &condition{ReasonAgentRemoving, fmt.Sprintf("removing the agent (workflow %s)", tracked.WorkflowID)}
		}
		if !retryDue(tracked, now) {
			return &condition{ReasonAgentRolloutFailed, fmt.Sprintf("agent removal %s ended %s; retried every minute", tracked.WorkflowID, tracked.Result)}
		}
	}
	if !healthy {
		return nil
	}
	version := fmt.Sprintf("%s%d", removalVersion, rc.Generation)
	p.supersede(tracked)
	p.StartRollout = &contract.AgentRolloutInput{
		Cluster: contract.ClusterRef{Namespace: rc.Namespace, Name: rc.Name}, Version: version, Remove: true,
	}
	return &condition{ReasonAgentRemoving, "removing the agent: spec.pvcSync is disabled"}
}

// supersede cancels a running rollout that a newer one replaces, so two
// rollouts never write one DaemonSet.
func (p *remoteClusterPlan) supersede(tracked *drv1.WorkflowRef) {
	if tracked != nil && tracked.Result == "" {
		ref := *tracked
		p.CancelRollout = &ref
	}
}

// startNote is the log line of starting obs.Rollout: with nothing tracked,
// its inputs; replacing the tracked rollout with another version, both
// versions, how the old one stands, and which inputs changed; "" for a
// re-run of the tracked version (a retry or drift, logged as such).
func startNote(tracked *drv1.WorkflowRef, obs remoteClusterObservation) string {
	if tracked == nil {
		return fmt.Sprintf("agent rollout version %s: %s", obs.Rollout.Version, describeInputs(obs.Inputs))
	}
	if tracked.WorkflowID == contract.AgentRolloutWorkflowID(obs.Cluster.Namespace, obs.Cluster.Name, obs.Rollout.Version) {
		return ""
	}
	state := tracked.Result
	if state == "" {
		state = "running, cancelled now"
	}
	line := fmt.Sprintf("agent rollout version %s (%s) superseded by %s: ", versionOf(tracked.WorkflowID), state, obs.Rollout.Version)
	switch {
	case isRemoval(tracked.WorkflowID):
		return line + "the agent was being removed and is wanted again"
	case obs.TrackedInputs == nil:
		return line + "the old version's inputs are unknown (planned before this controller started); now " + describeInputs(obs.Inputs)
	}
	return line + rolloutChange(*obs.TrackedInputs, obs.Inputs)
}

// describeInputs summarizes inputs whose predecessor is unknown.
func describeInputs(in rolloutInputs) string {
	keys := make([]string, 0, len(in.Authorized))
	for _, fp := range in.Authorized {
		keys = append(keys, fp+whose(in.Whose[fp]))
	}
	line := fmt.Sprintf("host key %s, authorized keys [%s]", orNone(in.HostKey), strings.Join(keys, " "))
	if in.ConfigUnknown {
		return line
	}
	return fmt.Sprintf("image %s, port %d, %s", in.Config.Image, in.Config.Port, line)
}

// recordRolloutStarted points status.agent at the rollout just started.
func (p *remoteClusterPlan) recordRolloutStarted(run starter.StartedRun, now time.Time) {
	if p.Status.Agent == nil {
		p.Status.Agent = &drv1.AgentStatus{}
	}
	p.Status.Agent.Rollout = &drv1.WorkflowRef{WorkflowID: run.WorkflowID, RunID: run.RunID, StartTime: timeOf(now)}
}

const resultCompleted = starter.StatusCompleted

// followRollout copies a rollout's state into status.agent.
func followRollout(agent *drv1.AgentStatus, t *starter.AgentRolloutState) {
	ref := agent.Rollout
	if ref.WorkflowID != t.WorkflowID {
		return
	}
	ref.RunID = t.RunID
	ref.StartTime = timeOf(t.Start)
	if t.Running() {
		ref.Result, ref.CloseTime = "", nil
		if pr := t.Progress; pr != nil {
			agent.ReadyNodes, agent.TotalNodes = pr.ReadyNodes, pr.TotalNodes
		}
		return
	}
	ref.Result, ref.CloseTime = t.Status, timeOf(t.Close)
	if o := t.Outcome; o != nil && !o.Removed {
		agent.ReadyNodes, agent.TotalNodes = o.ReadyNodes, o.TotalNodes
	}
}

// retryDue is set for a failed rollout that may run again.
func retryDue(ref *drv1.WorkflowRef, now time.Time) bool {
	return ref.Result != "" && ref.Result != resultCompleted && ref.CloseTime != nil && now.Sub(ref.CloseTime.Time) >= rolloutRetryAfter
}

func isRemoval(workflowID string) bool {
	return strings.Contains(workflowID[strings.LastIndex(workflowID, "/")+1:], removalVersion)
}
