package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// countingSchedules answers DescribeSchedule with a new state each time and
// counts the calls; any other Temporal call would panic.
type countingSchedules struct {
	ReplicationTemporal
	describes int
}

func (c *countingSchedules) DescribeSchedule(context.Context, contract.ObjectRef) (*starter.ScheduleState, error) {
	c.describes++
	return &starter.ScheduleState{ID: "replication/ops/shop", Note: string(rune('0' + c.describes))}, nil
}

// Polls of an open run reuse the Schedule's description, so such a poll is
// one Temporal call (the run's query); a spec change, a Schedule the
// controller changed, and the run's end describe it again.
func TestPollsOfAnOpenRunReuseTheScheduleDescription(t *testing.T) {
	fake := &countingSchedules{}
	r := &ReplicationReconciler{Temporal: fake}
	ctx := context.Background()
	idle := replication(drv1.ModeScheduled)
	running := replication(drv1.ModeScheduled, func(r *drv1.Replication) {
		r.Status.CurrentRun = &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/scheduled-1", RunID: "run-1"}
	})

	first, err := r.observeSchedule(ctx, idle)
	require.NoError(t, err)
	for range 5 {
		s, err := r.observeSchedule(ctx, running)
		require.NoError(t, err)
		assert.Same(t, first, s)
	}
	assert.Equal(t, 1, fake.describes, "five polls of the open run described nothing")

	_, err = r.observeSchedule(ctx, idle)
	require.NoError(t, err)
	assert.Equal(t, 2, fake.describes, "without an open run, every reconcile describes")

	changed := running.DeepCopy()
	changed.Generation++
	_, err = r.observeSchedule(ctx, changed)
	require.NoError(t, err)
	assert.Equal(t, 3, fake.describes, "a spec change describes again, even mid-run")

	r.schedules.forget(refOf(changed))
	_, err = r.observeSchedule(ctx, changed)
	require.NoError(t, err)
	assert.Equal(t, 4, fake.describes, "after the controller changed the Schedule, it describes again")
}
