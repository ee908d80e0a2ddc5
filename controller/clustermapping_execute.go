package controller

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// execute carries out the key action on the control-cluster Secret. Key
// material goes from the generator straight into the Secret: it is never
// logged, put in status or passed to Temporal. Updates carry the
// resourceVersion observed, so a concurrent writer makes this one retry
// rather than lose a key.
func (r *ClusterMappingReconciler) execute(ctx context.Context, m *drv1.ClusterMapping, obs clusterMappingObservation, plan *clusterMappingPlan, now time.Time) error {
	if plan.StartCheck != "" {
		return r.startCheck(ctx, m, obs, plan)
	}
	if plan.Keys == keyKeep {
		return nil
	}
	ref := resolve.ClusterKeySecret(m)
	s := obs.KeySecret
	create := s == nil
	if create {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}, Type: corev1.SecretTypeOpaque}
	} else {
		s = s.DeepCopy()
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Labels[contract.LabelKeyKind] = contract.KeyKindClusterPair
	switch plan.Keys {
	case keyGenerate, keyRotate:
		k, err := keys.GenerateClusterPairKey(fmt.Sprintf("dr-syncer %s->%s %s", m.Spec.SourceCluster, m.Spec.TargetCluster, now.UTC().Format("2006-01-02")))
		if err != nil {
			return err
		}
		delete(s.Data, contract.SecretKeyClusterPreviousPublic)
		if plan.Keys == keyRotate {
			s.Data[contract.SecretKeyClusterPreviousPublic] = s.Data[contract.SecretKeyClusterPublic]
		}
		s.Data[contract.SecretKeyClusterPrivate] = k.PrivateKey.Reveal()
		s.Data[contract.SecretKeyClusterPublic] = k.AuthorizedKey
		s.Annotations[contract.AnnotationKeyGeneratedAt] = now.UTC().Format(time.RFC3339)
		s.Annotations[contract.AnnotationRotateKeysHandled] = plan.RotateValue
	case keyDropPrevious:
		delete(s.Data, contract.SecretKeyClusterPreviousPublic)
	}
	var err error
	if create {
		err = r.Client.Create(ctx, s)
	} else {
		err = r.Client.Update(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("write cluster-pair key Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return nil
}

// startCheck starts the connectivity workflow the plan names, at most once
// per ID, and records its run in the planned status.
func (r *ClusterMappingReconciler) startCheck(ctx context.Context, m *drv1.ClusterMapping, obs clusterMappingObservation, plan *clusterMappingPlan) error {
	cfg := resolve.AgentConfig(obs.Source)
	in := contract.ConnectivityInput{
		Source:         contract.ClusterRef{Namespace: m.Namespace, Name: m.Spec.SourceCluster},
		DR:             contract.ClusterRef{Namespace: m.Namespace, Name: m.Spec.TargetCluster},
		ClusterKey:     resolve.ClusterKeySecret(m),
		AgentHostKey:   resolve.AgentHostKeySecret(obs.Source),
		Image:          contract.Image{Reference: cfg.Image, PullPolicy: cfg.PullPolicy},
		AgentPort:      cfg.Port,
		TimeoutSeconds: m.Spec.ConnectivityTimeout(),
		Mapping:        &contract.ObjectRef{Namespace: m.Namespace, Name: m.Name},
	}
	run, err := r.Temporal.StartWorkflowOnce(ctx, plan.StartCheck, contract.ConnectivityName, in,
		temporal.NewSearchAttributes(contract.AttrSourceCluster.ValueSet(m.Spec.SourceCluster)))
	if err != nil {
		// The status keeps naming the previous check, so the next
		// reconcile plans the same ID again.
		plan.Status.ConnectivityCheck = m.Status.ConnectivityCheck.DeepCopy()
		return err
	}
	plan.Status.ConnectivityCheck = &drv1.WorkflowRef{WorkflowID: run.WorkflowID, RunID: run.RunID}
	return nil
}
