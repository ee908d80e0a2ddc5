package contract

// AgentRolloutResult is what the rollout installed and how ready it is.
// Fingerprints only: no key material enters the history.
type AgentRolloutResult struct {
	Removed                bool     `json:"removed,omitempty"`
	ReadyNodes             int32    `json:"readyNodes"`
	TotalNodes             int32    `json:"totalNodes"`
	AuthorizedFingerprints []string `json:"authorizedFingerprints,omitempty"`
	HostKeyFingerprint     string   `json:"hostKeyFingerprint,omitempty"`
}

// ConnectivityInput names the clusters, Secrets and image of a check. Key
// material is not in it: the activities copy the Secrets named here.
type ConnectivityInput struct {
	Source       ClusterRef `json:"source"`
	DR           ClusterRef `json:"dr"`
	ClusterKey   SecretRef  `json:"clusterKey"`
	AgentHostKey SecretRef  `json:"agentHostKey"`
	Image        Image      `json:"image"`
	AgentPort    int32      `json:"agentPort"`
	// TimeoutSeconds bounds the check pod, from start to result.
	TimeoutSeconds int32 `json:"timeoutSeconds"`
	// Mapping is the ClusterMapping the check is for; the check activity
	// refuses keys, image or DR cluster the mapping does not resolve to.
	// Checks started before it existed carry none.
	Mapping *ObjectRef `json:"mapping,omitempty"`
}
