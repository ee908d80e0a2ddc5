package recovery

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Kinds of the workloads a recovery scales; WorkloadChange.Kind and the
// "Kind/name" keys of replica overrides use these names.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindCronJob     = "CronJob"
)

// workload is what the scaling steps read of a Deployment, StatefulSet or
// CronJob: one shape for the three kinds, so each step's decision is one
// pure function (scale.go).
type workload struct {
	Kind, Name      string
	ResourceVersion string
	Annotations     map[string]string
	// Replicas is spec.replicas with the API's default (1) applied; 0 for CronJobs.
	Replicas int32
	// Suspend is a CronJob's spec.suspend.
	Suspend bool
}

func (w workload) key() string { return w.Kind + "/" + w.Name }

// workloadPatch is what a step changes on one workload; nil fields stay.
type workloadPatch struct {
	// Annotations to set; a nil value removes the annotation.
	Annotations map[string]*string
	Replicas    *int32
	Suspend     *bool
}

// body is the JSON merge patch of p on w. It carries w's resourceVersion,
// which makes the API server refuse it (409) when the workload changed
// since it was read: a recorded replica count must be the one the patch
// replaced, never one a person or an autoscaler set meanwhile.
func (p *workloadPatch) body(w workload) ([]byte, error) {
	meta := map[string]any{"resourceVersion": w.ResourceVersion}
	if len(p.Annotations) > 0 {
		meta["annotations"] = p.Annotations
	}
	spec := map[string]any{}
	if p.Replicas != nil {
		spec["replicas"] = *p.Replicas
	}
	if p.Suspend != nil {
		spec["suspend"] = *p.Suspend
	}
	data, err := json.Marshal(map[string]any{"metadata": meta, "spec": spec})
	if err != nil {
		return nil, fmt.Errorf("patch of %s: %w", w.key(), err)
	}
	return data, nil
}

// listWorkloads reads every Deployment, StatefulSet and CronJob of the namespace.
func listWorkloads(ctx context.Context, cs kubernetes.Interface, namespace string) ([]workload, error) {
	var out []workload
	deps, err := cs.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Deployments in %s: %w", namespace, err)
	}
	for i := range deps.Items {
		out = append(out, fromDeployment(&deps.Items[i]))
	}
	sets, err := cs.AppsV1().StatefulSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list StatefulSets in %s: %w", namespace, err)
	}
	for i := range sets.Items {
		out = append(out, fromStatefulSet(&sets.Items[i]))
	}
	jobs, err := cs.BatchV1().CronJobs(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list CronJobs in %s: %w", namespace, err)
	}
	for i := range jobs.Items {
		out = append(out, fromCronJob(&jobs.Items[i]))
	}
	return out, nil
}

// getWorkload reads one workload again, after a conflict.
func getWorkload(ctx context.Context, cs kubernetes.Interface, namespace, kind, name string) (workload, error) {
	switch kind {
	case KindDeployment:
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return workload{}, err
		}
		return fromDeployment(d), nil
	case KindStatefulSet:
		s, err := cs.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return workload{}, err
		}
		return fromStatefulSet(s), nil
	}
	c, err := cs.BatchV1().CronJobs(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return workload{}, err
	}
	return fromCronJob(c), nil
}

// patchWorkload applies a JSON merge patch to one workload.
func patchWorkload(ctx context.Context, cs kubernetes.Interface, namespace string, w workload, body []byte) error {
	var err error
	opts := metav1.PatchOptions{}
	switch w.Kind {
	case KindDeployment:
		_, err = cs.AppsV1().Deployments(namespace).Patch(ctx, w.Name, types.MergePatchType, body, opts)
	case KindStatefulSet:
		_, err = cs.AppsV1().StatefulSets(namespace).Patch(ctx, w.Name, types.MergePatchType, body, opts)
	default:
		_, err = cs.BatchV1().CronJobs(namespace).Patch(ctx, w.Name, types.MergePatchType, body, opts)
	}
	if err != nil {
		return fmt.Errorf("patch %s in %s: %w", w.key(), namespace, err)
	}
	return nil
}

func fromDeployment(d *appsv1.Deployment) workload {
	return workload{Kind: KindDeployment, Name: d.Name, ResourceVersion: d.ResourceVersion,
		Annotations: d.Annotations, Replicas: replicasOf(d.Spec.Replicas)}
}

func fromStatefulSet(s *appsv1.StatefulSet) workload {
	return workload{Kind: KindStatefulSet, Name: s.Name, ResourceVersion: s.ResourceVersion,
		Annotations: s.Annotations, Replicas: replicasOf(s.Spec.Replicas)}
}

func fromCronJob(c *batchv1.CronJob) workload {
	return workload{Kind: KindCronJob, Name: c.Name, ResourceVersion: c.ResourceVersion,
		Annotations: c.Annotations, Suspend: c.Spec.Suspend != nil && *c.Spec.Suspend}
}

// replicasOf is spec.replicas as the API server reads it: unset is 1.
func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
