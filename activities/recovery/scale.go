package recovery

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// plan is one scaling step's decision for one workload, a pure function of
// what the workload is now: what to report (ok false: the workload is not
// the step's), and the patch that gets it there (nil when it is there
// already, as after a retried attempt). An error is a mark a person must
// fix; no workload is changed then.
type plan func(w workload) (change contract.WorkloadChange, patch *workloadPatch, ok bool, err error)

// ScaleDownSource stops the source's workloads: Deployments and
// StatefulSets to zero replicas, CronJobs suspended, each recording what it
// was in AnnotationFailoverReplicas in the same patch. A workload that
// already has the annotation was stopped by an earlier attempt (or a
// failover never failed back): its recorded value is kept, since the
// replicas it has now are the failover's.
func (a *RecoveryActivities) ScaleDownSource(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return a.scale(ctx, in, planScaleDownSource)
}

// RestoreSource undoes ScaleDownSource: every workload with
// AnnotationFailoverReplicas gets its recorded replicas (or suspend) back
// and loses the annotation, in one patch. Workloads without it are left
// alone, so a retry does nothing more.
func (a *RecoveryActivities) RestoreSource(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return a.scale(ctx, in, planRestoreSource)
}

// ScaleUpCopies starts the DR copies (or a drill's copies of them):
// Deployments and StatefulSets with AnnotationOriginalReplicas get
// in.Replicas["Kind/name"] when set, else the source's recorded replicas;
// CronJobs with AnnotationOriginalSuspend get the source's suspend. The
// annotations stay: the next sync after a failback reads them. Overrides
// that name no such workload are ignored; the workflow can tell them by
// comparing in.Replicas with the result's keys.
func (a *RecoveryActivities) ScaleUpCopies(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return a.scale(ctx, in, planScaleUpCopies(in.Replicas))
}

// ScaleDownCopies stops the DR copies again: zero replicas for workloads
// with AnnotationOriginalReplicas, suspended CronJobs with
// AnnotationOriginalSuspend; the annotations stay.
func (a *RecoveryActivities) ScaleDownCopies(ctx context.Context, in contract.WorkloadsInput) (contract.WorkloadsResult, error) {
	return a.scale(ctx, in, planScaleDownCopies)
}

// scale plans every workload of the namespace first, so a bad mark fails
// the step before it changed anything, then patches those not there yet.
// A patch refused because the workload changed since it was read is
// planned again from a fresh read.
func (a *RecoveryActivities) scale(ctx context.Context, in contract.WorkloadsInput, decide plan) (contract.WorkloadsResult, error) {
	cs, err := a.Clusters.Clientset(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return contract.WorkloadsResult{}, activities.Classify(fmt.Errorf("client of %s: %w", clusterName(in.Cluster), err))
	}
	all, err := listWorkloads(ctx, cs, in.Namespace)
	if err != nil {
		return contract.WorkloadsResult{}, err
	}
	var mine []workload
	for _, w := range all {
		_, _, ok, err := decide(w)
		if err != nil {
			return contract.WorkloadsResult{}, err
		}
		if ok {
			mine = append(mine, w)
		}
	}
	res := contract.WorkloadsResult{Workloads: []contract.WorkloadChange{}}
	for _, w := range mine {
		var change contract.WorkloadChange
		var ok bool
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var patch *workloadPatch
			var err error
			if change, patch, ok, err = decide(w); err != nil || patch == nil || !ok {
				return err
			}
			body, err := patch.body(w)
			if err != nil {
				return err
			}
			err = patchWorkload(ctx, cs, in.Namespace, w, body)
			if apierrors.IsConflict(err) {
				if fresh, getErr := getWorkload(ctx, cs, in.Namespace, w.Kind, w.Name); getErr == nil {
					w = fresh
				}
			}
			return err
		})
		if apierrors.IsNotFound(err) {
			continue // deleted since the list: nothing of it to scale
		}
		if err != nil {
			return res, err
		}
		if ok {
			res.Workloads = append(res.Workloads, change)
		}
		activity.RecordHeartbeat(ctx, "scaled "+w.key())
	}
	return res, nil
}

