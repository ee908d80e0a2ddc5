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
)

// ObjectRef names a namespaced object of the control cluster.
type ObjectRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String is "namespace/name", the form users see in IDs and search attributes.
func (r ObjectRef) String() string { return r.Namespace + "/" + r.Name }

// ReplicationPlan is a Replication resolved at the start of a run: its
// clusters looked up and its defaults applied, so every later step reads one
// consistent, typed snapshot, and a spec edited mid-run affects the next run.
type ReplicationPlan struct {
	Replication ObjectRef `json:"replication"`
	// Generation of the Replication the plan was made from.
	Generation  int64      `json:"generation"`
	Source      ClusterRef `json:"source"`
	Destination ClusterRef `json:"destination"`
	// SourceNamespace and DestinationNamespace are both set (the latter defaulted).
	SourceNamespace      string `json:"sourceNamespace"`
	DestinationNamespace string `json:"destinationNamespace"`
	// Spec is the Replication's spec with every default applied.
	Spec drv1.ReplicationSpec `json:"spec"`
	// DataPlane is how PVC data moves, from the RemoteClusters and the mapping.
	DataPlane DataPlane `json:"dataPlane"`
	// AcceptChanges is the accept-changes annotation's value when no run has
	// taken it yet: this run may do what the DR-copy guards would hold back.
	AcceptChanges string `json:"acceptChanges,omitempty"`
}

// DataPlane says how a replication's PVC data moves.
type DataPlane struct {
	Image     Image `json:"image"`
	AgentPort int32 `json:"agentPort"`
	// ClusterKey and AgentHostKey are the control-cluster Secrets with the
	// cluster-pair key and the source agent's host key.
	ClusterKey   SecretRef `json:"clusterKey"`
	AgentHostKey SecretRef `json:"agentHostKey"`
	// Retry is the replication's retryConfig, overridden field by field by
	// the source RemoteCluster's pvcSync.retryConfig.
	Retry drv1.RetryConfig `json:"retry"`
	// GlobalConcurrencyLimit bounds PVC syncs against the source cluster.
	GlobalConcurrencyLimit int32 `json:"globalConcurrencyLimit"`
}

// DefaultDataPlaneImage is used when a RemoteCluster names no pvcSync image.
const DefaultDataPlaneImage = "dr-syncer/dataplane:dev"

// PlanActivities read dr-syncer's own resources from the control cluster.
type PlanActivities struct {
	Control client.Reader
}

// ResolveReplication reads a Replication and what it refers to and returns
// its plan. A reference a user must fix is a non-retryable InvalidSpec error
// whose message says what to fix.
func (a *PlanActivities) ResolveReplication(ctx context.Context, ref ObjectRef) (ReplicationPlan, error) {
	var r drv1.Replication
	if err := a.Control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &r); err != nil {
		if apierrors.IsNotFound(err) {
			return ReplicationPlan{}, invalidSpec("Replication %s not found", ref)
		}
		return ReplicationPlan{}, fmt.Errorf("get Replication %s: %w", ref, err)
	}
	source, destination, clusterKey, err := a.clusters(ctx, &r)
	if err != nil {
		return ReplicationPlan{}, err
	}
	if problem := drv1.SelfReplicationProblem(source, destination, &r.Spec); problem != "" {
		return ReplicationPlan{}, invalidSpec("Replication %s: %s", ref, problem)
	}
	var sourceCluster drv1.RemoteCluster
	for _, c := range []string{source, destination} {
		var rc drv1.RemoteCluster
		if err := a.Control.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: c}, &rc); err != nil {
			if apierrors.IsNotFound(err) {
				return ReplicationPlan{}, invalidSpec("RemoteCluster %s/%s named by Replication %s not found; create it or fix the name", r.Namespace, c, ref)
			}
			return ReplicationPlan{}, fmt.Errorf("get RemoteCluster %s/%s: %w", r.Namespace, c, err)
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
	clusterKey.Namespace = defaultString(clusterKey.Namespace, r.Namespace)
	return ReplicationPlan{
		DataPlane:            dataPlane(&sourceCluster, clusterKey, spec.RetryConfig),
		Replication:          ref,
		Generation:           r.Generation,
		Source:               ClusterRef{Namespace: r.Namespace, Name: source},
		Destination:          ClusterRef{Namespace: r.Namespace, Name: destination},
		SourceNamespace:      spec.SourceNamespace,
		DestinationNamespace: spec.DestinationNamespace,
		Spec:                 spec,
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
func (a *PlanActivities) clusters(ctx context.Context, r *drv1.Replication) (string, string, SecretRef, error) {
	if r.Spec.ClusterMappingRef == nil {
		if r.Spec.SourceCluster == "" || r.Spec.DestinationCluster == "" {
			return "", "", SecretRef{}, invalidSpec("Replication %s/%s names neither clusterMappingRef nor sourceCluster and destinationCluster", r.Namespace, r.Name)
		}
		key := SecretRef{Name: ClusterKeySecretName(r.Spec.SourceCluster, r.Spec.DestinationCluster)}
		return r.Spec.SourceCluster, r.Spec.DestinationCluster, key, nil
	}
	key := types.NamespacedName{Namespace: r.Spec.ClusterMappingRef.Namespace, Name: r.Spec.ClusterMappingRef.Name}
	if key.Namespace == "" {
		key.Namespace = r.Namespace
	}
	var m drv1.ClusterMapping
	if err := a.Control.Get(ctx, key, &m); err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", SecretRef{}, invalidSpec("ClusterMapping %s named by Replication %s/%s not found; create it or fix clusterMappingRef", key, r.Namespace, r.Name)
		}
		return "", "", SecretRef{}, fmt.Errorf("get ClusterMapping %s: %w", key, err)
	}
	if m.Spec.Paused {
		return "", "", SecretRef{}, invalidSpec("ClusterMapping %s is paused; unpause it to sync", key)
	}
	secret := SecretRef{Namespace: m.Namespace, Name: ClusterKeySecretName(m.Spec.SourceCluster, m.Spec.TargetCluster)}
	if ref := m.Spec.SSHKeySecretRef; ref != nil {
		secret = SecretRef{Namespace: defaultString(ref.Namespace, m.Namespace), Name: ref.Name}
	}
	return m.Spec.SourceCluster, m.Spec.TargetCluster, secret, nil
}

// ClusterKeySecretName is the default Secret of a cluster pair's SSH key.
func ClusterKeySecretName(source, target string) string { return source + "-to-" + target + "-ssh-key" }

// AgentHostKeySecretName is the default Secret of a cluster's agent host key.
func AgentHostKeySecretName(cluster string) string { return cluster + "-agent-host-key" }

// dataPlane reads the source RemoteCluster's pvcSync settings, with defaults.
func dataPlane(source *drv1.RemoteCluster, clusterKey SecretRef, retry *drv1.RetryConfig) DataPlane {
	d := DataPlane{
		Image:                  Image{Reference: DefaultDataPlaneImage, PullPolicy: corev1.PullIfNotPresent},
		AgentPort:              2222,
		ClusterKey:             clusterKey,
		AgentHostKey:           SecretRef{Namespace: source.Namespace, Name: AgentHostKeySecretName(source.Name)},
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
			d.AgentHostKey = SecretRef{Namespace: defaultString(p.SSH.KeySecretRef.Namespace, source.Namespace), Name: p.SSH.KeySecretRef.Name}
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
