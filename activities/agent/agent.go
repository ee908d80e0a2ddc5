// Package agent holds the activities that install, watch and remove the
// agent in RemoteClusters (AgentActivities, the AgentRollout workflow's steps).
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"go.temporal.io/sdk/activity"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

const agentFieldManager = "dr-syncer-agent-rollout"

// AgentActivities install, watch and remove the agent in RemoteClusters.
type AgentActivities struct {
	Clusters activities.ClusterResolver
	// Control reads the key Secrets and ClusterMappings.
	Control client.Reader
	// SystemNamespace is the namespace besides a ClusterMapping's own that
	// its key Secret may be in; see drv1.ForeignReferenceProblem.
	SystemNamespace string
}

// AgentValues are the agentdeploy values of a rollout; hostKeyFingerprint
// feeds the checksum annotation.
func AgentValues(c contract.AgentConfig, hostKeyFingerprint string) (agentdeploy.Values, error) {
	v := agentdeploy.Values{
		Namespace:           contract.AgentNamespace,
		Image:               c.Image,
		PullPolicy:          string(c.PullPolicy),
		Port:                int(c.Port),
		MetricsPort:         int(c.MetricsPort),
		KubernetesAllowList: true,
	}
	annotations := map[string]string{}
	if d := c.Deployment; d != nil {
		v.HostNetwork = d.HostNetwork
		v.AllowedSourceCIDRs = d.AllowedSourceCIDRs
		v.NodeSelector = d.NodeSelector
		v.PriorityClassName = d.PriorityClassName
		v.Labels = d.Labels
		for k, val := range d.Annotations {
			annotations[k] = val
		}
		if len(d.Tolerations) > 0 {
			if err := roundTrip(d.Tolerations, &v.Tolerations); err != nil {
				return v, fmt.Errorf("agent tolerations: %w", err)
			}
		}
		if d.Resources != nil {
			if err := roundTrip(d.Resources, &v.Resources); err != nil {
				return v, fmt.Errorf("agent resources: %w", err)
			}
		}
	}
	sum, err := contract.AgentChecksum(c, hostKeyFingerprint)
	if err != nil {
		return v, err
	}
	annotations[contract.AnnotationAgentChecksum] = sum
	v.PodAnnotations = annotations
	return v, nil
}

