package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ClusterMappingSpec pairs a source cluster with the DR cluster it replicates to.
// +kubebuilder:validation:XValidation:rule="self.sourceCluster != self.targetCluster",message="sourceCluster and targetCluster must differ"
type ClusterMappingSpec struct {
	// SourceCluster is the name of the source RemoteCluster.
	// +kubebuilder:validation:MinLength=1
	SourceCluster string `json:"sourceCluster"`

	// TargetCluster is the name of the DR RemoteCluster.
	// +kubebuilder:validation:MinLength=1
	TargetCluster string `json:"targetCluster"`

	// VerifyConnectivity proves that the DR cluster reaches every source agent over SSH.
	// +kubebuilder:default=true
	// +optional
	VerifyConnectivity *bool `json:"verifyConnectivity,omitempty"`

	// ConnectivityTimeoutSeconds bounds the connectivity check.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +kubebuilder:default=60
	// +optional
	ConnectivityTimeoutSeconds int32 `json:"connectivityTimeoutSeconds,omitempty"`

	// SSHKeySecretRef names the Secret that holds the cluster-pair SSH key.
	// The system generates it when it does not exist.
	// +optional
	SSHKeySecretRef *SecretRef `json:"sshKeySecretRef,omitempty"`

	// KeyRotationInterval rotates the cluster-pair key this often; empty never rotates on a timer.
	// +optional
	KeyRotationInterval Duration `json:"keyRotationInterval,omitempty"`

	// Paused stops new syncs over this mapping.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// ClusterMappingPhase is where a ClusterMapping stands.
// +kubebuilder:validation:Enum=Pending;Connecting;Connected;Failed
type ClusterMappingPhase string

// ClusterMapping phases.
const (
	ClusterMappingPending    ClusterMappingPhase = "Pending"
	ClusterMappingConnecting ClusterMappingPhase = "Connecting"
	ClusterMappingConnected  ClusterMappingPhase = "Connected"
	ClusterMappingFailed     ClusterMappingPhase = "Failed"
)

// ClusterMappingStatus reports the keys and connectivity of a mapping.
type ClusterMappingStatus struct {
	// Phase is Pending, Connecting, Connected or Failed.
	// +optional
	Phase ClusterMappingPhase `json:"phase,omitempty"`

	// Conditions of the mapping, among them Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastVerified is when connectivity was last checked.
	// +optional
	LastVerified *metav1.Time `json:"lastVerified,omitempty"`

	// KeyGeneratedAt is when the current cluster-pair key was generated.
	// +optional
	KeyGeneratedAt *metav1.Time `json:"keyGeneratedAt,omitempty"`

	// RotateKeysHandled is the last value of the rotate-keys annotation acted on.
	// +optional
	RotateKeysHandled string `json:"rotateKeysHandled,omitempty"`

	// ConnectivityCheck is the workflow that last checked connectivity.
	// +optional
	ConnectivityCheck *WorkflowRef `json:"connectivityCheck,omitempty"`

	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// ClusterMapping is a directed pair of clusters: data flows from source to target.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cmap,categories=dr-syncer
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.sourceCluster`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.targetCluster`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Last Verified",type=date,JSONPath=`.status.lastVerified`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterMapping struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterMappingSpec   `json:"spec"`
	Status ClusterMappingStatus `json:"status,omitempty"`
}

// ClusterMappingList is a list of ClusterMappings.
//
// +kubebuilder:object:root=true
type ClusterMappingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterMapping `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterMapping{}, &ClusterMappingList{})
}
