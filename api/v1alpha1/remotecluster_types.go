package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RemoteClusterSpec says how to reach a cluster and how to run the data-plane
// agent in it.
type RemoteClusterSpec struct {
	// KubeconfigSecretRef names the Secret key that holds a kubeconfig for the cluster.
	KubeconfigSecretRef SecretKeyRef `json:"kubeconfigSecretRef"`

	// DefaultSchedule is the cron schedule of Scheduled replications that set none.
	// +optional
	DefaultSchedule Cron `json:"defaultSchedule,omitempty"`

	// DefaultResourceTypes are the kinds replicated when a Replication lists none.
	// +optional
	DefaultResourceTypes []string `json:"defaultResourceTypes,omitempty"`

	// PVCSync configures the agent that serves PVC data from this cluster.
	// +optional
	PVCSync *PVCSyncSpec `json:"pvcSync,omitempty"`
}

// PVCSyncSpec configures PVC data sync for a RemoteCluster.
//
// The agent listens on two ports of every node (hostNetwork): SSH and
// metrics. They must differ, whether written or defaulted (2222 and 2223).
// +kubebuilder:validation:XValidation:rule="(has(self.metrics) && has(self.metrics.enabled) && !self.metrics.enabled) || (has(self.metrics) && has(self.metrics.port) ? self.metrics.port : 2223) != (has(self.ssh) && has(self.ssh.port) ? self.ssh.port : 2222)",message="metrics.port (default 2223) must differ from ssh.port (default 2222): the agent listens on both on every node; change one, or set metrics.enabled to false",fieldPath=".metrics.port"
type PVCSyncSpec struct {
	// Enabled rolls the agent out into the cluster.
	// +kubebuilder:default=false
	Enabled bool `json:"enabled"`

	// Image of the agent and mount pods.
	// +optional
	Image *ImageSpec `json:"image,omitempty"`

	// SSH configures the agent's SSH bastion.
	// +optional
	SSH *SSHSpec `json:"ssh,omitempty"`

	// Metrics configures the agent's Prometheus endpoint. Absent, it is on,
	// at port 2223.
	// +optional
	Metrics *AgentMetricsSpec `json:"metrics,omitempty"`

	// GlobalConcurrencyLimit bounds the PVC syncs against this cluster across all replications.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=10
	// +optional
	GlobalConcurrencyLimit int32 `json:"globalConcurrencyLimit,omitempty"`

	// RetryConfig is the retry policy of PVC sync steps against this cluster.
	// +optional
	RetryConfig *PVCRetryConfig `json:"retryConfig,omitempty"`

	// Deployment tunes the agent DaemonSet.
	// +optional
	Deployment *AgentDeploymentSpec `json:"deployment,omitempty"`
}

// ImageSpec names a container image.
type ImageSpec struct {
	// Repository of the image.
	// +kubebuilder:validation:MinLength=1
	Repository string `json:"repository"`

	// Tag of the image.
	// +kubebuilder:default=latest
	// +optional
	Tag string `json:"tag,omitempty"`

	// PullPolicy of the image.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +kubebuilder:default=IfNotPresent
	// +optional
	PullPolicy corev1.PullPolicy `json:"pullPolicy,omitempty"`
}

// SSHSpec configures the agent's SSH bastion.
type SSHSpec struct {
	// Port the agent listens on, on every node.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=2222
	// +optional
	Port int32 `json:"port,omitempty"`

	// KeySecretRef names the Secret with the agent's host key and authorized keys.
	// The system creates it when it does not exist.
	// +optional
	KeySecretRef *SecretRef `json:"keySecretRef,omitempty"`

	// HostKeyRotationInterval rotates the agent's host key this often; empty
	// never rotates on a timer (the dr-syncer.io/rotate-host-key annotation
	// still does). Syncs pin the previous key until every agent runs the new one.
	// +optional
	HostKeyRotationInterval Duration `json:"hostKeyRotationInterval,omitempty"`
}

