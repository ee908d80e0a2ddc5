// Package objects holds the activities that replicate a source namespace's
// Kubernetes objects into DR (ResourceActivities); internal/resources
// decides what each object becomes.
package objects

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// Client limits of resource replication. client-go's default (5 QPS) would
// make the first sync of a namespace with a thousand objects take minutes;
// these stay well inside what an API server serves one client.
const (
	resourceClientQPS   = 100
	resourceClientBurst = 200
	// resourceWriters bounds the objects of one kind written at once.
	resourceWriters = 8
	// resourceListPage pages big namespaces instead of one huge response.
	resourceListPage = 500
	// resourceFieldManager owns the fields dr-syncer applies (server-side apply).
	resourceFieldManager = "dr-syncer"
)

// ResourceActivities replicate a source namespace's objects into DR.
type ResourceActivities struct {
	Clusters activities.ClusterResolver

	// dynamicClients caches a dynamic client per cluster config, so the many short
	// activities of a run reuse connections instead of each paying for new
	// TLS handshakes. A rotated kubeconfig is a new key.
	dynamicClients sync.Map // clientKey -> dynamic.Interface
}

type clientKey struct {
	cluster                              contract.ClusterRef
	host, ca, cert, key, token, username string
}

// SelectKinds resolves the plan's resourceTypes and namespaceScopedResources
// into kinds; custom types are looked up in the source cluster's discovery.
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

var namespacesResource = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// EnsureNamespace makes the DR namespace exist: created (with the source's
// labels and annotations as namespaceConfig says) when createNamespace is
// set, brought up to date when dr-syncer created it, and left alone when a
// user did. Idempotent.
func (a *ResourceActivities) EnsureNamespace(ctx context.Context, plan contract.ReplicationPlan) (contract.NamespaceResult, error) {
	src, dst, err := a.clients(ctx, plan)
	if err != nil {
		return contract.NamespaceResult{}, err
	}
	result := contract.NamespaceResult{Name: plan.DestinationNamespace}
	source, err := src.Resource(namespacesResource).Get(ctx, plan.SourceNamespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return result, activities.InvalidSpec("source namespace %s does not exist in cluster %s", plan.SourceNamespace, plan.Source.Name)
	}
	if err != nil {
		return result, fmt.Errorf("get source namespace %s: %w", plan.SourceNamespace, err)
	}
	result.SourceTerminating = source.GetDeletionTimestamp() != nil
	nc := plan.Spec.NamespaceConfig
	create := nc.CreateNamespace
	no := resources.NamespaceOptions{PreserveLabels: nc.PreserveLabels, PreserveAnnotations: nc.PreserveAnnotations}
	desired := resources.TransformNamespace(source, planOptions(plan), no)

	existing, err := dst.Resource(namespacesResource).Get(ctx, plan.DestinationNamespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if !create {
			return result, activities.InvalidSpec("DR namespace %s does not exist and namespaceConfig.createNamespace is false; create it or set createNamespace", plan.DestinationNamespace)
		}
		if _, err := dst.Resource(namespacesResource).Apply(ctx, desired.GetName(), desired, resourceApply); err != nil {
			return result, fmt.Errorf("create DR namespace %s: %w", desired.GetName(), err)
		}
		result.Created = true
		return result, nil
	case err != nil:
		return result, fmt.Errorf("get DR namespace %s: %w", plan.DestinationNamespace, err)
	case existing.GetDeletionTimestamp() != nil:
		return result, fmt.Errorf("DR namespace %s is being deleted; waiting for it to go", plan.DestinationNamespace)
	}
	d := resources.Decide(resources.Kind{Kind: "Namespace"}, desired, existing, planOptions(plan).Replication, "")
	if d.Action != resources.ActionUpdate {
		return result, nil // unchanged, or a namespace a user made
	}
	if _, err := dst.Resource(namespacesResource).Apply(ctx, desired.GetName(), d.Object, resourceApply); err != nil {
		return result, fmt.Errorf("update DR namespace %s: %w", desired.GetName(), err)
	}
	result.Updated = true
	return result, nil
}

var resourceApply = metav1.ApplyOptions{FieldManager: resourceFieldManager, Force: true}

// planOptions are the transform options of a plan.
func planOptions(plan contract.ReplicationPlan) resources.Options {
	s := plan.Spec
	o := resources.Options{
		SourceCluster:        plan.Source.Name,
		SourceNamespace:      plan.SourceNamespace,
		DestinationNamespace: plan.DestinationNamespace,
		Replication:          plan.Replication.String(),
		ScaleToZero:          s.ScaleToZero,
		Ingress: resources.IngressOptions{PreserveAnnotations: s.IngressConfig.PreserveAnnotations,
			PreserveTLS: s.IngressConfig.PreserveTLS, PreserveBackends: s.IngressConfig.PreserveBackends},
	}
	o.PVC.PreserveVolumeAttributes = s.PVCConfig.PreserveVolumeAttributes
	o.PVC.SyncPersistentVolumes = s.PVCConfig.SyncPersistentVolumes
	o.PVC.StorageClasses = mappings(s.PVCConfig.StorageClassMappings)
	o.PVC.AccessModes = mappings(s.PVCConfig.AccessModeMappings)
	return o
}

