package activities

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// podEvents are the events of the pods this worker waits on, each list
// kept for one check interval (podTickEvery). The syncs of a batch all wait
// on its one sync pod, and each listed that pod's events on every check:
// the API server keeps no watch cache of events, so every list read and
// decoded all the namespace's events from etcd. In a run of 200 PVCs at
// 20, these lists (about 13 a second) were the DR API server's largest
// load by far. Events only explain a wait, so one a check late does no
// harm.
var podEvents = &eventCache{entries: map[string]listedEvents{}}

// eventListTimeout bounds a shared list, which no one waiter's context
// may cancel for the others.
const eventListTimeout = 30 * time.Second

type listedEvents struct {
	at    time.Time // when the list was asked for
	items []corev1.Event
}

type eventCache struct {
	mu      sync.Mutex
	entries map[string]listedEvents // by pod UID, unique across clusters
	lists   singleflight.Group      // one list at a time per pod
}

// of returns the events about pod, listed at most podTickEvery ago. A
// failed list is not kept: the next check lists again.
func (c *eventCache) of(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) ([]corev1.Event, error) {
	uid := string(pod.UID)
	if uid == "" { // not from an API server: nothing to share it under
		return listPodEvents(ctx, cs, pod)
	}
	if e, ok := c.fresh(uid); ok {
		return e.items, nil
	}
	result := c.lists.DoChan(uid, func() (any, error) {
		if e, ok := c.fresh(uid); ok { // listed while this call waited
			return e, nil
		}
		asked := time.Now()
		listCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventListTimeout)
		defer cancel()
		items, err := listPodEvents(listCtx, cs, pod)
		if err != nil {
			return nil, err
		}
		listed := listedEvents{at: asked, items: items}
		c.mu.Lock()
		defer c.mu.Unlock()
		for old, o := range c.entries { // pods waited on a minute ago are done
			if time.Since(o.at) > time.Minute {
				delete(c.entries, old)
			}
		}
		c.entries[uid] = listed
		return listed, nil
	})
	select {
	case r := <-result:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(listedEvents).items, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fresh is pod uid's events if listed less than podTickEvery ago.
func (c *eventCache) fresh(uid string) (listedEvents, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[uid]
	return e, ok && time.Since(e.at) < podTickEvery
}

func listPodEvents(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) ([]corev1.Event, error) {
	events, err := cs.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.uid", string(pod.UID)).String(),
	})
	if err != nil {
		return nil, err
	}
	return events.Items, nil
}