// AgentMetricsSpec configures the agent's Prometheus endpoint: GET
// /metrics over plain HTTP on every node that runs the agent
// (docs/agent-metrics.md lists the series).
type AgentMetricsSpec struct {
	// Enabled serves the agent's metrics. Set false where nothing scrapes
	// the source cluster's nodes, or the port cannot be opened.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Port serves the metrics, default 2223 (next to the SSH port 2222).
	// With hostNetwork (the default) it is a port of every node that runs
	// the agent: pick one that is free there. The agent runs unprivileged,
	// so ports below 1024 are refused.
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=2223
	// +optional
	Port int32 `json:"port,omitempty"`
}

// PVCRetryConfig is the retry policy of PVC sync steps.
type PVCRetryConfig struct {
	// MaxRetries is how many times a failed step is retried.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=5
	// +optional
	MaxRetries *int32 `json:"maxRetries,omitempty"`

	// InitialDelay before the first retry.
	// +kubebuilder:default="5s"
	// +optional
	InitialDelay Duration `json:"initialDelay,omitempty"`

	// MaxDelay caps the delay between retries.
	// +kubebuilder:default="5m"
	// +optional
	MaxDelay Duration `json:"maxDelay,omitempty"`
}

// AgentDeploymentSpec tunes the agent DaemonSet.
type AgentDeploymentSpec struct {
	// HostNetwork runs the agent in the node's network namespace, so it is
	// reachable on the node IP.
	// +kubebuilder:default=true
	// +optional
	HostNetwork *bool `json:"hostNetwork,omitempty"`

	// AllowedSourceCIDRs, when set, installs a NetworkPolicy that admits
	// connections to the agent's port only from these CIDRs: the DR
	// cluster's egress addresses (its nodes, or its NAT gateway). It has no
	// effect with hostNetwork, which NetworkPolicy does not govern.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	// +optional
	AllowedSourceCIDRs []string `json:"allowedSourceCIDRs,omitempty"`

	// NodeSelector limits the nodes that run the agent.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the agent pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Resources of the agent container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// PriorityClassName of the agent pods.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// Labels added to the agent pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations added to the agent pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RemoteClusterStatus is what the controller last observed of the cluster.
type RemoteClusterStatus struct {
	// Health is Healthy, Degraded or Unhealthy.
	// +optional
	Health string `json:"health,omitempty"`

	// Conditions of the cluster, among them Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastHealthCheck is when the cluster was last reached.
	// +optional
	LastHealthCheck *metav1.Time `json:"lastHealthCheck,omitempty"`

	// Agent reports the rollout of the data-plane agent.
	// +optional
	Agent *AgentStatus `json:"agent,omitempty"`

	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// AgentStatus reports the agent DaemonSet in a RemoteCluster.
type AgentStatus struct {
	// ReadyNodes is the number of nodes whose agent is ready.
	ReadyNodes int32 `json:"readyNodes"`
	// TotalNodes is the number of nodes that should run the agent.
	TotalNodes int32 `json:"totalNodes"`
	// KeyGeneratedAt is when the agent's current keys were generated.
	// +optional
	KeyGeneratedAt *metav1.Time `json:"keyGeneratedAt,omitempty"`
	// RotateHostKeyHandled is the last value of the rotate-host-key
	// annotation acted on.
	// +optional
	RotateHostKeyHandled string `json:"rotateHostKeyHandled,omitempty"`
	// Rollout is the workflow that last rolled the agent out.
	// +optional
	Rollout *WorkflowRef `json:"rollout,omitempty"`
}

// RemoteCluster is a cluster the system can reach: a replication source or target.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rcl;remote,categories=dr-syncer
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.health`
// +kubebuilder:printcolumn:name="Agent Ready",type=integer,JSONPath=`.status.agent.readyNodes`
// +kubebuilder:printcolumn:name="Last Check",type=date,JSONPath=`.status.lastHealthCheck`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RemoteCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RemoteClusterSpec   `json:"spec"`
	Status RemoteClusterStatus `json:"status,omitempty"`
}

// RemoteClusterList is a list of RemoteClusters.
//
// +kubebuilder:object:root=true
type RemoteClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RemoteCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RemoteCluster{}, &RemoteClusterList{})
}
