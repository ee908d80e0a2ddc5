package contract

import (
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshcheck"
	corev1 "k8s.io/api/core/v1"
)

// AgentNamespace is where the rollout installs the agent in a RemoteCluster.
const AgentNamespace = "dr-syncer"

// AgentSelector selects everything an agent rollout installed: the labels
// agentdeploy puts on every object, which the rollout also puts on the
// namespace it creates. Removal deletes by it, so nothing else is touched.
const AgentSelector = "app.kubernetes.io/part-of=dr-syncer,app.kubernetes.io/component=agent"

// AnnotationAgentChecksum on the agent pod template changes when the host
// key or the agent's configuration does, so the DaemonSet restarts its pods.
// Authorized keys are not in it: the agent reloads them without a restart.
const AnnotationAgentChecksum = "dr-syncer.io/agent-checksum"

// AgentConfig is the RemoteCluster's pvcSync, as the rollout applies it.
type AgentConfig struct {
	Image      string            `json:"image"`
	PullPolicy corev1.PullPolicy `json:"pullPolicy"`
	Port       int32             `json:"port"`
	// MetricsPort serves the agent's /metrics; 0 serves none. Rollouts
	// started before it existed carry none, so they render (and checksum)
	// as before: omitempty keeps their AgentChecksum.
	MetricsPort int32            `json:"metricsPort,omitempty"`
	Deployment  *AgentDeployment `json:"deployment,omitempty"`
}

// AgentRolloutInput says which cluster gets which agent. Key material is
// not in it: the activities read the Secrets named here.
type AgentRolloutInput struct {
	Cluster ClusterRef `json:"cluster"`
	// Version identifies the spec and key set this rollout installs.
	Version string `json:"version"`
	// Remove uninstalls the agent instead.
	Remove  bool        `json:"remove,omitempty"`
	Config  AgentConfig `json:"config"`
	HostKey SecretRef   `json:"hostKey"`
}

// AgentApplied is what ApplyAgent installed; fingerprints only.
type AgentApplied struct {
	Namespace string `json:"namespace"`
	DaemonSet string `json:"daemonSet"`
	// AuthorizedFingerprints are the cluster-pair keys the agent now accepts.
	AuthorizedFingerprints []string `json:"authorizedFingerprints"`
	HostKeyFingerprint     string   `json:"hostKeyFingerprint"`
	// Owner is the RemoteCluster that owns the agent ("namespace/name");
	// Shared when that is another one, whose agent this one joined.
	Owner  string `json:"owner,omitempty"`
	Shared bool   `json:"shared,omitempty"`
}

// AgentReadiness is the DaemonSet's rollout, heartbeated while waiting.
type AgentReadiness struct {
	ReadyNodes int32 `json:"readyNodes"`
	TotalNodes int32 `json:"totalNodes"`
}

// AgentRef names an installed agent DaemonSet.
type AgentRef struct {
	Cluster   ClusterRef `json:"cluster"`
	Namespace string     `json:"namespace"`
	DaemonSet string     `json:"daemonSet"`
}

// AgentRemoved counts what RemoveAgent deleted.
type AgentRemoved struct {
	Deleted int `json:"deleted"`
	// KeptFor is the RemoteCluster ("namespace/name") that owns or now
	// owns the agent, which was therefore left running.
	KeptFor string `json:"keptFor,omitempty"`
}

// ConnectivityNamespace is where the check pod runs in the DR cluster.
const ConnectivityNamespace = AgentNamespace

// AgentAddressesInput names the source cluster and its agents' port.
type AgentAddressesInput struct {
	Source ClusterRef `json:"source"`
	Port   int32      `json:"port"`
}

// ConnectivityCheckInput says what one check runs and with which keys.
// Key material is not in it: the activity copies the Secrets named here.
type ConnectivityCheckInput struct {
	Op           Operation  `json:"op"`
	DR           ClusterRef `json:"dr"`
	ClusterKey   SecretRef  `json:"clusterKey"`
	AgentHostKey SecretRef  `json:"agentHostKey"`
	Image        Image      `json:"image"`
	Agents       []string   `json:"agents"`
	// TimeoutSeconds bounds the whole check, pod start included.
	TimeoutSeconds int32 `json:"timeoutSeconds"`
	// Mapping is the ClusterMapping the check is for; the check activity
	// refuses keys, image or DR cluster the mapping does not resolve to.
	// Checks started before it existed carry none.
	Mapping *ObjectRef `json:"mapping,omitempty"`
}

// ConnectivityResult is the outcome per agent; Connected when all passed.
type ConnectivityResult struct {
	Agents    []sshcheck.Result `json:"agents"`
	Connected bool              `json:"connected"`
}