func planScaleDownSource(w workload) (contract.WorkloadChange, *workloadPatch, bool, error) {
	change := contract.WorkloadChange{Kind: w.Kind, Name: w.Name}
	recorded, has := w.Annotations[drv1.AnnotationFailoverReplicas]
	if w.Kind == KindCronJob {
		change.Suspended = ptr(true)
		if has {
			if _, err := parseSuspendRecord(w, recorded); err != nil {
				return change, nil, true, err
			}
			if w.Suspend {
				return change, nil, true, nil
			}
			return change, &workloadPatch{Suspend: ptr(true)}, true, nil
		}
		record := suspendRecord(w.Suspend)
		return change, &workloadPatch{Annotations: map[string]*string{drv1.AnnotationFailoverReplicas: &record}, Suspend: ptr(true)}, true, nil
	}
	if has {
		n, err := parseReplicas(w, drv1.AnnotationFailoverReplicas, recorded)
		if err != nil {
			return change, nil, true, err
		}
		change.From = n
		if w.Replicas == 0 {
			return change, nil, true, nil
		}
		return change, &workloadPatch{Replicas: ptr(int32(0))}, true, nil
	}
	change.From = w.Replicas
	record := strconv.Itoa(int(w.Replicas))
	return change, &workloadPatch{Annotations: map[string]*string{drv1.AnnotationFailoverReplicas: &record}, Replicas: ptr(int32(0))}, true, nil
}

func planRestoreSource(w workload) (contract.WorkloadChange, *workloadPatch, bool, error) {
	change := contract.WorkloadChange{Kind: w.Kind, Name: w.Name}
	recorded, has := w.Annotations[drv1.AnnotationFailoverReplicas]
	if !has {
		return change, nil, false, nil
	}
	drop := map[string]*string{drv1.AnnotationFailoverReplicas: nil}
	if w.Kind == KindCronJob {
		suspend, err := parseSuspendRecord(w, recorded)
		if err != nil {
			return change, nil, true, err
		}
		change.Suspended = &suspend
		return change, &workloadPatch{Annotations: drop, Suspend: &suspend}, true, nil
	}
	n, err := parseReplicas(w, drv1.AnnotationFailoverReplicas, recorded)
	if err != nil {
		return change, nil, true, err
	}
	change.From, change.To = w.Replicas, n
	return change, &workloadPatch{Annotations: drop, Replicas: &n}, true, nil
}

func planScaleUpCopies(overrides map[string]int32) plan {
	return func(w workload) (contract.WorkloadChange, *workloadPatch, bool, error) {
		change := contract.WorkloadChange{Kind: w.Kind, Name: w.Name}
		if w.Kind == KindCronJob {
			recorded, has := w.Annotations[resources.AnnotationOriginalSuspend]
			if !has {
				return change, nil, false, nil
			}
			suspend, err := strconv.ParseBool(recorded)
			if err != nil {
				return change, nil, true, markError(w, resources.AnnotationOriginalSuspend, recorded, "true or false")
			}
			change.Suspended = &suspend
			if w.Suspend == suspend {
				return change, nil, true, nil
			}
			return change, &workloadPatch{Suspend: &suspend}, true, nil
		}
		recorded, has := w.Annotations[drv1.AnnotationOriginalReplicas]
		if !has {
			return change, nil, false, nil
		}
		target, set := overrides[w.key()]
		if !set {
			n, err := parseReplicas(w, drv1.AnnotationOriginalReplicas, recorded)
			if err != nil {
				return change, nil, true, err
			}
			target = n
		}
		change.From, change.To = w.Replicas, target
		if w.Replicas == target {
			return change, nil, true, nil
		}
		return change, &workloadPatch{Replicas: &target}, true, nil
	}
}

func planScaleDownCopies(w workload) (contract.WorkloadChange, *workloadPatch, bool, error) {
	change := contract.WorkloadChange{Kind: w.Kind, Name: w.Name}
	if w.Kind == KindCronJob {
		if _, has := w.Annotations[resources.AnnotationOriginalSuspend]; !has {
			return change, nil, false, nil
		}
		change.Suspended = ptr(true)
		if w.Suspend {
			return change, nil, true, nil
		}
		return change, &workloadPatch{Suspend: ptr(true)}, true, nil
	}
	if _, has := w.Annotations[drv1.AnnotationOriginalReplicas]; !has {
		return change, nil, false, nil
	}
	change.From = w.Replicas
	if w.Replicas == 0 {
		return change, nil, true, nil
	}
	return change, &workloadPatch{Replicas: ptr(int32(0))}, true, nil
}

// suspendRecord is how AnnotationFailoverReplicas records a CronJob's suspend.
func suspendRecord(suspend bool) string { return "suspend=" + strconv.FormatBool(suspend) }

func parseSuspendRecord(w workload, v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimPrefix(v, "suspend="))
	if err != nil || !strings.HasPrefix(v, "suspend=") {
		return false, markError(w, drv1.AnnotationFailoverReplicas, v, `"suspend=true" or "suspend=false"`)
	}
	return b, nil
}

func parseReplicas(w workload, key, v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, markError(w, key, v, "a replica count")
	}
	return int32(n), nil
}

// markError is a dr-syncer mark that does not parse: a person edited it,
// and only a person knows the value it should hold.
func markError(w workload, key, v, want string) error {
	return activities.InvalidSpec("%s has annotation %s=%q, which is not %s; set it to the value to restore", w.key(), key, v, want)
}

func ptr[T any](v T) *T { return &v }
