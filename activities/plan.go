package activities

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// PlanActivities read dr-syncer's own resources from the control cluster.
type PlanActivities struct {
	Control client.Reader
}

// ResolveReplication reads a Replication and what it refers to and returns
// its plan. A reference a user must fix is a non-retryable InvalidSpec error
// whose message says what to fix.
func (a *PlanActivities) ResolveReplication(ctx context.Context, ref contract.ObjectRef) (contract.ReplicationPlan, error) {
	var r drv1.Replication
	if err := a.Control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &r); err != nil {
		if apierrors.IsNotFound(err) {
			return contract.ReplicationPlan{}, invalidSpec("Replication %s not found", ref)
		}
		return contract.ReplicationPlan{}, fmt.Errorf("get Replication %s: %w", ref, err)
	}
	source, destination, clusterKey, err := a.clusters(ctx, &r)
	if err != nil {
		return contract.ReplicationPlan{}, err
	}
	if problem := drv1.SelfReplicationProblem(source, destination, &r.Spec); problem != "" {
		return contract.ReplicationPlan{}, invalidSpec("Replication %s: %s", ref, problem)
	}
	var sourceCluster drv1.RemoteCluster
	for _, c := range []string{source, destination} {
		var rc drv1.RemoteCluster
		if err := a.Control.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: c}, &rc); err != nil {
			if apierrors.IsNotFound(err) {
				return contract.ReplicationPlan{}, invalidSpec("RemoteCluster %s/%s named by Replication %s not found; create it or fix the name", r.Namespace, c, ref)
			}
			return contract.ReplicationPlan{}, fmt.Errorf("get RemoteCluster %s/%s: %w", r.Namespace, c, err)
		}
		if c == source {
			sourceCluster = rc
		}
	}
	spec := *r.Spec.DeepCopy()
	if len(spec.ResourceTypes) == 0 {
		spec.ResourceTypes = sourceCluster.Spec.DefaultResourceTypes
	}
	drv1.SetReplicationDefaults(&spec)
	var dataSync *drv1.DataSyncConfig
	if spec.PVCConfig != nil {
		dataSync = spec.PVCConfig.DataSyncConfig
	}
	dataSyncConfig, err := resolve.DataSync(dataSync)
	if err != nil {
		return contract.ReplicationPlan{}, invalidSpec("Replication %s: %v", ref, err)
	}
	clusterKey.Namespace = defaultString(clusterKey.Namespace, r.Namespace)
	return contract.ReplicationPlan{
		DataPlane:            dataPlane(&sourceCluster, clusterKey, spec.RetryConfig),
		Replication:          ref,
		Generation:           r.Generation,
		Source:               contract.ClusterRef{Namespace: r.Namespace, Name: source},
		Destination:          contract.ClusterRef{Namespace: r.Namespace, Name: destination},
		SourceNamespace:      spec.SourceNamespace,
		DestinationNamespace: spec.DestinationNamespace,
		Spec:                 spec,
		DataSync:             dataSyncConfig,
		AcceptChanges:        pendingAcceptChanges(&r),
	}, nil
}

// pendingAcceptChanges is the accept-changes value no run has taken yet, or "".
func pendingAcceptChanges(r *drv1.Replication) string {
	if v := r.Annotations[drv1.AnnotationAcceptChanges]; v != r.Status.AcceptChangesHandled {
		return v
	}
	return ""
}

// clusters returns the source and destination RemoteCluster names, through
// the ClusterMapping when the Replication names one, and the Secret that
// holds the pair's SSH key.
func (a *PlanActivities) clusters(ctx context.Context, r *drv1.Replication) (string, string, contract.SecretRef, error) {
	if r.Spec.ClusterMappingRef == nil {
		if r.Spec.SourceCluster == "" || r.Spec.DestinationCluster == "" {
			return "", "", contract.SecretRef{}, invalidSpec("Replication %s/%s names neither clusterMappingRef nor sourceCluster and destinationCluster", r.Namespace, r.Name)
		}
		key := contract.SecretRef{Name: contract.ClusterKeySecretName(r.Spec.SourceCluster, r.Spec.DestinationCluster)}
		return r.Spec.SourceCluster, r.Spec.DestinationCluster, key, nil
	}
	key := types.NamespacedName{Namespace: r.Spec.ClusterMappingRef.Namespace, Name: r.Spec.ClusterMappingRef.Name}
	if key.Namespace == "" {
		key.Namespace = r.Namespace
	}
	var m drv1.ClusterMapping
	if err := a.Control.Get(ctx, key, &m); err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", contract.SecretRef{}, invalidSpec("ClusterMapping %s named by Replication %s/%s not found; create it or fix clusterMappingRef", key, r.Namespace, r.Name)
		}
		return "", "", contract.SecretRef{}, fmt.Errorf("get ClusterMapping %s: %w", key, err)
	}
	if m.Spec.Paused {
		return "", "", contract.SecretRef{}, invalidSpec("ClusterMapping %s is paused; unpause it to sync", key)
	}
	secret := contract.SecretRef{Namespace: m.Namespace, Name: contract.ClusterKeySecretName(m.Spec.SourceCluster, m.Spec.TargetCluster)}
	if ref := m.Spec.SSHKeySecretRef; ref != nil {
		secret = contract.SecretRef{Namespace: defaultString(ref.Namespace, m.Namespace), Name: ref.Name}
	}
	return m.Spec.SourceCluster, m.Spec.TargetCluster, secret, nil
}

// dataPlane reads the source RemoteCluster's pvcSync settings, with defaults.
func dataPlane(source *drv1.RemoteCluster, clusterKey contract.SecretRef, retry *drv1.RetryConfig) contract.DataPlane {
	d := contract.DataPlane{
		Image:                  contract.Image{Reference: contract.DefaultDataPlaneImage, PullPolicy: corev1.PullIfNotPresent},
		AgentPort:              2222,
		ClusterKey:             clusterKey,
		AgentHostKey:           contract.SecretRef{Namespace: source.Namespace, Name: contract.AgentHostKeySecretName(source.Name)},
		GlobalConcurrencyLimit: 10,
	}
	if retry != nil {
		d.Retry = *retry.DeepCopy()
	}
	p := source.Spec.PVCSync
	if p == nil {
		return d
	}
	if p.Image != nil {
		d.Image.Reference = p.Image.Repository + ":" + defaultString(p.Image.Tag, "latest")
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
			d.Retry.MaxRetries = rc.MaxRetries
		}
		if rc.InitialDelay != "" {
			d.Retry.InitialBackoff = rc.InitialDelay
		}
		if rc.MaxDelay != "" {
			d.Retry.MaxBackoff = rc.MaxDelay
		}
	}
	return d
}

func defaultString(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func invalidSpec(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return classify(fmt.Errorf("%w: %s", errInvalidSpec, strings.TrimSpace(msg)))
}
