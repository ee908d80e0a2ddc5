package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// agentClaim is what the cluster's agent DaemonSet says about whose it is.
// One physical cluster runs one agent, however many RemoteClusters name it.
type agentClaim struct {
	exists          bool
	resourceVersion string
	owner           string
	checksum        string
	sharers         []contract.ClusterRef
}

func readClaim(ctx context.Context, cs kubernetes.Interface, cluster contract.ClusterRef) (agentClaim, error) {
	ds, err := cs.AppsV1().DaemonSets(contract.AgentNamespace).Get(ctx, contract.AgentDaemonSetName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return agentClaim{}, nil
	}
	if err != nil {
		return agentClaim{}, fmt.Errorf("get agent DaemonSet %s/%s in cluster %s: %w", contract.AgentNamespace, contract.AgentDaemonSetName, cluster.Key(), err)
	}
	return agentClaim{
		exists: true, resourceVersion: ds.ResourceVersion,
		owner:    ds.Annotations[contract.AnnotationAgentOwner],
		checksum: ds.Spec.Template.Annotations[contract.AnnotationAgentChecksum],
		sharers:  contract.ParseAgentSharers(ds.Annotations[contract.AnnotationAgentSharers]),
	}, nil
}

// ownsOrMayTake says whether me may write the agent's settings: the
// DaemonSet is missing, unowned (written before owners were recorded), its
// own, or its owner is gone from the control cluster or no longer wants an
// agent, so nobody else relies on the owner's settings any more.
func (a *AgentActivities) ownsOrMayTake(ctx context.Context, c agentClaim, me contract.ClusterRef) (bool, error) {
	if !c.exists || c.owner == "" || c.owner == me.Key() {
		return true, nil
	}
	owner, ok := contract.ParseClusterKey(c.owner)
	if !ok {
		return true, nil // an owner annotation nobody can follow is nobody's
	}
	live, err := a.wantsAgent(ctx, owner)
	return !live, err
}

// wantsAgent is set for a RemoteCluster of the control cluster with pvcSync on.
func (a *AgentActivities) wantsAgent(ctx context.Context, ref contract.ClusterRef) (bool, error) {
	var rc drv1.RemoteCluster
	err := a.Control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &rc)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get RemoteCluster %s: %w", ref.Key(), err)
	}
	return rc.DeletionTimestamp == nil && rc.Spec.PVCSync != nil && rc.Spec.PVCSync.Enabled, nil
}

// conflict is the error of a RemoteCluster whose settings differ from the
// owner's: nothing is applied, and it says which RemoteCluster to align with.
func conflict(me contract.ClusterRef, c agentClaim) error {
	return activities.NonRetryable(contract.ErrTypeAgentConflict,
		"RemoteCluster %s: the agent DaemonSet %s/%s in this cluster belongs to RemoteCluster %s and runs other settings (checksum %s); nothing was applied. "+
			"Give both the same spec.pvcSync (image, ssh port and key Secret, metrics, deployment), or disable spec.pvcSync on one of them",
		me.Key(), contract.AgentNamespace, contract.AgentDaemonSetName, c.owner, c.checksum)
}

// authorizedForAll is the union of the authorized keys of every
// RemoteCluster using the agent, so a sharer's syncs keep working after the
// owner's next rollout and the owner's after a sharer's.
func (a *AgentActivities) authorizedForAll(ctx context.Context, users []contract.ClusterRef) (*keys.AuthorizedSet, []string, error) {
	all := &keys.AuthorizedSet{}
	for _, u := range users {
		set, _, err := resolve.AuthorizedKeysFor(ctx, a.Control, a.SystemNamespace, u.Namespace, u.Name)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range set.Keys() {
			all = all.With(k.Key, k.Comment)
		}
	}
	var fps []string
	for _, k := range all.Keys() {
		fps = append(fps, k.Fingerprint)
	}
	slices.Sort(fps)
	return all, fps, nil
}

