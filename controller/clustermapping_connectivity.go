package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshcheck"
)

// Reasons of the Ready condition while connectivity is verified.
const (
	ReasonWaitingForKeyRollout = "WaitingForKeyRollout"
	ReasonCheckingConnectivity = "CheckingConnectivity"
	ReasonConnected            = "Connected"
	ReasonConnectivityFailed   = "ConnectivityFailed"
)

// Re-check intervals: a good result is re-proved every RecheckInterval, a
// failed one retried every FailedRecheckInterval. A new key, spec or agent
// rollout starts a check at once.
const (
	RecheckInterval       = 10 * time.Minute
	FailedRecheckInterval = time.Minute
)

// maxFailuresShown bounds how many agents a Failed message lists.
const maxFailuresShown = 3

// checkVersion identifies what a check proves: the key, the spec and the
// agent rollout it runs against. A change in any of them needs a new check.
func checkVersion(keyFingerprint string, generation int64, agentRollout string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s", keyFingerprint, generation, agentRollout))
	return hex.EncodeToString(sum[:])[:12]
}

// checkSeq is the sequence number of the check id names within version;
// 0 when id belongs to another version.
func checkSeq(m *drv1.ClusterMapping, version, id string) int {
	prefix := strings.TrimSuffix(contract.ConnectivityWorkflowID(m.Namespace, m.Name, version, 0), "0")
	n, err := strconv.Atoi(strings.TrimPrefix(id, prefix))
	if !strings.HasPrefix(id, prefix) || err != nil {
		return 0
	}
	return n
}

// planConnectivity decides the phase once keys and agent are ready, and
// whether a check starts (plan.StartCheck). Pure.
func planConnectivity(obs clusterMappingObservation, key clusterKey, p *clusterMappingPlan, now time.Time, poll time.Duration) (drv1.ClusterMappingPhase, condition) {
	m, st := obs.Mapping, &p.Status
	if key.Overlap || p.Keys != keyKeep || (obs.AgentKeys != nil && !slices.Contains(obs.AgentKeys, key.Fingerprint)) {
		p.RequeueAfter = poll
		return drv1.ClusterMappingConnecting, condition{ReasonWaitingForKeyRollout, fmt.Sprintf(
			"waiting for the agent on source RemoteCluster %s to authorize the current cluster key before checking connectivity", obs.Source.Name)}
	}
	version := checkVersion(key.Fingerprint, m.Generation, obs.Source.Status.Agent.Rollout.WorkflowID)
	c := obs.Check
	seq := 0
	if c != nil {
		seq = checkSeq(m, version, c.WorkflowID)
	}
	previous := meta.FindStatusCondition(st.Conditions, drv1.ConditionReady)
	// A re-check of the same version keeps showing the last verdict.
	keep := func() (drv1.ClusterMappingPhase, condition, bool) {
		if seq > 1 && previous != nil && (st.Phase == drv1.ClusterMappingConnected || st.Phase == drv1.ClusterMappingFailed) &&
			(previous.Reason == ReasonConnected || previous.Reason == ReasonConnectivityFailed) {
			return st.Phase, condition{previous.Reason, previous.Message}, true
		}
		return "", condition{}, false
	}
	start := func() (drv1.ClusterMappingPhase, condition) {
		seq++
		id := contract.ConnectivityWorkflowID(m.Namespace, m.Name, version, seq)
		p.StartCheck = id
		st.ConnectivityCheck = &drv1.WorkflowRef{WorkflowID: id}
		p.RequeueAfter = poll
		if phase, cond, ok := keep(); ok {
			return phase, cond
		}
		return drv1.ClusterMappingConnecting, condition{ReasonCheckingConnectivity, fmt.Sprintf(
			"checking SSH connectivity from the DR cluster to every agent of source RemoteCluster %s (workflow %s)", obs.Source.Name, id)}
	}
	if c == nil || seq == 0 || c.Lost {
		return start()
	}
	ref := &drv1.WorkflowRef{WorkflowID: c.WorkflowID, RunID: c.RunID, StartTime: timeOf(c.Start)}
	st.ConnectivityCheck = ref
	if c.Running {
		p.RequeueAfter = poll
		if phase, cond, ok := keep(); ok {
			return phase, cond
		}
		return drv1.ClusterMappingConnecting, condition{ReasonCheckingConnectivity, fmt.Sprintf(
			"checking SSH connectivity from the DR cluster to every agent of source RemoteCluster %s (workflow %s)", obs.Source.Name, c.WorkflowID)}
	}
	ref.CloseTime, ref.Result = timeOf(c.Closed), c.Status
	st.LastVerified = timeOf(c.Closed)
	connected := c.Result != nil && c.Result.Connected
	interval := FailedRecheckInterval
	if connected {
		interval = RecheckInterval
	}
	if now.Sub(c.Closed) >= interval {
		return start()
	}
	p.RequeueAfter = max(c.Closed.Add(interval).Sub(now), time.Second)
	if connected {
		return drv1.ClusterMappingConnected, condition{ReasonConnected, fmt.Sprintf(
			"the DR cluster reaches all %d agents of source RemoteCluster %s over SSH", len(c.Result.Agents), obs.Source.Name)}
	}
	return drv1.ClusterMappingFailed, condition{ReasonConnectivityFailed, connectivityFailure(c, obs.Source.Name)}
}

// connectivityFailure says what failed and what to fix.
func connectivityFailure(c *connectivityCheck, source string) string {
	if c.Result == nil {
		return fmt.Sprintf("connectivity check %s did not complete (%s): %s; it is retried every %s",
			c.WorkflowID, c.Status, c.Error, FailedRecheckInterval)
	}
	var failed []sshcheck.Result
	for _, a := range c.Result.Agents {
		if !a.OK {
			failed = append(failed, a)
		}
	}
	if len(failed) == 0 {
		return fmt.Sprintf("connectivity check %s found no agent to check on source RemoteCluster %s", c.WorkflowID, source)
	}
	var parts []string
	for _, f := range failed[:min(len(failed), maxFailuresShown)] {
		parts = append(parts, f.String())
	}
	msg := strings.Join(parts, "; ")
	if n := len(failed) - maxFailuresShown; n > 0 {
		msg += fmt.Sprintf("; and %d more", n)
	}
	return msg + "; " + connectivityFix(failed[0].Kind, source)
}

func connectivityFix(kind, source string) string {
	switch kind {
	case sshcheck.KindAuth:
		return fmt.Sprintf("rotate keys (annotation %s) or wait for the agent rollout on source RemoteCluster %s", drv1.AnnotationRotateKeys, source)
	case sshcheck.KindHostKey:
		return fmt.Sprintf("the agent presents another host key than its Secret holds: wait for the agent rollout on source RemoteCluster %s to finish", source)
	case sshcheck.KindUnreachable:
		return "let pods in the DR cluster reach the source nodes' InternalIPs on the agent port (firewalls, security groups, network policies)"
	default:
		return fmt.Sprintf("the check pod did not report on every agent; the check runs again within %s", FailedRecheckInterval)
	}
}

// connectivityReady reports whether a reason means the mapping is usable.
func connectivityReady(reason string) bool {
	return reason == ReasonConnected || reason == ReasonNotVerified || reason == ReasonKeysReady
}
