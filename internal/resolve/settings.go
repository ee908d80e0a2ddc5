package resolve

import (
	"slices"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// Settings is spec as runs use it: the API's defaults applied
// (drv1.SetReplicationDefaults), then copied field by field into the
// contract's own types, so a CRD change cannot silently change what
// workflow histories carry.
func Settings(spec drv1.ReplicationSpec) contract.ReplicationSettings {
	s := spec.DeepCopy()
	drv1.SetReplicationDefaults(s)
	return settingsOf(s)
}

// settingsOf copies a spec whose defaults are applied.
func settingsOf(s *drv1.ReplicationSpec) contract.ReplicationSettings {
	nc, ic, irc, pc, fh, dg := s.NamespaceConfig, s.IngressConfig, s.ImmutableResourceConfig, s.PVCConfig, s.FailureHandling, s.DeletionGuard
	out := contract.ReplicationSettings{
		ResourceTypes:            s.ResourceTypes,
		NamespaceScopedResources: s.NamespaceScopedResources,
		ScaleToZero:              *s.ScaleToZero,
		NamespaceConfig: contract.NamespaceSettings{CreateNamespace: *nc.CreateNamespace,
			PreserveLabels: *nc.PreserveLabels, PreserveAnnotations: *nc.PreserveAnnotations},
		IngressConfig: contract.IngressSettings{PreserveAnnotations: *ic.PreserveAnnotations,
			PreserveTLS: *ic.PreserveTLS, PreserveBackends: *ic.PreserveBackends},
		ImmutableResourceConfig: contract.ImmutableSettings{DefaultHandling: string(irc.DefaultHandling),
			DrainTimeout: contract.Duration(irc.DrainTimeout), ForceDeleteTimeout: contract.Duration(irc.ForceDeleteTimeout)},
		PVCConfig: contract.PVCSettings{SyncData: pc.SyncData, PreserveVolumeAttributes: pc.PreserveVolumeAttributes,
			SyncPersistentVolumes: pc.SyncPersistentVolumes,
			DataSyncConfig:        dataSyncSettings(pc.DataSyncConfig),
			RestorePoints: contract.RestorePoints{Keep: pc.RestorePoints.Keep,
				VolumeSnapshotClassName: pc.RestorePoints.VolumeSnapshotClassName}},
		RetryConfig: retry(*s.RetryConfig),
		FailureHandling: contract.FailureHandling{DefaultMode: contract.FailureMode(fh.DefaultMode),
			ResourceNotFound: contract.FailureMode(fh.ResourceNotFound), ValidationFailure: contract.FailureMode(fh.ValidationFailure),
			NetworkError: contract.FailureMode(fh.NetworkError), DataSyncFailure: contract.FailureMode(fh.DataSyncFailure)},
		DeletionGuard: contract.DeletionGuardLimits{MaxPercent: *dg.MaxPercent, MaxObjects: *dg.MaxObjects},
	}
	for kind, h := range irc.ResourceOverrides {
		if out.ImmutableResourceConfig.ResourceOverrides == nil {
			out.ImmutableResourceConfig.ResourceOverrides = map[string]string{}
		}
		out.ImmutableResourceConfig.ResourceOverrides[kind] = string(h)
	}
	for _, m := range pc.StorageClassMappings {
		out.PVCConfig.StorageClassMappings = append(out.PVCConfig.StorageClassMappings, contract.Mapping{From: m.From, To: m.To})
	}
	for _, m := range pc.AccessModeMappings {
		out.PVCConfig.AccessModeMappings = append(out.PVCConfig.AccessModeMappings, contract.Mapping{From: m.From, To: m.To})
	}
	return out
}

// dataSyncSettings copies the part of a defaulted dataSyncConfig the
// workflows read.
func dataSyncSettings(dsc *drv1.DataSyncConfig) contract.DataSyncSettings {
	out := contract.DataSyncSettings{ConcurrentSyncs: dsc.ConcurrentSyncs,
		CopyMethod: contract.CopyMethod(dsc.CopyMethod), VolumeSnapshotClassName: dsc.VolumeSnapshotClassName}
	if h := dsc.Hooks; h != nil {
		out.Hooks = &contract.Hooks{Selector: *h.Selector.DeepCopy(), Container: h.Container,
			Freeze: hookCommand(h.Freeze), Thaw: hookCommand(h.Thaw)}
	}
	return out
}

func hookCommand(c *drv1.HookCommand) *contract.HookCommand {
	if c == nil {
		return nil
	}
	return &contract.HookCommand{Command: slices.Clone(c.Command), Timeout: contract.Duration(c.Timeout)}
}

// retry copies a defaulted retryConfig.
func retry(rc drv1.RetryConfig) contract.RetrySettings {
	return contract.RetrySettings{MaxRetries: *rc.MaxRetries, InitialBackoff: contract.Duration(rc.InitialBackoff),
		MaxBackoff: contract.Duration(rc.MaxBackoff), BackoffMultiplier: rc.BackoffMultiplier}
}

// agentDeployment copies the agent DaemonSet's tuning.
func agentDeployment(d *drv1.AgentDeploymentSpec) *contract.AgentDeployment {
	if d == nil {
		return nil
	}
	d = d.DeepCopy()
	return &contract.AgentDeployment{HostNetwork: d.HostNetwork, NodeSelector: d.NodeSelector, Tolerations: d.Tolerations,
		Resources: d.Resources, PriorityClassName: d.PriorityClassName, Labels: d.Labels, Annotations: d.Annotations,
		AllowedSourceCIDRs: d.AllowedSourceCIDRs}
}

// agentMetricsPort is the port of the agent's /metrics: on unless turned
// off, at the default port unless one is written. 0 serves none.
func agentMetricsPort(m *drv1.AgentMetricsSpec) int32 {
	switch {
	case m == nil:
		return drv1.DefaultAgentMetricsPort
	case m.Enabled != nil && !*m.Enabled:
		return 0
	case m.Port == 0:
		return drv1.DefaultAgentMetricsPort
	}
	return m.Port
}
