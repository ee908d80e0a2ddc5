package objects

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// SelectKinds resolves the plan's resourceTypes and namespaceScopedResources
// into kinds; custom types are looked up in the source cluster's discovery,
// after the plan is checked against its Replication. Without custom types it
// reads nothing, and what it returns is only a list of kinds: ReplicateKind
// checks each against the Replication.
func (a *ResourceActivities) SelectKinds(ctx context.Context, plan contract.ReplicationPlan) (contract.KindSelection, error) {
	sel := resources.Select(plan.Spec.ResourceTypes, plan.Spec.NamespaceScopedResources)
	out := contract.KindSelection{Unknown: sel.Unknown}
	var kinds []resources.Kind
	var disc discovery.DiscoveryInterface
	for _, k := range sel.Kinds {
		if !k.Custom() {
			kinds = append(kinds, k)
			continue
		}
		if disc == nil {
			// Only discovery is read, but with the kubeconfig of the
			// RemoteCluster the plan names: a forged plan must not borrow
			// another tenant's (authorize.go).
			if err := a.check(ctx, "SelectKinds", plan, nil); err != nil {
				return contract.KindSelection{}, err
			}
			cs, err := a.Clusters.Clientset(ctx, plan.Source.Namespace, plan.Source.Name)
			if err != nil {
				return contract.KindSelection{}, activities.Classify(err)
			}
			disc = cs.Discovery()
		}
		found, err := discoverKind(disc, k)
		if err != nil {
			return contract.KindSelection{}, fmt.Errorf("discover %s in source cluster %s: %w", k, plan.Source.Name, err)
		}
		if found == nil {
			out.Unknown = append(out.Unknown, k.String())
			continue
		}
		kinds = append(kinds, *found)
	}
	out.Stages = resources.Stages(kinds)
	return out, nil
}

// discoverKind finds the preferred version and kind of a namespaced custom type;
// nil when the source does not serve it.
func discoverKind(disc discovery.DiscoveryInterface, k resources.Kind) (*resources.Kind, error) {
	groups, err := disc.ServerGroups()
	if err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		if g.Name != k.Group {
			continue
		}
		list, err := disc.ServerResourcesForGroupVersion(g.PreferredVersion.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if r.Name == k.Resource && r.Namespaced {
				k.Version = g.PreferredVersion.Version
				k.Kind = r.Kind
				return &k, nil
			}
		}
	}
	return nil, nil
}

// listObjects reads every object of a kind in a namespace, page by page.
func listObjects(ctx context.Context, c dynamic.Interface, k resources.Kind, namespace string) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: resourceListPage}
	for {
		page, err := c.Resource(k.GVR()).Namespace(namespace).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, obj := range page.Items {
			if obj.GetKind() == "" {
				obj.SetAPIVersion(schema.GroupVersion{Group: k.Group, Version: k.Version}.String())
				obj.SetKind(k.Kind)
			}
			out = append(out, obj)
		}
		if page.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = page.GetContinue()
	}
}
