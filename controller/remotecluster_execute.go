package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// execute carries out the plan: the host key, then the rollout.
func (r *RemoteClusterReconciler) execute(ctx context.Context, rc *drv1.RemoteCluster, plan *remoteClusterPlan) error {
	if ref := plan.GenerateHostKey; ref != nil {
		if err := r.createHostKey(ctx, rc, *ref); err != nil {
			return err
		}
	}
	if ref := plan.CancelRollout; ref != nil {
		if err := r.Temporal.CancelRun(ctx, ref.WorkflowID, ref.RunID); err != nil {
			return err
		}
	}
	if in := plan.StartRollout; in != nil {
		run, err := r.Temporal.StartAgentRollout(ctx, *in)
		if err != nil {
			return err
		}
		plan.recordRolloutStarted(run, time.Now())
		// One line per replaced version says which input moved, so a
		// rollout that flips between versions explains itself in the log.
		logger := log.FromContext(ctx).WithValues("remoteCluster", rc.Namespace+"/"+rc.Name, "workflowID", run.WorkflowID, "runID", run.RunID)
		if plan.StartNote != "" {
			logger.Info(plan.StartNote, "started", run.Started)
		}
		if plan.Drift != "" {
			logger.Info("agent re-applied at version "+in.Version+": "+plan.Drift, "started", run.Started)
			if r.Recorder != nil {
				r.Recorder.Eventf(rc, nil, "Warning", ReasonAgentDrifted, "Rollout", "%s (workflow %s)", plan.Drift, run.WorkflowID)
			}
		}
	}
	return nil
}

// createHostKey generates the agent host key into a new Secret. It never
// overwrites one: an existing Secret, even one created concurrently, wins.
func (r *RemoteClusterReconciler) createHostKey(ctx context.Context, rc *drv1.RemoteCluster, ref contract.SecretRef) error {
	private, public, err := keys.GenerateHostKey(fmt.Sprintf("dr-syncer-agent %s/%s", rc.Namespace, rc.Name))
	if err != nil {
		return err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   ref.Namespace,
			Name:        ref.Name,
			Labels:      map[string]string{contract.LabelKeyKind: contract.KeyKindAgentHost},
			Annotations: map[string]string{contract.AnnotationKeyGeneratedAt: time.Now().UTC().Format(time.RFC3339)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			contract.SecretKeyHostPrivate: private.Reveal(),
			contract.SecretKeyHostPublic:  public,
		},
	}
	if err := r.Client.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create agent host key Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return nil
}
