// Package resolve turns dr-syncer's custom resources into the typed values
// the Temporal boundary carries (package contract). It is the one place that
// follows references (Replication → ClusterMapping → RemoteClusters → key
// Secrets) and applies the API's defaults: the controller's observe step and
// the ResolveReplication activity both call it, so they cannot disagree.
package resolve

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// Problem is a reference or setting a user must fix; its message says what
// to fix, in words that fit after the Replication's name. Any other error
// from this package is worth retrying.
type Problem struct{ Message string }

func (p *Problem) Error() string { return p.Message }

// IsProblem reports whether err is a Problem and returns it.
func IsProblem(err error) (*Problem, bool) {
	var p *Problem
	return p, errors.As(err, &p)
}

func problem(format string, args ...any) error {
	return &Problem{Message: fmt.Sprintf(format, args...)}
}

// Resolved is a Replication with every reference followed.
type Resolved struct {
	Replication *drv1.Replication
	// Source and Destination are the RemoteClusters the replication copies between.
	Source, Destination *drv1.RemoteCluster
	// Mapping is the ClusterMapping the Replication names, or nil.
	Mapping *drv1.ClusterMapping
	// ClusterKey is the control-cluster Secret with the pair's SSH key.
	ClusterKey contract.SecretRef
}

// Replication reads the Replication ref and follows its references. A
// missing reference, one that points outside the Replication's namespace
// and the system namespace system, or a replication onto itself, is a
// Problem.
func Replication(ctx context.Context, r client.Reader, system string, ref contract.ObjectRef) (*Resolved, error) {
	var repl drv1.Replication
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &repl); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, problem("not found")
		}
		return nil, fmt.Errorf("get Replication %s: %w", ref, err)
	}
	return References(ctx, r, system, &repl)
}

// References follows the references of a Replication already read. Each
// object followed is checked before anything it names is read, so a
// reference into another tenant's namespace is refused before its Secrets
// are touched (drv1.ForeignReferenceProblem).
func References(ctx context.Context, r client.Reader, system string, repl *drv1.Replication) (*Resolved, error) {
	res := &Resolved{Replication: repl}
	source, target := repl.Spec.SourceCluster, repl.Spec.DestinationCluster
	if p := repl.ReferenceProblem(system); p != "" {
		return nil, problem("%s", p)
	}
	if ref := repl.Spec.ClusterMappingRef; ref != nil {
		key := types.NamespacedName{Namespace: defaultString(ref.Namespace, repl.Namespace), Name: ref.Name}
		var m drv1.ClusterMapping
		if err := r.Get(ctx, key, &m); apierrors.IsNotFound(err) {
			return nil, problem("ClusterMapping %s not found: create it or fix spec.clusterMappingRef", key)
		} else if err != nil {
			return nil, fmt.Errorf("get ClusterMapping %s: %w", key, err)
		}
		if p := m.ReferenceProblem(system); p != "" {
			return nil, problem("%s", p)
		}
		res.Mapping = &m
		source, target = m.Spec.SourceCluster, m.Spec.TargetCluster
		res.ClusterKey = ClusterKeySecret(&m)
	} else {
		if source == "" || target == "" {
			return nil, problem("names neither clusterMappingRef nor sourceCluster and destinationCluster; set one of them")
		}
		res.ClusterKey = contract.SecretRef{Namespace: repl.Namespace, Name: contract.ClusterKeySecretName(source, target)}
	}
	if p := drv1.SelfReplicationProblem(source, target, &repl.Spec); p != "" {
		return nil, problem("%s", p)
	}
	for _, name := range []string{source, target} {
		key := types.NamespacedName{Namespace: repl.Namespace, Name: name}
		var rc drv1.RemoteCluster
		if err := r.Get(ctx, key, &rc); apierrors.IsNotFound(err) {
			return nil, problem("RemoteCluster %s not found: create it in namespace %s or fix the cluster name", key, repl.Namespace)
		} else if err != nil {
			return nil, fmt.Errorf("get RemoteCluster %s: %w", key, err)
		}
		if p := rc.ReferenceProblem(system); p != "" {
			return nil, problem("%s", p)
		}
		if name == source {
			res.Source = &rc
		} else {
			res.Destination = &rc
		}
	}
	if source == target {
		res.Destination = res.Source
	}
	return res, nil
}

// Plan is the run's snapshot of a resolved Replication: its clusters, its
// spec with every default applied, and how its data moves. A data sync
// config the data plane would refuse is a Problem, found before any step
// runs; it only matters when the Replication syncs data.
func (res *Resolved) Plan() (contract.ReplicationPlan, error) {
	r := res.Replication
	spec := *r.Spec.DeepCopy()
	if len(spec.ResourceTypes) == 0 {
		spec.ResourceTypes = res.Source.Spec.DefaultResourceTypes
	}
	drv1.SetReplicationDefaults(&spec)
	var dataSync rsyncargs.Config
	if spec.PVCConfig.SyncData {
		var err error
		if dataSync, err = DataSync(spec.PVCConfig.DataSyncConfig); err != nil {
			return contract.ReplicationPlan{}, &Problem{Message: err.Error()}
		}
	}
	settings := settingsOf(&spec)
	return contract.ReplicationPlan{
		DataPlane:            DataPlane(res.Source, res.ClusterKey, settings.RetryConfig),
		Replication:          contract.ObjectRef{Namespace: r.Namespace, Name: r.Name},
		Generation:           r.Generation,
		Source:               contract.ClusterRef{Namespace: r.Namespace, Name: res.Source.Name},
		Destination:          contract.ClusterRef{Namespace: r.Namespace, Name: res.Destination.Name},
		SourceNamespace:      spec.SourceNamespace,
		DestinationNamespace: spec.DestinationNamespace,
		Spec:                 settings,
		DataSync:             dataSync,
		AcceptChanges:        pendingAcceptChanges(r),
	}, nil
}

// DRLocation is where the resolved Replication's DR copies are, with its
// destination namespace defaulted as its runs default it.
func DRLocation(res *Resolved) contract.DRLocation {
	spec := res.Replication.Spec.DeepCopy()
	drv1.SetReplicationDefaults(spec)
	return contract.DRLocation{
		Destination: contract.ClusterRef{Namespace: res.Replication.Namespace, Name: res.Destination.Name},
		Namespace:   spec.DestinationNamespace,
	}
}

// pendingAcceptChanges is the accept-changes value no run has taken yet, or "".
func pendingAcceptChanges(r *drv1.Replication) string {
	if v := r.Annotations[drv1.AnnotationAcceptChanges]; v != r.Status.AcceptChangesHandled {
		return v
	}
	return ""
}

func defaultString(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
