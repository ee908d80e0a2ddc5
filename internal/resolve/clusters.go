package resolve

import (
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// DataPlane is how a replication's PVC data moves: the source RemoteCluster's
// pvcSync with defaults, the pair's key Secret, and the replication's retry
// config overridden field by field by pvcSync.retryConfig.
func DataPlane(source *drv1.RemoteCluster, clusterKey contract.SecretRef, replicationRetry contract.RetrySettings) contract.DataPlane {
	d := contract.DataPlane{
		Image:                  contract.Image{Reference: drv1.DefaultDataPlaneImage, PullPolicy: drv1.DefaultPullPolicy},
		AgentPort:              drv1.DefaultAgentPort,
		ClusterKey:             clusterKey,
		AgentHostKey:           contract.SecretRef{Namespace: source.Namespace, Name: contract.AgentHostKeySecretName(source.Name)},
		GlobalConcurrencyLimit: drv1.DefaultGlobalConcurrencyLimit,
		Retry:                  replicationRetry,
	}
	p := source.Spec.PVCSync
	if p == nil {
		return d
	}
	if p.Image != nil {
		d.Image.Reference = p.Image.Repository + ":" + defaultString(p.Image.Tag, drv1.DefaultImageTag)
		if p.Image.PullPolicy != "" {
			d.Image.PullPolicy = p.Image.PullPolicy
		}
	}
	if p.SSH != nil {
		if p.SSH.Port != 0 {
			d.AgentPort = p.SSH.Port
		}
		if p.SSH.KeySecretRef != nil {
			d.AgentHostKey = contract.SecretRef{Namespace: defaultString(p.SSH.KeySecretRef.Namespace, source.Namespace), Name: p.SSH.KeySecretRef.Name}
		}
	}
	if p.GlobalConcurrencyLimit > 0 {
		d.GlobalConcurrencyLimit = p.GlobalConcurrencyLimit
	}
	if rc := p.RetryConfig; rc != nil {
		if rc.MaxRetries != nil {
			d.Retry.MaxRetries = *rc.MaxRetries
		}
		if rc.InitialDelay != "" {
			d.Retry.InitialBackoff = contract.Duration(rc.InitialDelay)
		}
		if rc.MaxDelay != "" {
			d.Retry.MaxBackoff = contract.Duration(rc.MaxDelay)
		}
	}
	return d
}

// AgentConfig is what an agent rollout installs on a RemoteCluster.
func AgentConfig(rc *drv1.RemoteCluster) contract.AgentConfig {
	d := DataPlane(rc, contract.SecretRef{}, contract.RetrySettings{})
	c := contract.AgentConfig{Image: d.Image.Reference, PullPolicy: d.Image.PullPolicy, Port: d.AgentPort,
		MetricsPort: drv1.DefaultAgentMetricsPort}
	if p := rc.Spec.PVCSync; p != nil {
		c.MetricsPort = agentMetricsPort(p.Metrics)
		c.Deployment = agentDeployment(p.Deployment)
	}
	return c
}

// ClusterKeySecret is the control-cluster Secret of a mapping's cluster-pair key.
func ClusterKeySecret(m *drv1.ClusterMapping) contract.SecretRef {
	if ref := m.Spec.SSHKeySecretRef; ref != nil {
		return contract.SecretRef{Namespace: defaultString(ref.Namespace, m.Namespace), Name: ref.Name}
	}
	return contract.SecretRef{Namespace: m.Namespace, Name: contract.ClusterKeySecretName(m.Spec.SourceCluster, m.Spec.TargetCluster)}
}

// AgentHostKeySecret is the control-cluster Secret of a cluster's agent host key.
func AgentHostKeySecret(rc *drv1.RemoteCluster) contract.SecretRef {
	return DataPlane(rc, contract.SecretRef{}, contract.RetrySettings{}).AgentHostKey
}
