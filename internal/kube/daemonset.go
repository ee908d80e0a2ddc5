package kube

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DaemonSetState is what a cluster says of one DaemonSet and its pods.
type DaemonSetState struct {
	// Found is false when the DaemonSet does not exist; nothing else is set then.
	Found bool
	// Annotations are the DaemonSet's, TemplateAnnotations its pod template's.
	Annotations         map[string]string
	TemplateAnnotations map[string]string
	// Desired, Updated and Ready count nodes, as the DaemonSet controller does.
	Desired, Updated, Ready int32
	// Observed is set when the status describes the current spec.
	Observed bool
	// PodProblems say why pods are not ready, "pod: reason", a few at most.
	PodProblems []string
}

// maxPodProblems bounds what a status message quotes.
const maxPodProblems = 3

// ReadDaemonSet reads namespace/name and its pods in the RemoteCluster
// clusterNamespace/clusterName. A missing DaemonSet is not an error.
func (c *Clusters) ReadDaemonSet(ctx context.Context, clusterNamespace, clusterName, namespace, name string) (DaemonSetState, error) {
	cs, err := c.Clientset(ctx, clusterNamespace, clusterName)
	if err != nil {
		return DaemonSetState{}, err
	}
	ds, err := cs.AppsV1().DaemonSets(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return DaemonSetState{}, nil
	}
	if err != nil {
		return DaemonSetState{}, fmt.Errorf("get DaemonSet %s/%s in cluster %s/%s: %w", namespace, name, clusterNamespace, clusterName, err)
	}
	st := DaemonSetState{
		Found: true, Annotations: ds.Annotations, TemplateAnnotations: ds.Spec.Template.Annotations,
		Desired: ds.Status.DesiredNumberScheduled, Updated: ds.Status.UpdatedNumberScheduled, Ready: ds.Status.NumberReady,
		Observed: ds.Status.ObservedGeneration >= ds.Generation,
	}
	if st.Ready >= st.Desired || ds.Spec.Selector == nil {
		return st, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return st, nil // the counts still tell the truth; only the reasons are lost
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return DaemonSetState{}, fmt.Errorf("list pods of DaemonSet %s/%s in cluster %s/%s: %w", namespace, name, clusterNamespace, clusterName, err)
	}
	for i := range pods.Items {
		if why := podProblem(&pods.Items[i]); why != "" && len(st.PodProblems) < maxPodProblems {
			st.PodProblems = append(st.PodProblems, pods.Items[i].Name+": "+why)
		}
	}
	return st, nil
}

// podProblem says why a pod is not ready, or "" when it is.
func podProblem(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return ""
		}
	}
	var reasons []string
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			reasons = append(reasons, cs.State.Waiting.Reason)
		case cs.State.Terminated != nil:
			reasons = append(reasons, "terminated: "+cs.State.Terminated.Reason)
		}
	}
	if len(reasons) == 0 {
		return "not ready (" + string(p.Status.Phase) + ")"
	}
	return strings.Join(reasons, ", ")
}
