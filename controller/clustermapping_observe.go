package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// clusterMappingObservation is everything planClusterMapping needs.
type clusterMappingObservation struct {
	Mapping *drv1.ClusterMapping
	// KeySecret is the cluster-pair key Secret; nil when it does not exist.
	KeySecret *corev1.Secret
	// Source is the source RemoteCluster; nil when missing, with Problem saying so.
	Source  *drv1.RemoteCluster
	Problem string
	// ReferenceProblem says the key Secret reference points into a
	// namespace the mapping may not use: the Secret is neither read nor
	// written.
	ReferenceProblem string
	// AgentKeys are the key fingerprints the source agent authorizes, from
	// its last completed rollout; nil when unknown.
	AgentKeys []string
	// Check is the connectivity check status.connectivityCheck names; nil
	// when there is none.
	Check *connectivityCheck
}

// connectivityCheck is what the planner reads of a connectivity workflow.
type connectivityCheck struct {
	WorkflowID, RunID string
	// Lost: Temporal does not know the run (its history expired).
	Lost    bool
	Running bool
	Start   time.Time
	Closed  time.Time
	// Status is how a closed run ended: Completed, Failed, Canceled, ...
	Status string
	// Result of a completed run.
	Result *contract.ConnectivityResult
	// Error says why a closed run did not complete.
	Error string
}

func (r *ClusterMappingReconciler) observe(ctx context.Context, m *drv1.ClusterMapping) (clusterMappingObservation, error) {
	obs := clusterMappingObservation{Mapping: m}
	if p := m.ReferenceProblem(r.SystemNamespace); p != "" {
		obs.ReferenceProblem = p
		return obs, nil
	}
	ref := resolve.ClusterKeySecret(m)
	var s corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
	switch {
	case err == nil:
		obs.KeySecret = &s
	case !apierrors.IsNotFound(err):
		return obs, fmt.Errorf("get cluster-pair key Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	for _, name := range []string{m.Spec.SourceCluster, m.Spec.TargetCluster} {
		var rc drv1.RemoteCluster
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: name}, &rc)
		if apierrors.IsNotFound(err) {
			obs.Problem = fmt.Sprintf("RemoteCluster %s/%s not found: create it or fix the cluster name", m.Namespace, name)
			return obs, nil
		}
		if err != nil {
			return obs, fmt.Errorf("get RemoteCluster %s/%s: %w", m.Namespace, name, err)
		}
		if p := rc.ReferenceProblem(r.SystemNamespace); p != "" {
			// A connectivity check would hand its foreign host key to the worker.
			obs.Problem = p
			return obs, nil
		}
		if name == m.Spec.SourceCluster {
			obs.Source = &rc
		}
	}
	if err := r.observeCheck(ctx, m, &obs); err != nil {
		return obs, err
	}
	if obs.KeySecret == nil {
		return obs, nil
	}
	agent := obs.Source.Status.Agent
	if agent == nil || agent.Rollout == nil || agent.Rollout.Result != resultCompleted {
		return obs, nil
	}
	st, _, err := trackedRun(r.Temporal.AgentRolloutState(ctx, agent.Rollout.WorkflowID, agent.Rollout.RunID))
	if st == nil {
		return obs, err
	}
	if st.Outcome != nil && !st.Outcome.Removed {
		obs.AgentKeys = st.Outcome.AuthorizedFingerprints
	}
	return obs, nil
}

// observeCheck reads the connectivity check the status names.
func (r *ClusterMappingReconciler) observeCheck(ctx context.Context, m *drv1.ClusterMapping, obs *clusterMappingObservation) error {
	ref := m.Status.ConnectivityCheck
	if ref == nil || ref.WorkflowID == "" {
		return nil
	}
	c := &connectivityCheck{WorkflowID: ref.WorkflowID, RunID: ref.RunID}
	obs.Check = c
	var res contract.ConnectivityResult
	st, lost, err := trackedRun(r.Temporal.WorkflowState(ctx, ref.WorkflowID, ref.RunID, &res))
	if st == nil {
		c.Lost = lost
		return err
	}
	c.RunID, c.Running, c.Start, c.Closed, c.Status, c.Error = st.RunID, st.Running(), st.Start, st.Close, st.Status, st.Error
	if st.Completed() {
		c.Result = &res
	}
	return nil
}
