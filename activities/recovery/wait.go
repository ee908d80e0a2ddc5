package recovery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
)

// ReadyPollInterval is how often WaitWorkloads looks at the workloads;
// the RTO it measures is only as fine as this.
const ReadyPollInterval = time.Second

// rollout is what readiness needs of a Deployment's or StatefulSet's status.
type rollout struct {
	Found                          bool
	Generation, ObservedGeneration int64
	Replicas, Ready, Updated       int32
}

// WaitWorkloads waits until every workload of in is where the step left it:
// one with To > 0 has To Ready replicas of its current spec, one with To
// == 0 has no pods left. CronJobs have nothing to wait for. It polls every
// ReadyPollInterval and heartbeats a contract.ReadyProgress, and never
// gives up by itself: the workflow bounds it (StartToClose) and reports
// NotReady with the last heartbeat, which says what each workload lacks.
func (a *RecoveryActivities) WaitWorkloads(ctx context.Context, in contract.WaitReadyInput) error {
	cs, err := a.Clusters.Clientset(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return activities.Classify(fmt.Errorf("client of %s: %w", clusterName(in.Cluster), err))
	}
	for {
		progress := contract.ReadyProgress{}
		for _, w := range in.Workloads {
			if w.Kind == KindCronJob {
				continue
			}
			r, err := readRollout(ctx, cs, in.Namespace, w)
			if err != nil {
				return err
			}
			progress.Total++
			if why := notReady(w, r); why != "" {
				progress.NotReady = append(progress.NotReady, w.Key()+": "+why)
			} else {
				progress.Ready++
			}
		}
		if len(progress.NotReady) == 0 {
			return nil
		}
		activity.RecordHeartbeat(ctx, progress)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d workloads in %s ready; %s: %w", progress.Ready, progress.Total, in.Namespace,
				strings.Join(progress.NotReady, "; "), ctx.Err())
		case <-time.After(ReadyPollInterval):
		}
	}
}

// readRollout reads a workload's status; a workload that is gone has none.
func readRollout(ctx context.Context, cs kubernetes.Interface, namespace string, w contract.WorkloadChange) (rollout, error) {
	var r rollout
	var err error
	switch w.Kind {
	case KindDeployment:
		d, getErr := cs.AppsV1().Deployments(namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err = getErr; err == nil {
			r = rollout{true, d.Generation, d.Status.ObservedGeneration, d.Status.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas}
		}
	case KindStatefulSet:
		s, getErr := cs.AppsV1().StatefulSets(namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err = getErr; err == nil {
			r = rollout{true, s.Generation, s.Status.ObservedGeneration, s.Status.Replicas, s.Status.ReadyReplicas, s.Status.UpdatedReplicas}
		}
	default:
		return rollout{}, activities.NonRetryable(contract.ErrTypeInvalidSpec, "cannot wait for %s: not a Deployment, StatefulSet or CronJob", w.Key())
	}
	if apierrors.IsNotFound(err) {
		return rollout{}, nil
	}
	if err != nil {
		return rollout{}, fmt.Errorf("get %s in %s: %w", w.Key(), namespace, err)
	}
	return r, nil
}

// notReady says why a workload is not where w wants it yet, or "" when it
// is. The observed generation proves the status describes the spec the
// step wrote, not the one before it.
func notReady(w contract.WorkloadChange, r rollout) string {
	switch {
	case !r.Found && w.To == 0:
		return "" // gone, and its pods with it
	case !r.Found:
		return "not found"
	case r.ObservedGeneration < r.Generation:
		return fmt.Sprintf("controller has not seen generation %d yet (observed %d)", r.Generation, r.ObservedGeneration)
	case w.To == 0 && r.Replicas > 0:
		return fmt.Sprintf("%d pods still running", r.Replicas)
	case w.To == 0:
		return ""
	case r.Ready < w.To:
		return fmt.Sprintf("%d of %d ready", r.Ready, w.To)
	case w.Kind == KindDeployment && r.Updated < w.To:
		return fmt.Sprintf("%d of %d updated", r.Updated, w.To)
	}
	return ""
}
