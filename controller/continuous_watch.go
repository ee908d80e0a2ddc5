package controller

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// watchedKinds are the source kinds whose changes start a continuous sync
// early; anything else is caught by the background interval.
var watchedKinds = []schema.GroupVersionResource{
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Version: "v1", Resource: "daemonsets"},
}

// signalEvery bounds how often one replication is signalled, so a rollout
// that touches many objects costs a few history events, not hundreds.
const signalEvery = time.Second

// SourceWatches keeps one watch per Continuous Replication on its source
// namespace and signals the replication's workflow when something changes.
type SourceWatches struct {
	// Signal tells a continuous replication what changed.
	Signal func(ctx context.Context, ref contract.ObjectRef, what string) error
	// Changed, if set, hears of each change after it was signalled, so the
	// controller looks for the sync it starts rather than waiting for the
	// background interval's; set before the first Ensure.
	Changed func(ref contract.ObjectRef)
	Log     logr.Logger

	mu     sync.Mutex
	active map[types.NamespacedName]*sourceWatch
}

type sourceWatch struct {
	key    string
	cancel context.CancelFunc
}

// Ensure watches namespace in the cluster of config for the replication;
// key identifies the cluster and namespace, and a new key restarts the watch.
func (w *SourceWatches) Ensure(ref contract.ObjectRef, config *rest.Config, namespace, key string) error {
	name := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	w.mu.Lock()
	defer w.mu.Unlock()
	if current, ok := w.active[name]; ok {
		if current.key == key {
			return nil
		}
		current.cancel()
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if w.active == nil {
		w.active = map[types.NamespacedName]*sourceWatch{}
	}
	w.active[name] = &sourceWatch{key: key, cancel: cancel}
	go w.run(ctx, ref, client, namespace)
	return nil
}

// Stop ends the replication's watch, if any.
func (w *SourceWatches) Stop(ref contract.ObjectRef) {
	name := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	w.mu.Lock()
	defer w.mu.Unlock()
	if current, ok := w.active[name]; ok {
		current.cancel()
		delete(w.active, name)
	}
}

func (w *SourceWatches) run(ctx context.Context, ref contract.ObjectRef, client dynamic.Interface, namespace string) {
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, namespace, nil)
	var (
		mu      sync.Mutex
		changed string
	)
	// note records the event's object if it is a change a sync must copy;
	// old is nil for a creation or a deletion.
	note := func(old *unstructured.Unstructured, obj any) {
		if u, ok := obj.(*unstructured.Unstructured); ok && sourceChange(old, u) {
			mu.Lock()
			changed = u.GetKind() + "/" + u.GetName()
			mu.Unlock()
		}
	}
	handler := cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initialList bool) {
			if !initialList {
				note(nil, obj)
			}
		},
		UpdateFunc: func(old, obj any) {
			o, _ := old.(*unstructured.Unstructured)
			note(o, obj)
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			note(nil, obj)
		},
	}
	for _, gvr := range watchedKinds {
		if _, err := factory.ForResource(gvr).Informer().AddEventHandler(handler); err != nil {
			w.Log.Error(err, "watch source kind", "replication", ref.String(), "resource", gvr.Resource)
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	ticker := time.NewTicker(signalEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			mu.Lock()
			what := changed
			changed = ""
			mu.Unlock()
			if what == "" {
				continue
			}
			if err := w.Signal(ctx, ref, what); err != nil {
				w.Log.Error(err, "signal a source change", "replication", ref.String(), "change", what)
			} else if w.Changed != nil {
				w.Changed(ref)
			}
		}
	}
}

// sourceChange says whether an event in the source namespace is a change a
// continuous sync has to copy; old is nil for a creation or a deletion, and
// those of a user's object always are. dr-syncer's own objects (a sync's
// credential Secrets and mount pods) never are: every sync creates and
// deletes them, so counting them would make each sync start the next. An
// update is a change only when it changes what a sync copies: a rollout's or
// a claim's status, and what the API server maintains (resourceVersion,
// managedFields, generation), move long after the user's edit, and a relist
// repeats objects unchanged.
func sourceChange(old, obj *unstructured.Unstructured) bool {
	if ownObject(obj) {
		return false
	}
	return old == nil || !equality.Semantic.DeepEqual(copied(old), copied(obj))
}

// ownObject says whether obj is one a sync created: it carries the
// operation label together with dr-syncer's managed-by (a DR copy carries
// managed-by alone, and a user's object neither).
func ownObject(obj *unstructured.Unstructured) bool {
	labels := obj.GetLabels()
	_, op := labels[kube.LabelOperation]
	return op && labels[kube.LabelManagedBy] == kube.ManagedBy
}

// copied is what of obj a sync acts on: everything but status and metadata,
// and of metadata the labels, annotations and deletion (a sync skips an
// object being deleted). Semantic equality takes nil and empty as equal.
func copied(obj *unstructured.Unstructured) map[string]any {
	out := make(map[string]any, len(obj.Object))
	for key, v := range obj.Object {
		if key != "metadata" && key != "status" {
			out[key] = v
		}
	}
	out["metadata"] = map[string]any{
		"labels":            obj.GetLabels(),
		"annotations":       obj.GetAnnotations(),
		"deletionTimestamp": obj.GetDeletionTimestamp(),
	}
	return out
}
