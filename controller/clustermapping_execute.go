package controller

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// execute starts the planned connectivity check, or carries out the key
// action on the control-cluster Secret (writeKeySecret).
func (r *ClusterMappingReconciler) execute(ctx context.Context, m *drv1.ClusterMapping, obs clusterMappingObservation, plan *clusterMappingPlan, now time.Time) error {
	if plan.StartCheck != "" {
		return r.startCheck(ctx, m, obs, plan)
	}
	return writeKeySecret(ctx, r.Client, resolve.ClusterKeySecret(m), obs.KeySecret, clusterKeyLayout, plan.Keys, plan.RotateValue, now,
		func() (keys.Secret, []byte, error) {
			k, err := keys.GenerateClusterPairKey(fmt.Sprintf("dr-syncer %s->%s %s", m.Spec.SourceCluster, m.Spec.TargetCluster, now.UTC().Format("2006-01-02")))
			return k.PrivateKey, k.AuthorizedKey, err
		})
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
