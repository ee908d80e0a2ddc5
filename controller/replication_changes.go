package controller

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// syncAfterChange is when, after the watch signalled a source change, the
// Continuous Replication is reconciled: its workflow starts the sync once
// the namespace has been quiet for 3 s (workflows' changeQuiet), and the
// watch signals at most once a second. The reconcile then finds the run and
// follows it, so its progress, Events and result reach the status at once
// rather than at the next background sync.
const syncAfterChange = 6 * time.Second

// changeSource turns the source watches' signals into delayed reconciles of
// the Replication they were for.
func (r *ReplicationReconciler) changeSource() source.Source {
	changes := make(chan event.GenericEvent, 64)
	r.Watches.Changed = func(ref contract.ObjectRef) {
		repl := &drv1.Replication{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}}
		select {
		case changes <- event.GenericEvent{Object: repl}:
		default: // a reconcile is already on its way; the next change will ask again
		}
	}
	return source.Channel(changes, handler.Funcs{
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: e.Object.GetNamespace(), Name: e.Object.GetName()}}, syncAfterChange)
		},
	})
}
