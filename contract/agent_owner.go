package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// AgentDaemonSetName is the agent DaemonSet every rollout writes: one per
// physical cluster, whichever RemoteCluster names that cluster.
const AgentDaemonSetName = "dr-syncer-agent"

// Annotations on the agent DaemonSet saying whose it is. One cluster can be
// described by several RemoteClusters; the owner's rollout wrote the
// DaemonSet, sharers run with the same settings and only add their keys.
const (
	// AnnotationAgentOwner is "namespace/name" of the owning RemoteCluster.
	AnnotationAgentOwner = "dr-syncer.io/agent-owner"
	// AnnotationAgentVersion is the owner's rollout version
	// (AgentRolloutInput.Version) last applied: settings, host key and
	// authorized keys, so the controller sees any drift.
	AnnotationAgentVersion = "dr-syncer.io/agent-version"
	// AnnotationAgentSharers lists "namespace/name" of RemoteClusters that
	// share the agent, comma-separated and sorted.
	AnnotationAgentSharers = "dr-syncer.io/agent-sharers"
)

// AgentChecksum is the settings checksum of an agent: everything the
// rendered DaemonSet depends on (the config and the host key's
// fingerprint). It is the pod template's AnnotationAgentChecksum; two
// RemoteClusters whose checksums differ cannot share one agent.
func AgentChecksum(c AgentConfig, hostKeyFingerprint string) (string, error) {
	cfg, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("agent config: %w", err)
	}
	sum := sha256.Sum256(append(cfg, hostKeyFingerprint...))
	return hex.EncodeToString(sum[:8]), nil
}

// Key is the "namespace/name" form the ownership annotations use.
func (c ClusterRef) Key() string { return c.Namespace + "/" + c.Name }

// ParseClusterKey reads the "namespace/name" of Key; ok is false for
// anything else (an empty or hand-edited annotation).
func ParseClusterKey(v string) (_ ClusterRef, ok bool) {
	ns, name, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return ClusterRef{}, false
	}
	return ClusterRef{Namespace: ns, Name: name}, true
}

// ParseAgentSharers reads AnnotationAgentSharers; unparsable entries are dropped.
func ParseAgentSharers(v string) []ClusterRef {
	var out []ClusterRef
	for _, s := range strings.Split(v, ",") {
		if ref, ok := ParseClusterKey(s); ok {
			out = append(out, ref)
		}
	}
	return out
}

// FormatAgentSharers writes AnnotationAgentSharers: sorted, without duplicates.
func FormatAgentSharers(refs []ClusterRef) string {
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, r.Key())
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}
