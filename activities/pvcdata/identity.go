package pvcdata

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// syncIdentityInput is what syncIdentity needs of a transfer's sync pod
// or a batch's: the batch's movers share one pod, one target and one
// Secret, so they share one certificate too.
type syncIdentityInput struct {
	// keyID names the certificate in the agent's log.
	keyID string
	// what names the sync in errors.
	what string
	// cluster, namespace and credentials are the DR cluster's name, the sync
	// pod's namespace and the Secret the pod mounts.
	cluster, namespace, credentials string
	// target is the mount pod the certificate lets the sync pod reach.
	target                   string
	clusterKey, agentHostKey *contract.SecretRef
}

// transferIdentity is a solo transfer's syncIdentityInput.
func transferIdentity(in contract.TransferInput) syncIdentityInput {
	return syncIdentityInput{
		keyID:   fmt.Sprintf("pvcsync %s/%s %s", in.PVC.Namespace, in.PVC.Name, in.Op.WorkflowID),
		what:    "transfer of " + in.PVC.String(),
		cluster: in.PVC.Cluster.Name, namespace: in.PVC.Namespace, credentials: in.Credentials,
		target: in.Target, clusterKey: in.ClusterKey, agentHostKey: in.AgentHostKey,
	}
}

// syncIdentity writes a freshly issued per-operation key and certificate,
// bound to in.target, into the DR Secret before a sync pod is created. Every
// new pod gets one from the cluster-pair key current at that moment, so a
// retry after the certificate expired (a pod that took long to start) or
// after a key rotation never presents a stale certificate. A pod that is
// re-attached to keeps the identity it started with: its connection is up,
// and the agent does not re-check certificates of open connections.
func (a *PVCActivities) syncIdentity(ctx context.Context, cs kubernetes.Interface, in syncIdentityInput, pod *corev1.Pod) error {
	existing, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	switch {
	case err == nil && activities.PodReusable(existing, pod):
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("get sync pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return a.writeSyncIdentity(ctx, cs, in)
}

// writeSyncIdentity issues in's key and certificate now and writes them
// into the DR Secret the sync pod mounts.
func (a *PVCActivities) writeSyncIdentity(ctx context.Context, cs kubernetes.Interface, in syncIdentityInput) error {
	if in.clusterKey == nil || in.agentHostKey == nil {
		return activities.NonRetryable(contract.ErrTypeInvalidSpec,
			"%s was started by a worker that copied the cluster-pair key; agents now accept only per-operation certificates. "+
				"This run cannot get one; the next run of the Replication will", in.what)
	}
	authority, err := activities.LoadSSHAuthority(ctx, a.Control, *in.clusterKey, *in.agentHostKey)
	if err != nil {
		return err
	}
	data, cert, err := authority.Identity(in.keyID, in.target, 0)
	if err != nil {
		return err
	}
	secrets := cs.CoreV1().Secrets(in.namespace)
	s, err := secrets.Get(ctx, in.credentials, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get credentials Secret %s/%s in %s: %w", in.namespace, in.credentials, in.cluster, err)
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range data {
		s.Data[k] = v
	}
	// A Secret written by an older worker held the cluster-pair key itself.
	delete(s.Data, kube.SecretKeyClusterKey)
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("write certificate into Secret %s/%s in %s: %w", in.namespace, in.credentials, in.cluster, err)
	}
	activity.GetLogger(ctx).Info("issued sync certificate", "keyID", in.keyID, "target", cert.Target,
		"caFingerprint", cert.CAFingerprint, "validBefore", cert.ValidBefore)
	return nil
}
