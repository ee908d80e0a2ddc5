package controller

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/dr-syncer/dr-syncer/activities"
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
	Signal func(ctx context.Context, ref activities.ObjectRef, what string) error
	Log    logr.Logger

	mu     sync.Mutex
	active map[types.NamespacedName]*sourceWatch
}

type sourceWatch struct {
	key    string
	cancel context.CancelFunc
}

// Ensure watches namespace in the cluster of config for the replication;
// key identifies the cluster and namespace, and a new key restarts the watch.
func (w *SourceWatches) Ensure(ref activities.ObjectRef, config *rest.Config, namespace, key string) error {
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
func (w *SourceWatches) Stop(ref activities.ObjectRef) {
	name := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	w.mu.Lock()
	defer w.mu.Unlock()
	if current, ok := w.active[name]; ok {
		current.cancel()
		delete(w.active, name)
	}
}

func (w *SourceWatches) run(ctx context.Context, ref activities.ObjectRef, client dynamic.Interface, namespace string) {
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, namespace, nil)
	var (
		mu      sync.Mutex
		changed string
	)
	note := func(obj any) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			mu.Lock()
			changed = u.GetKind() + "/" + u.GetName()
			mu.Unlock()
		}
	}
	handler := cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initialList bool) {
			if !initialList {
				note(obj)
			}
		},
		UpdateFunc: func(old, obj any) {
			o, n := old.(*unstructured.Unstructured), obj.(*unstructured.Unstructured)
			if o.GetResourceVersion() != n.GetResourceVersion() {
				note(obj)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			note(obj)
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
			}
		}
	}
}