// mappings is a from → to map; nil when there are none.
func mappings(ms []contract.Mapping) map[string]string {
	var out map[string]string
	for _, m := range ms {
		if out == nil {
			out = map[string]string{}
		}
		out[m.From] = m.To
	}
	return out
}

// handling is the immutable-field handling of kind k under plan.
func handling(plan contract.ReplicationPlan, k resources.Kind) drv1.ImmutableHandling {
	irc := plan.Spec.ImmutableResourceConfig
	return resources.HandlingFor(k, irc.DefaultHandling, irc.ResourceOverrides)
}

func (a *ResourceActivities) clients(ctx context.Context, plan contract.ReplicationPlan) (src, dst dynamic.Interface, err error) {
	src, err = a.dynamicClient(ctx, plan.Source)
	if err != nil {
		return nil, nil, err
	}
	dst, err = a.dynamicClient(ctx, plan.Destination)
	return src, dst, err
}

func (a *ResourceActivities) dynamicClient(ctx context.Context, ref contract.ClusterRef) (dynamic.Interface, error) {
	cfg, err := a.Clusters.Config(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return nil, activities.Classify(err)
	}
	key := clientKey{cluster: ref, host: cfg.Host, ca: string(cfg.CAData), cert: string(cfg.CertData),
		key: string(cfg.KeyData), token: cfg.BearerToken, username: cfg.Username}
	if c, ok := a.dynamicClients.Load(key); ok {
		return c.(dynamic.Interface), nil
	}
	cfg.QPS, cfg.Burst = resourceClientQPS, resourceClientBurst
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client of cluster %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	actual, _ := a.dynamicClients.LoadOrStore(key, c)
	return actual.(dynamic.Interface), nil
}

// ReplicateKind brings one kind of the DR namespace in line with the source:
// it lists the kind once on each side and creates and updates what differs.
// It deletes nothing: the DR objects of this replication whose source is
// gone are returned in Prune, and DR volumes are kept (StateSourceDeleted).
// Idempotent: a retry redoes only what is still different.
//
// Objects DR rejects are reported, not returned as an error; when some
// failed for reasons a retry may fix, it returns a retryable
// ErrTypeObjectsFailed error whose details are the KindResult.
func (a *ResourceActivities) ReplicateKind(ctx context.Context, in contract.ReplicateKindInput) (contract.KindResult, error) {
	plan, k := in.Plan, in.Kind
	result := contract.KindResult{Kind: k.String()}
	src, dst, err := a.clients(ctx, plan)
	if err != nil {
		return result, err
	}
	sources, err := listObjects(ctx, src, k, plan.SourceNamespace)
	if apierrors.IsNotFound(err) {
		result.Objects = []contract.ObjectStatus{kindNotFound(k, "source")}
		return result, nil
	}
	if err != nil {
		// Without the source list nothing is pruned: a failed read must never delete DR data.
		return result, fmt.Errorf("list %s in source namespace %s: %w", k.Resource, plan.SourceNamespace, err)
	}
	existing, err := listObjects(ctx, dst, k, plan.DestinationNamespace)
	if apierrors.IsNotFound(err) {
		result.Objects = []contract.ObjectStatus{kindNotFound(k, "DR")}
		return result, nil
	}
	if err != nil {
		return result, fmt.Errorf("list %s in DR namespace %s: %w", k.Resource, plan.DestinationNamespace, err)
	}

	r := &kindRun{plan: plan, kind: k, dst: dst.Resource(k.GVR()).Namespace(plan.DestinationNamespace),
		cluster: dst, opts: planOptions(plan), handling: handling(plan, k)}
	if k.Kind == "PersistentVolumeClaim" && r.opts.PVC.SyncPersistentVolumes {
		volumes, err := a.replicateVolumes(ctx, src, dst, plan, sources, &r.opts)
		result.Objects = append(result.Objects, volumes.Objects...)
		result.Writes += volumes.Writes
		if err != nil {
			return result, err
		}
	}
	r.run(ctx, sources, existing, &result)
	return result, transientFailures(result)
}

func kindNotFound(k resources.Kind, cluster string) contract.ObjectStatus {
	return contract.ObjectStatus{Kind: k.String(), State: contract.StateFailed, Category: contract.CategoryNotFound,
		Error: fmt.Sprintf("the %s cluster does not serve %s", cluster, k.GVR())}
}

