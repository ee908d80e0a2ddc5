package controller

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/log"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// execute carries out the plan: the host key, then the rollout.
func (r *RemoteClusterReconciler) execute(ctx context.Context, rc *drv1.RemoteCluster, obs remoteClusterObservation, plan *remoteClusterPlan, now time.Time) error {
	if err := r.writeHostKey(ctx, rc, obs, plan, now); err != nil {
		return err
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

// writeHostKey generates, rotates or ends the rotation of the agent host
// key (writeKeySecret). A first key never overwrites a Secret: one created
// concurrently wins.
func (r *RemoteClusterReconciler) writeHostKey(ctx context.Context, rc *drv1.RemoteCluster, obs remoteClusterObservation, plan *remoteClusterPlan, now time.Time) error {
	action, existing := plan.HostKeyAction, obs.HostKeySecret
	if plan.GenerateHostKey != nil {
		action, existing = keyGenerate, nil
	}
	err := writeKeySecret(ctx, r.Client, obs.HostKey, existing, hostKeyLayout, action, plan.RotateHostKeyValue, now,
		func() (keys.Secret, []byte, error) {
			return keys.GenerateHostKey(fmt.Sprintf("dr-syncer-agent %s/%s", rc.Namespace, rc.Name))
		})
	if plan.GenerateHostKey != nil && apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if plan.HostKeyEvent != "" && r.Recorder != nil {
		reason := EventHostKeyRotated
		if action == keyDropPrevious {
			reason = EventHostKeyRotationComplete
		}
		r.Recorder.Eventf(rc, nil, "Normal", reason, "RotateHostKey", "%s", plan.HostKeyEvent)
	}
	return nil
}
