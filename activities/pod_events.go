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

type listedEvents struct {
	at    time.Time
	items []corev1.Event
	err   error
}

type eventCache struct {
	mu      sync.Mutex
	entries map[string]listedEvents // by pod UID, unique across clusters
	lists   singleflight.Group      // one list at a time per pod
}

// of returns the events about pod, listed at most podTickEvery ago.
func (c *eventCache) of(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) ([]corev1.Event, error) {
	uid := string(pod.UID)
	if e, ok := c.fresh(uid); ok {
		return e.items, e.err
	}
	v, _, _ := c.lists.Do(uid, func() (any, error) {
		if e, ok := c.fresh(uid); ok { // listed while this call waited
			return e, nil
		}
		events, err := cs.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.uid", uid).String(),
		})
		listed := listedEvents{at: time.Now(), err: err}
		if err == nil {
			listed.items = events.Items
		}
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
	listed := v.(listedEvents)
	return listed.items, listed.err
}

// fresh is pod uid's events if listed less than podTickEvery ago.
func (c *eventCache) fresh(uid string) (listedEvents, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[uid]
	return e, ok && time.Since(e.at) < podTickEvery
}