// transientFailures returns a retryable error carrying result when some
// object failed for a reason a retry may fix.
func transientFailures(result contract.KindResult) error {
	var failed []string
	for _, o := range result.Objects {
		if o.State == contract.StateFailed && (o.Category == contract.CategoryNetwork || o.Category == contract.CategoryConflict) && o.Action != string(resources.ActionConflict) {
			failed = append(failed, o.Name+": "+o.Error)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d %s failed: %s", len(failed), result.Kind, strings.Join(failed, "; "))
	return temporal.NewApplicationErrorWithOptions(msg, contract.ErrTypeObjectsFailed, temporal.ApplicationErrorOptions{Details: []any{result}})
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

// kindRun replicates one kind.
type kindRun struct {
	plan     contract.ReplicationPlan
	kind     resources.Kind
	cluster  dynamic.Interface
	dst      dynamic.ResourceInterface
	opts     resources.Options
	handling drv1.ImmutableHandling
}

// resourceItem is one DR object to decide on: from a source object, or a
// DR volume whose source is gone.
type resourceItem struct {
	name     string
	desired  resources.Desired
	existing *unstructured.Unstructured
	orphan   bool
}

func (r *kindRun) run(ctx context.Context, sources, existing []unstructured.Unstructured, result *contract.KindResult) {
	have := map[string]*unstructured.Unstructured{}
	for i := range existing {
		have[existing[i].GetName()] = &existing[i]
		if resources.Owned(&existing[i], r.opts.Replication) {
			result.Owned++
		}
	}
	var items []resourceItem
	inSource := map[string]bool{}
	for i := range sources {
		name := sources[i].GetName()
		inSource[name] = true
		items = append(items, resourceItem{name: name, desired: resources.Transform(r.kind, &sources[i], r.opts), existing: have[name]})
	}
	for _, e := range existing {
		switch {
		case inSource[e.GetName()] || !resources.Owned(&e, r.opts.Replication):
		case resources.IsVolume(r.kind):
			items = append(items, resourceItem{name: e.GetName(), existing: have[e.GetName()], orphan: true})
		default:
			result.Prune = append(result.Prune, e.GetName())
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].name < items[j].name })
	sort.Strings(result.Prune)

	statuses := make([]contract.ObjectStatus, len(items))
	scales := make([]*contract.WorkloadScale, len(items))
	var writes, done atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < resourceWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var wrote bool
				statuses[i], scales[i], wrote = r.one(ctx, items[i])
				if wrote {
					writes.Add(1)
				}
				activity.RecordHeartbeat(ctx, contract.ReplicateKindProgress{Kind: r.kind.String(), Done: done.Add(1), Total: len(items)})
			}
		}()
	}
	for i := range items {
		work <- i
	}
	close(work)
	wg.Wait()

	for i, s := range statuses {
		// Skipped system objects (kube-root-ca.crt and friends) are in every
		// namespace; listing them in status would only be noise.
		if s.State == contract.StateSkipped && items[i].desired.Skip != "" && !userSkip(items[i].desired.Skip) {
			continue
		}
		result.Objects = append(result.Objects, s)
		if scales[i] != nil {
			result.Scales = append(result.Scales, *scales[i])
		}
	}
	result.Writes += int(writes.Load())
}

// userSkip tells skips a user asked for (the ignore label) from the
// objects every cluster makes for itself.
func userSkip(reason string) bool { return strings.HasPrefix(reason, "labelled ") }

// one decides on and writes one object; wrote reports a write to DR.
func (r *kindRun) one(ctx context.Context, it resourceItem) (status contract.ObjectStatus, scale *contract.WorkloadScale, wrote bool) {
	status = contract.ObjectStatus{Kind: r.kind.String(), Name: it.name}
	if it.orphan {
		return r.keepVolume(ctx, it.existing, status)
	}
	if it.desired.Object == nil {
		status.State, status.Error = contract.StateSkipped, it.desired.Skip
		if it.existing != nil && userSkip(it.desired.Skip) &&
			(resources.Owned(it.existing, r.opts.Replication) || resources.Released(it.existing, r.opts.Replication)) {
			return r.release(ctx, it.existing, status)
		}
		return status, nil, false
	}
	d := resources.Decide(r.kind, it.desired.Object, it.existing, r.opts.Replication, r.handling)
	status.Action = string(d.Action)
	if s := it.desired.Scale; s != nil {
		scale = &contract.WorkloadScale{Kind: r.kind.Kind, Name: it.name, OriginalReplicas: s.Original, DRReplicas: s.DR}
	}
	switch d.Action {
	case resources.ActionConflict:
		status.State, status.Error, status.Category = contract.StateFailed, d.Reason, contract.CategoryConflict
		return status, nil, false
	case resources.ActionKeep:
		status.State, status.Error = contract.StateSkipped, d.Reason
		return status, nil, false
	}
	patched, err := r.dropStaleMarks(ctx, it.existing, it.desired.Object)
	if err != nil {
		return failedStatus(status, err), nil, patched
	}
	if d.Action == resources.ActionNone {
		status.State = contract.StateSynced
		return status, scale, patched
	}
	detail, err := r.write(ctx, d, it.existing)
	status.Detail = detail
	if err != nil {
		return failedStatus(status, err), nil, true
	}
	if len(d.Immutable) > 0 && status.Detail == "" {
		status.Detail = "immutable fields changed: " + strings.Join(d.Immutable, ", ")
	}
	status.State = contract.StateSynced
	return status, scale, true
}

func failedStatus(s contract.ObjectStatus, err error) contract.ObjectStatus {
	s.State, s.Error = contract.StateFailed, err.Error()
	s.Category, _ = categorizeAPIError(err)
	return s
}
