package controller

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Reasons of the Ready and AgentConflict conditions that come from reading
// the agent DaemonSet itself.
const (
	ReasonAgentDrifted  = "AgentDrifted"
	ReasonAgentNotReady = "AgentNotReady"
	ReasonAgentConflict = "AgentConflict"
	ReasonNoConflict    = "NoConflict"
)

// deployedAgent is what the live agent DaemonSet says, judged against what
// this RemoteCluster asks for. Every field is a sentence for the status.
type deployedAgent struct {
	// Conflict names the live owner whose settings differ.
	Conflict string
	// Drift says why the agent must be (re-)applied; "" when it matches.
	Drift string
	// SharedWith is the owner whose agent this RemoteCluster shares.
	SharedWith string
	// NotReady says why the agent, matching the spec, does not serve yet.
	NotReady string
}

// judgeAgent compares the agent DaemonSet observe read with the spec, the
// host key and the authorized keys. ok is false when it was not read.
func judgeAgent(obs remoteClusterObservation) (d deployedAgent, ok bool) {
	dep, rc := obs.Deployed, obs.Cluster
	if dep == nil {
		return d, false
	}
	where := fmt.Sprintf("agent DaemonSet %s/%s in cluster %s", contract.AgentNamespace, contract.AgentDaemonSetName, rc.Name)
	if !dep.Found {
		d.Drift = fmt.Sprintf("agent DaemonSet %s/%s missing in cluster %s; re-applying", contract.AgentNamespace, contract.AgentDaemonSetName, rc.Name)
		return d, true
	}
	me := contract.ClusterRef{Namespace: rc.Namespace, Name: rc.Name}
	owner := dep.Annotations[contract.AnnotationAgentOwner]
	checksum := dep.TemplateAnnotations[contract.AnnotationAgentChecksum]
	switch {
	case owner != "" && owner != me.Key() && obs.OwnerLive && checksum != obs.Checksum:
		d.Conflict = fmt.Sprintf("the %s belongs to RemoteCluster %s, whose agent settings differ from this one's (checksum %s, this one asks for %s); nothing is applied. "+
			"Give both RemoteClusters the same spec.pvcSync (image, ssh port and key Secret, metrics, deployment), or disable spec.pvcSync on one of them; "+
			"if %s is deleted or disables pvcSync, this one takes the agent over", where, owner, checksum, obs.Checksum, owner)
		return d, true
	case owner != "" && owner != me.Key() && obs.OwnerLive:
		d.SharedWith = owner
		if !slices.Contains(contract.ParseAgentSharers(dep.Annotations[contract.AnnotationAgentSharers]), me) {
			d.Drift = fmt.Sprintf("the %s belongs to RemoteCluster %s and does not list this one as a sharer; joining it", where, owner)
		}
	case owner != me.Key():
		d.Drift = fmt.Sprintf("the %s has no live owner (annotation %s=%q); taking it over", where, contract.AnnotationAgentOwner, owner)
	case checksum != obs.Checksum:
		d.Drift = fmt.Sprintf("the %s runs settings %s, the spec asks for %s; re-applying", where, checksum, obs.Checksum)
	case dep.Annotations[contract.AnnotationAgentVersion] != obs.Rollout.Version:
		d.Drift = fmt.Sprintf("the %s was applied at version %q, the spec and keys ask for %s; re-applying",
			where, dep.Annotations[contract.AnnotationAgentVersion], obs.Rollout.Version)
	}
	switch {
	case d.Drift != "":
	case dep.Desired == 0:
		d.NotReady = where + " runs on no node: check spec.pvcSync.deployment.nodeSelector and tolerations against the cluster's nodes"
	case !dep.Observed || dep.Updated < dep.Desired || dep.Ready < dep.Desired:
		d.NotReady = fmt.Sprintf("%s ready on %d/%d nodes (%d up to date)", where, dep.Ready, dep.Desired, dep.Updated)
		if len(dep.PodProblems) > 0 {
			d.NotReady += ": " + strings.Join(dep.PodProblems, "; ")
		}
	}
	return d, true
}

// agentCondition is the Ready condition of an agent that completed its
// last rollout, from the live DaemonSet when it was read.
func agentCondition(obs remoteClusterObservation, agent *drv1.AgentStatus, d deployedAgent, read bool) condition {
	switch {
	case obs.DeployedError != "":
		return condition{ReasonAgentNotReady, "cannot read the agent DaemonSet: " + obs.DeployedError}
	case read && d.NotReady != "":
		return condition{ReasonAgentNotReady, d.NotReady}
	}
	msg := fmt.Sprintf("agent ready on %d/%d nodes", agent.ReadyNodes, agent.TotalNodes)
	if d.SharedWith != "" {
		msg += fmt.Sprintf(" (shared: RemoteCluster %s owns the agent DaemonSet)", d.SharedWith)
	}
	return condition{ReasonAgentReady, msg}
}

// countsFrom copies the live DaemonSet's node counts into status.agent.
func countsFrom(agent *drv1.AgentStatus, dep *kube.DaemonSetState) {
	if dep != nil && dep.Found {
		agent.ReadyNodes, agent.TotalNodes = dep.Ready, dep.Desired
	}
}

// setConflict writes the AgentConflict condition: True with msg, False
// when msg is empty. Only RemoteClusters with an agent carry it.
func setConflict(st *drv1.RemoteClusterStatus, generation int64, msg string, now time.Time) {
	c := metav1.Condition{Type: drv1.ConditionAgentConflict, Status: metav1.ConditionFalse, Reason: ReasonNoConflict,
		Message: "this RemoteCluster owns or shares the cluster's agent", ObservedGeneration: generation,
		LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))}
	if msg != "" {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonAgentConflict, msg
	}
	meta.SetStatusCondition(&st.Conditions, c)
}
