package contract

import (
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Keys of the control-cluster key Secrets. The cluster-pair Secret is read
// by PVC syncs and connectivity checks (id_ed25519, the CA that signs their
// certificates) and by agent rollouts (the public halves); the host-key
// Secret by rollouts (both halves) and by PVC syncs and checks (the public
// halves, to pin).
const (
	SecretKeyClusterPrivate        = kube.SecretKeyClusterKey
	SecretKeyClusterPublic         = "id_ed25519.pub"
	SecretKeyClusterPreviousPublic = "id_ed25519.previous.pub"
	SecretKeyHostPrivate           = "ssh_host_ed25519_key"
	SecretKeyHostPublic            = kube.SecretKeyAgentHostKey
	// SecretKeyHostPreviousPublic is the agent host key being replaced,
	// while a host-key rotation rolls out: sync pods pin both, so agents
	// still presenting the old key are accepted until the rollout ends.
	SecretKeyHostPreviousPublic = "ssh_host_ed25519_key.previous.pub"
)

// Annotations on key Secrets. They live on the Secret, next to the key they
// describe, so a lost status write cannot make the controller forget that a
// key was generated or a rotation was handled.
const (
	AnnotationKeyGeneratedAt    = "dr-syncer.io/key-generated-at"
	AnnotationRotateKeysHandled = "dr-syncer.io/rotate-keys-handled"
	LabelKeyKind                = "dr-syncer.io/key"
	KeyKindClusterPair          = "cluster-pair"
	KeyKindAgentHost            = "agent-host"
)

// ClusterKeySecretName is the default Secret of a cluster pair's SSH key.
func ClusterKeySecretName(source, target string) string { return source + "-to-" + target + "-ssh-key" }

// AgentHostKeySecretName is the default Secret of a cluster's agent host key.
func AgentHostKeySecretName(cluster string) string { return cluster + "-agent-host-key" }
