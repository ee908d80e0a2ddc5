package recovery

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// NamespacePollInterval is how often DeleteScratchNamespace looks whether
// the namespace is gone.
const NamespacePollInterval = 2 * time.Second

// CreateScratchNamespace creates a drill's scratch namespace, labelled with
// the drill (kube.LabelDrill: the OperationID of in.Operation). One that
// exists is fine only if it carries that label: it is this drill's, from an
// earlier attempt. Any other namespace of that name is a person's or
// another drill's, and is never touched: a non-retryable Conflict.
func (a *RecoveryActivities) CreateScratchNamespace(ctx context.Context, in contract.WorkloadsInput) error {
	cs, err := a.Clusters.Clientset(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return activities.Classify(fmt.Errorf("client of %s: %w", clusterName(in.Cluster), err))
	}
	id := kube.OperationID(in.Operation)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: in.Namespace,
		Labels: map[string]string{kube.LabelDrill: id, kube.LabelManagedBy: kube.ManagedBy}}}
	_, err = cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", in.Namespace, err)
	}
	existing, err := cs.CoreV1().Namespaces().Get(ctx, in.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %s was deleted while being created; trying again", in.Namespace)
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", in.Namespace, err)
	}
	if err := checkDrillNamespace(existing, in.Operation); err != nil {
		return err
	}
	if existing.DeletionTimestamp != nil {
		// This drill's, and being torn down (a teardown that ran before a
		// retry of this step): once it is gone, a retry creates it anew.
		return fmt.Errorf("namespace %s of drill %s is still being deleted; trying again", in.Namespace, in.Operation)
	}
	return nil
}

// DeleteScratchNamespace deletes a drill's scratch namespace, only if it
// carries the drill's label, and waits until it is gone, heartbeating what
// it waits for. A namespace already gone is success; one without the label
// is a non-retryable Conflict, and stays.
func (a *RecoveryActivities) DeleteScratchNamespace(ctx context.Context, in contract.WorkloadsInput) error {
	cs, err := a.Clusters.Clientset(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return activities.Classify(fmt.Errorf("client of %s: %w", clusterName(in.Cluster), err))
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, in.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", in.Namespace, err)
	}
	if err := checkDrillNamespace(ns, in.Operation); err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil {
		// The UID precondition: delete the namespace just checked, never
		// one of the same name made since.
		uid := ns.UID
		err := cs.CoreV1().Namespaces().Delete(ctx, in.Namespace, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete namespace %s: %w", in.Namespace, err)
		}
	}
	return waitNamespaceGone(ctx, cs, in.Namespace, ns.UID)
}

// checkDrillNamespace is nil when ns carries operation's drill label.
func checkDrillNamespace(ns *corev1.Namespace, operation string) error {
	if got := ns.Labels[kube.LabelDrill]; got != kube.OperationID(operation) {
		return activities.NonRetryable(contract.ErrTypeConflict,
			"namespace %s exists and is not this drill's (label %s=%q, drill %s has %q); dr-syncer leaves it alone: pick another drill namespace or remove it",
			ns.Name, kube.LabelDrill, got, operation, kube.OperationID(operation))
	}
	return nil
}

// waitNamespaceGone waits until the namespace of that UID no longer exists;
// the namespace controller first deletes everything in it.
func waitNamespaceGone(ctx context.Context, cs kubernetes.Interface, name string, uid types.UID) error {
	for {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && ns.UID != uid) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get namespace %s: %w", name, err)
		}
		status := fmt.Sprintf("waiting for namespace %s to be deleted (%s)", name, ns.Status.Phase)
		for _, c := range ns.Status.Conditions {
			if c.Status == corev1.ConditionTrue && c.Message != "" {
				status += "; " + c.Message
			}
		}
		activity.RecordHeartbeat(ctx, status)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", status, ctx.Err())
		case <-time.After(NamespacePollInterval):
		}
	}
}