func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// ApplyAgent installs (or updates) the agent: namespace, ServiceAccount,
// RBAC, host-key and authorized-keys Secrets, and the DaemonSet. It is
// idempotent: objects are server-side applied under one field manager.
func (a *AgentActivities) ApplyAgent(ctx context.Context, in contract.AgentRolloutInput) (contract.AgentApplied, error) {
	// A rollout outlives nothing it was started for: one of a RemoteCluster
	// since deleted or turned off must not write the cluster's agent.
	if want, err := a.wantsAgent(ctx, in.Cluster); err != nil {
		return contract.AgentApplied{}, err
	} else if !want {
		return contract.AgentApplied{}, activities.NonRetryable(contract.ErrTypeInputMismatch,
			"ApplyAgent refused: RemoteCluster %s is gone, being deleted or has pvcSync disabled; its agent is not applied", in.Cluster.Key())
	}
	cfg, err := a.Clusters.Config(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return contract.AgentApplied{}, activities.Classify(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return contract.AgentApplied{}, fmt.Errorf("client of cluster %s/%s: %w", in.Cluster.Namespace, in.Cluster.Name, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return contract.AgentApplied{}, fmt.Errorf("dynamic client of cluster %s/%s: %w", in.Cluster.Namespace, in.Cluster.Name, err)
	}
	hostKey, err := a.readHostKey(ctx, in.HostKey)
	if err != nil {
		return contract.AgentApplied{}, err
	}
	hostFP := resolve.PublicKeyFingerprint(hostKey.Data[contract.SecretKeyHostPublic])
	values, err := AgentValues(in.Config, hostFP)
	if err != nil {
		return contract.AgentApplied{}, activities.InvalidSpec("RemoteCluster %s/%s: %v", in.Cluster.Namespace, in.Cluster.Name, err)
	}
	manifests, err := agentdeploy.Render(values)
	if err != nil {
		return contract.AgentApplied{}, activities.InvalidSpec("RemoteCluster %s/%s pvcSync: %v", in.Cluster.Namespace, in.Cluster.Name, err)
	}
	// Who owns the cluster's one agent decides what may be written, so
	// it is decided before anything is.
	claim, err := readClaim(ctx, cs, in.Cluster)
	if err != nil {
		return contract.AgentApplied{}, err
	}
	own, err := a.ownsOrMayTake(ctx, claim, in.Cluster)
	if err != nil {
		return contract.AgentApplied{}, err
	}
	if !own && claim.checksum != values.PodAnnotations[contract.AnnotationAgentChecksum] {
		return contract.AgentApplied{}, conflict(in.Cluster, claim)
	}
	authorized, fps, err := a.authorizedForAll(ctx, claim.users(in.Cluster, !own))
	if err != nil {
		return contract.AgentApplied{}, err
	}
	secrets, err := agentdeploy.RenderSecrets(values, agentdeploy.SecretData{
		HostKeyPEM:     keys.Secret(hostKey.Data[contract.SecretKeyHostPrivate]),
		HostKeyPub:     hostKey.Data[contract.SecretKeyHostPublic],
		AuthorizedKeys: authorized.Marshal(),
	})
	if err != nil {
		return contract.AgentApplied{}, fmt.Errorf("render agent Secrets: %w", err)
	}
	if err := notSuperseded(ctx, in); err != nil {
		return contract.AgentApplied{}, err
	}
	if err := ensureAgentNamespace(ctx, cs, values); err != nil {
		return contract.AgentApplied{}, err
	}
	// Secrets first, so the DaemonSet's pods find them when they start. A
	// sharer writes only them (the same host key, all users' authorized
	// keys): the agent reloads keys without a restart, so nothing re-rolls.
	docs := []keys.Secret{secrets}
	if own {
		docs = append(docs, keys.Secret(manifests))
	}
	for _, doc := range docs {
		objs, err := decodeManifests(doc.Reveal())
		if err != nil {
			return contract.AgentApplied{}, err
		}
		for _, obj := range objs {
			if obj.GetKind() == "DaemonSet" {
				claimDaemonSet(obj, claim, in)
			}
			if err := applyObject(ctx, dyn, obj); err != nil {
				return contract.AgentApplied{}, err
			}
		}
	}
	if err := removeUnwantedNetworkPolicy(ctx, cs, values); err != nil {
		return contract.AgentApplied{}, err
	}
	applied := contract.AgentApplied{
		Namespace: values.Namespace, DaemonSet: contract.AgentDaemonSetName,
		AuthorizedFingerprints: fps, HostKeyFingerprint: hostFP, Owner: in.Cluster.Key(),
	}
	if !own {
		applied.Owner, applied.Shared = claim.owner, true
		if !slices.Contains(claim.sharers, in.Cluster) {
			sharers := contract.FormatAgentSharers(append(slices.Clone(claim.sharers), in.Cluster))
			if err := patchClaim(ctx, cs, claim, map[string]*string{contract.AnnotationAgentSharers: &sharers}); err != nil {
				return contract.AgentApplied{}, err
			}
		}
	}
	return applied, nil
}

// claimDaemonSet marks the rendered DaemonSet as in's, keeping the
// sharers, and makes the apply conditional on the DaemonSet the ownership
// was decided on: if another rollout changed it since, the apply fails
// with a conflict and the retry decides again.
func claimDaemonSet(obj *unstructured.Unstructured, c agentClaim, in contract.AgentRolloutInput) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	maps.Copy(ann, ownerAnnotations(in.Cluster, in.Version, c.sharers))
	obj.SetAnnotations(ann)
	if c.exists {
		obj.SetResourceVersion(c.resourceVersion)
	}
}

func (a *AgentActivities) readHostKey(ctx context.Context, ref contract.SecretRef) (*corev1.Secret, error) {
	var s corev1.Secret
	err := a.Control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
	if apierrors.IsNotFound(err) {
		// The RemoteCluster reconciler creates it before starting a
		// rollout; retrying covers a reader that lags behind.
		return nil, fmt.Errorf("agent host key Secret %s/%s not found yet", ref.Namespace, ref.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("get agent host key Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if len(s.Data[contract.SecretKeyHostPrivate]) == 0 || len(s.Data[contract.SecretKeyHostPublic]) == 0 {
		return nil, activities.InvalidSpec("agent host key Secret %s/%s lacks %s or %s: delete it to have it regenerated",
			ref.Namespace, ref.Name, contract.SecretKeyHostPrivate, contract.SecretKeyHostPublic)
	}
	return &s, nil
}

// ensureAgentNamespace creates the agent namespace, labelled as the
// rollout's, unless it exists: a namespace the rollout did not create keeps
// its labels, so removal never deletes it.
func ensureAgentNamespace(ctx context.Context, cs kubernetes.Interface, v agentdeploy.Values) error {
	return activities.CreateNamespace(ctx, cs, v.Namespace, agentLabels())
}

func agentLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/part-of": "dr-syncer", "app.kubernetes.io/component": "agent"}
}

// decodeManifests splits a YAML stream into objects. Errors never quote the
// document: it may hold key material.
func decodeManifests(doc []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(doc), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode rendered agent manifest #%d: malformed YAML", i)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// agentResources maps the kinds agentdeploy renders to their resources.
var agentResources = map[string]schema.GroupVersionResource{
	"ServiceAccount":     {Version: "v1", Resource: "serviceaccounts"},
	"Secret":             {Version: "v1", Resource: "secrets"},
	"ConfigMap":          {Version: "v1", Resource: "configmaps"},
	"ClusterRole":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"DaemonSet":          {Group: "apps", Version: "v1", Resource: "daemonsets"},
	"NetworkPolicy":      {Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
}

func applyObject(ctx context.Context, dyn dynamic.Interface, obj *unstructured.Unstructured) error {
	gvr, ok := agentResources[obj.GetKind()]
	if !ok {
		return fmt.Errorf("agent manifests: unexpected kind %s", obj.GetKind())
	}
	var ri dynamic.ResourceInterface = dyn.Resource(gvr)
	if ns := obj.GetNamespace(); ns != "" {
		ri = dyn.Resource(gvr).Namespace(ns)
	}
	if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: agentFieldManager, Force: true}); err != nil {
		// Only kind and name: the error could otherwise echo Secret data.
		return fmt.Errorf("apply %s %s/%s: %s", obj.GetKind(), obj.GetNamespace(), obj.GetName(), apierrors.ReasonForError(err))
	}
	return nil
}

// agentPoll is how often WaitAgentReady reads the DaemonSet.
const agentPoll = 2 * time.Second

// WaitAgentReady waits until the DaemonSet runs an up-to-date, ready agent
// on every node it targets, heartbeating ready/total nodes meanwhile so the
// controller can show them.
func (a *AgentActivities) WaitAgentReady(ctx context.Context, in contract.AgentRef) (contract.AgentReadiness, error) {
	cs, err := a.Clusters.Clientset(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return contract.AgentReadiness{}, activities.Classify(err)
	}
	t := time.NewTicker(agentPoll)
	defer t.Stop()
	for {
		ds, err := cs.AppsV1().DaemonSets(in.Namespace).Get(ctx, in.DaemonSet, metav1.GetOptions{})
		if err != nil {
			return contract.AgentReadiness{}, fmt.Errorf("get DaemonSet %s/%s: %w", in.Namespace, in.DaemonSet, err)
		}
		st := ds.Status
		r := contract.AgentReadiness{ReadyNodes: st.NumberReady, TotalNodes: st.DesiredNumberScheduled}
		activity.RecordHeartbeat(ctx, r)
		if st.ObservedGeneration >= ds.Generation && st.UpdatedNumberScheduled == st.DesiredNumberScheduled &&
			st.NumberReady == st.DesiredNumberScheduled {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-t.C:
		}
	}
}

// RemoveAgent deletes what rollouts installed in the cluster, by label, and
// nothing else (the namespace stays, see below), unless another
// RemoteCluster still uses the agent (see leaveAgent). It is idempotent.
func (a *AgentActivities) RemoveAgent(ctx context.Context, in contract.ClusterRef) (contract.AgentRemoved, error) {
	cs, err := a.Clusters.Clientset(ctx, in.Namespace, in.Name)
	if err != nil {
		return contract.AgentRemoved{}, activities.Classify(err)
	}
	// The agent may serve other RemoteClusters of this cluster: then it
	// stays, and only in's part in it goes.
	if keptFor, err := a.leaveAgent(ctx, cs, in); err != nil || keptFor != "" {
		return contract.AgentRemoved{KeptFor: keptFor}, err
	}
	list := metav1.ListOptions{LabelSelector: contract.AgentSelector}
	del := metav1.DeleteOptions{}
	var n int
	count := func(what string, items int, err error) error {
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete agent %s in cluster %s/%s: %w", what, in.Namespace, in.Name, err)
		}
		n += items
		return nil
	}
	dss, err := cs.AppsV1().DaemonSets(contract.AgentNamespace).List(ctx, list)
	if err != nil {
		return contract.AgentRemoved{}, fmt.Errorf("list agent DaemonSets in cluster %s/%s: %w", in.Namespace, in.Name, err)
	}
	steps := []struct {
		what  string
		items int
		run   func() error
	}{
		{"DaemonSets", len(dss.Items), func() error { return cs.AppsV1().DaemonSets(contract.AgentNamespace).DeleteCollection(ctx, del, list) }},
		{"Secrets", 0, func() error { return cs.CoreV1().Secrets(contract.AgentNamespace).DeleteCollection(ctx, del, list) }},
		{"ConfigMaps", 0, func() error { return cs.CoreV1().ConfigMaps(contract.AgentNamespace).DeleteCollection(ctx, del, list) }},
		{"ServiceAccounts", 0, func() error {
			return cs.CoreV1().ServiceAccounts(contract.AgentNamespace).DeleteCollection(ctx, del, list)
		}},
		{"NetworkPolicies", 0, func() error {
			return cs.NetworkingV1().NetworkPolicies(contract.AgentNamespace).DeleteCollection(ctx, del, list)
		}},
		{"ClusterRoleBindings", 0, func() error { return cs.RbacV1().ClusterRoleBindings().DeleteCollection(ctx, del, list) }},
		{"ClusterRoles", 0, func() error { return cs.RbacV1().ClusterRoles().DeleteCollection(ctx, del, list) }},
	}
	for _, s := range steps {
		if err := count(s.what, s.items, s.run()); err != nil {
			return contract.AgentRemoved{}, err
		}
	}
	// The namespace stays: deleting it would take along whatever else
	// was put there since, and an empty namespace costs nothing.
	return contract.AgentRemoved{Deleted: n}, nil
}
