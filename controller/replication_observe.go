package controller

import (
	"context"
	"errors"
	"time"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/starter"
)

// observe reads what the planner needs: whether the references resolve,
// the Replication's Schedule, and the run its status follows.
func (r *ReplicationReconciler) observe(ctx context.Context, repl *drv1.Replication) (replicationObservation, error) {
	obs := replicationObservation{Replication: repl}
	res, problem, err := r.checkReferences(ctx, repl)
	if err != nil {
		return obs, err
	}
	obs.InvalidReference = problem
	if res != nil {
		obs.DefaultSchedule = res.Source.Spec.DefaultSchedule
		obs.SourceCluster, obs.DestinationCluster = res.Source.Name, res.Destination.Name
	}
	if obs.Schedule, err = r.observeSchedule(ctx, repl); err != nil {
		return obs, err
	}
	tracked := repl.Status.CurrentRun
	if tracked == nil && obs.Schedule != nil {
		tracked = unrecordedScheduledRun(obs.Schedule.Recent, repl.Status.LastRun)
	}
	if tracked == nil {
		return obs, nil
	}
	obs.Run, obs.RunLost, err = trackedRun(r.Temporal.RunState(ctx, tracked.WorkflowID, tracked.RunID))
	return obs, err
}

// unrecordedScheduledRun is the newest run the Schedule started after the
// last run the status recorded, or nil. A run that started and ended between
// two reconciles is still found, so every scheduled sync reaches the stats.
func unrecordedScheduledRun(recent []starter.ScheduledRun, last *drv1.WorkflowRef) *drv1.WorkflowRef {
	if len(recent) == 0 {
		return nil
	}
	run := recent[len(recent)-1]
	if last != nil && (run.WorkflowID == last.WorkflowID ||
		(last.StartTime != nil && run.Started.Truncate(time.Second).Before(last.StartTime.Time))) {
		return nil
	}
	return &drv1.WorkflowRef{WorkflowID: run.WorkflowID, RunID: run.RunID}
}

// checkReferences resolves the Replication's references with the resolver
// the runs use, and checks both RemoteClusters' kubeconfig Secrets. A
// missing one is a problem for the user to fix, described in the returned
// message; other errors are returned to retry.
func (r *ReplicationReconciler) checkReferences(ctx context.Context, repl *drv1.Replication) (*resolve.Resolved, string, error) {
	res, err := resolve.References(ctx, r.Client, r.SystemNamespace, repl)
	if p, ok := resolve.IsProblem(err); ok {
		return nil, p.Message, nil
	}
	if err != nil {
		return nil, "", err
	}
	for _, rc := range []*drv1.RemoteCluster{res.Source, res.Destination} {
		if problem, err := r.checkKubeconfig(ctx, rc); problem != "" || err != nil {
			return nil, problem, err
		}
	}
	return res, "", nil
}

// checkKubeconfig makes sure the RemoteCluster's kubeconfig Secret and key
// exist and the policy accepts the kubeconfig, with the reader the worker
// connects with. It reads through the API
// reader, so the controller does not cache every Secret of the cluster.
func (r *ReplicationReconciler) checkKubeconfig(ctx context.Context, rc *drv1.RemoteCluster) (string, error) {
	_, err := kube.ReadKubeconfig(ctx, r.APIReader, rc, r.Kubeconfigs)
	var problem *kube.ClusterRefProblem
	if errors.As(err, &problem) {
		return problem.Message, nil
	}
	return "", err
}

func refOf(repl *drv1.Replication) contract.ObjectRef {
	return contract.ObjectRef{Namespace: repl.Namespace, Name: repl.Name}
}
