package controller

import (
	"context"
	"sync"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// scheduleCache keeps each Replication's last Schedule description, so a
// poll of an open run costs that run's progress query alone (see
// docs/controller-load.md).
type scheduleCache struct {
	mu      sync.Mutex
	entries map[contract.ObjectRef]cachedSchedule
}

type cachedSchedule struct {
	generation int64
	state      *starter.ScheduleState
}

// observeSchedule describes the Replication's Schedule, except on a poll of
// an open run: that reuses the description of an earlier reconcile of the
// same generation. While a run is open the Schedule matters little (a
// sync-now waits for the run, a found scheduled run is already tracked);
// a spec change, a Schedule this controller changed, and the run's end
// all describe it afresh. A Schedule changed behind the controller's back
// is seen when the run ends.
func (r *ReplicationReconciler) observeSchedule(ctx context.Context, repl *drv1.Replication) (*starter.ScheduleState, error) {
	ref := refOf(repl)
	if repl.Status.CurrentRun != nil {
		if s, ok := r.schedules.get(ref, repl.Generation); ok {
			return s, nil
		}
	}
	s, err := r.Temporal.DescribeSchedule(ctx, ref)
	if err != nil {
		return nil, err
	}
	r.schedules.put(ref, repl.Generation, s)
	return s, nil
}

func (c *scheduleCache) get(ref contract.ObjectRef, generation int64) (*starter.ScheduleState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[ref]
	if !ok || e.generation != generation {
		return nil, false
	}
	return e.state, true
}

func (c *scheduleCache) put(ref contract.ObjectRef, generation int64, s *starter.ScheduleState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[contract.ObjectRef]cachedSchedule{}
	}
	c.entries[ref] = cachedSchedule{generation: generation, state: s}
}

// forget drops the description after the controller changed or deleted
// the Schedule, or the Replication went away.
func (c *scheduleCache) forget(ref contract.ObjectRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, ref)
}
