package resolve

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// ConnectivityCheck is what a ClusterMapping's connectivity check may use:
// its DR cluster, the pair's key Secret, the source agent's host key Secret
// and the source's data-plane image, as the ClusterMapping reconciler
// starts the check. A missing mapping or source RemoteCluster is a Problem.
func ConnectivityCheck(ctx context.Context, r client.Reader, system string, ref contract.ObjectRef) (contract.ConnectivityInput, error) {
	var m drv1.ClusterMapping
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &m); apierrors.IsNotFound(err) {
		return contract.ConnectivityInput{}, problem("ClusterMapping %s not found", ref)
	} else if err != nil {
		return contract.ConnectivityInput{}, fmt.Errorf("get ClusterMapping %s: %w", ref, err)
	}
	if p := m.ReferenceProblem(system); p != "" {
		return contract.ConnectivityInput{}, problem("%s", p)
	}
	var source drv1.RemoteCluster
	key := types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.SourceCluster}
	if err := r.Get(ctx, key, &source); apierrors.IsNotFound(err) {
		return contract.ConnectivityInput{}, problem("RemoteCluster %s of ClusterMapping %s not found", key, ref)
	} else if err != nil {
		return contract.ConnectivityInput{}, fmt.Errorf("get RemoteCluster %s: %w", key, err)
	}
	cfg := AgentConfig(&source)
	return contract.ConnectivityInput{
		Source:       contract.ClusterRef{Namespace: m.Namespace, Name: m.Spec.SourceCluster},
		DR:           contract.ClusterRef{Namespace: m.Namespace, Name: m.Spec.TargetCluster},
		ClusterKey:   ClusterKeySecret(&m),
		AgentHostKey: AgentHostKeySecret(&source),
		Image:        contract.Image{Reference: cfg.Image, PullPolicy: cfg.PullPolicy},
		AgentPort:    cfg.Port,
		Mapping:      &ref,
	}, nil
}