// users are the owner (when not me) and sharers of the agent, then me.
func (c agentClaim) users(me contract.ClusterRef, sharing bool) []contract.ClusterRef {
	var out []contract.ClusterRef
	if owner, ok := contract.ParseClusterKey(c.owner); ok && sharing {
		out = append(out, owner)
	}
	for _, s := range c.sharers {
		if s != me {
			out = append(out, s)
		}
	}
	return append(out, me)
}

// ownerAnnotations are what an owner's apply writes onto the DaemonSet.
func ownerAnnotations(me contract.ClusterRef, version string, sharers []contract.ClusterRef) map[string]string {
	rest := slices.DeleteFunc(slices.Clone(sharers), func(s contract.ClusterRef) bool { return s == me })
	// The sharers annotation is always written, empty for none, so this
	// apply owns it and no stale sharer outlives the owner's decision.
	return map[string]string{contract.AnnotationAgentOwner: me.Key(), contract.AnnotationAgentVersion: version,
		contract.AnnotationAgentSharers: contract.FormatAgentSharers(rest)}
}

// patchClaim merge-patches the DaemonSet's ownership annotations (nil
// removes one), on the resourceVersion the decision was made on: a
// concurrent change fails the patch, and the retry decides again.
func patchClaim(ctx context.Context, cs kubernetes.Interface, c agentClaim, annotations map[string]*string) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": c.resourceVersion, "annotations": annotations,
	}})
	if err != nil {
		return err
	}
	_, err = cs.AppsV1().DaemonSets(contract.AgentNamespace).Patch(ctx, contract.AgentDaemonSetName, types.MergePatchType, body, metav1.PatchOptions{FieldManager: agentShareManager})
	if err != nil {
		return fmt.Errorf("record the agent's owner and sharers on DaemonSet %s/%s: %w", contract.AgentNamespace, contract.AgentDaemonSetName, err)
	}
	return nil
}

// agentShareManager writes only ownership annotations; never the spec, so
// a sharer or a removal cannot take fields from the rollout's manager.
const agentShareManager = "dr-syncer-agent-share"

// leaveAgent takes me out of an agent that other RemoteClusters still use
// and returns the one it is kept for; "" means nobody else uses it, and it
// may be deleted. A live owner other than me keeps it (me stops sharing).
// If me owns it, the first live sharer becomes the owner; the version
// annotation is cleared, so that sharer's controller sees drift and
// re-applies the agent as its own.
func (a *AgentActivities) leaveAgent(ctx context.Context, cs kubernetes.Interface, me contract.ClusterRef) (string, error) {
	c, err := readClaim(ctx, cs, me)
	if err != nil || !c.exists {
		return "", err
	}
	rest := slices.DeleteFunc(slices.Clone(c.sharers), func(s contract.ClusterRef) bool { return s == me })
	remaining := contract.FormatAgentSharers(rest)
	sharers := &remaining
	if remaining == "" {
		sharers = nil
	}
	if c.owner != "" && c.owner != me.Key() {
		mine, err := a.ownsOrMayTake(ctx, c, me)
		if err != nil {
			return "", err
		}
		if !mine {
			if len(rest) != len(c.sharers) {
				err = patchClaim(ctx, cs, c, map[string]*string{contract.AnnotationAgentSharers: sharers})
			}
			return c.owner, err
		}
	}
	for i, s := range rest {
		live, err := a.wantsAgent(ctx, s)
		if err != nil {
			return "", err
		}
		if !live {
			continue
		}
		others := contract.FormatAgentSharers(slices.Delete(slices.Clone(rest), i, i+1))
		next := s.Key()
		patch := map[string]*string{contract.AnnotationAgentOwner: &next, contract.AnnotationAgentVersion: nil, contract.AnnotationAgentSharers: nil}
		if others != "" {
			patch[contract.AnnotationAgentSharers] = &others
		}
		return next, patchClaim(ctx, cs, c, patch)
	}
	return "", nil
}
