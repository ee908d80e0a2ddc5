package controller

import (
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/starter"
)

// The figures the metrics collector exports for a Replication, as pure
// functions of its cached object (metrics_collector.go serves them).

// knownPhases are the phases the phase metric always shows, 0 or 1, so a
// query sees a Replication leave a phase as well as enter it.
var knownPhases = []drv1.ReplicationPhase{drv1.PhasePending, drv1.PhaseRunning, drv1.PhaseCompleted, drv1.PhaseFailed, drv1.PhaseFailedOver}

// phaseOneHot is 1 for the Replication's phase and 0 for every other known
// one; a phase the list does not know yet is shown too. A Replication the
// controller has not written a status for is Pending.
func phaseOneHot(phase drv1.ReplicationPhase) map[drv1.ReplicationPhase]float64 {
	if phase == "" {
		phase = drv1.PhasePending
	}
	out := map[drv1.ReplicationPhase]float64{phase: 1}
	for _, p := range knownPhases {
		if p != phase {
			out[p] = 0
		}
	}
	return out
}

// goodCopyTime is the instant of the source the DR copy is known to hold:
// the start of the last successful sync, or later where point-in-time
// copies say so: each PVC's newest restore point records its source
// snapshot's time, and the Replication holds the oldest of those. A PVC
// whose newest point is older than that sync was not in it (removed from
// the Replication, or no longer snapshotted) and does not count. ok is
// false when no sync ever succeeded.
func goodCopyTime(st *drv1.ReplicationStatus) (t time.Time, ok bool) {
	if st.LastSyncTime == nil {
		return time.Time{}, false
	}
	var start time.Time
	switch {
	case st.LastSyncStartTime != nil:
		start = st.LastSyncStartTime.Time
	case st.LastRun != nil && st.LastRun.Result == starter.StatusCompleted && st.LastRun.StartTime != nil:
		// A status written before lastSyncStartTime existed: the last run
		// is the successful one.
		start = st.LastRun.StartTime.Time
	}
	var oldest time.Time
	for _, pvc := range st.RestorePoints {
		var newest time.Time
		for _, p := range pvc.Points {
			if p.CopiedAt.After(newest) {
				newest = p.CopiedAt.Time
			}
		}
		if !newest.IsZero() && !newest.Before(start) && (oldest.IsZero() || newest.Before(oldest)) {
			oldest = newest
		}
	}
	switch {
	case !oldest.IsZero():
		return oldest, true
	case !start.IsZero():
		return start, true
	}
	// Only the end is known: the RPO reads at most one sync's length short.
	return st.LastSyncTime.Time, true
}

// rpo is how much of the source's recent writes DR would lose if the
// source went away now: now − goodCopyTime, or the Replication's age when
// it never synced. Never negative, whatever the clocks say.
func rpo(r *drv1.Replication, now time.Time) time.Duration {
	since, ok := goodCopyTime(&r.Status)
	if !ok {
		since = r.CreationTimestamp.Time
	}
	return max(now.Sub(since), 0)
}

// replicationInterval is how often the Replication means to sync: its
// Schedule's (the source RemoteCluster's defaultSchedule when it sets
// none), or a Continuous one's background interval. ok is false for
// Manual, and for a schedule or interval that does not parse (the
// Replication's Synced condition says what is wrong).
func replicationInterval(spec *drv1.ReplicationSpec, defaultSchedule drv1.Cron, crons *cronIntervals) (time.Duration, bool) {
	s := spec.DeepCopy()
	drv1.SetReplicationDefaults(s)
	switch s.ReplicationMode {
	case drv1.ModeScheduled:
		c := s.Schedule
		if c == "" {
			c = defaultSchedule
		}
		d, err := crons.interval(string(c))
		return d, err == nil
	case drv1.ModeContinuous:
		d, err := time.ParseDuration(string(s.Continuous.BackgroundSyncInterval))
		return d, err == nil && d > 0
	}
	return 0, false
}

// cronWindow and cronMaxRuns bound the look-ahead of cronInterval: five
// weeks hold every weekday and month-end pattern, and the run cap keeps a
// per-minute schedule from costing more than a few milliseconds, once. Two
// gaps are always measured: of two months in a row, one has 31 days.
const (
	cronWindow  = 35 * 24 * time.Hour
	cronMaxRuns = 60_000
)

// cronIntervals caches cronInterval by expression: the collector asks on
// every scrape, for every Replication, and few expressions differ.
type cronIntervals struct{ m sync.Map }

func (c *cronIntervals) interval(expr string) (time.Duration, error) {
	if d, ok := c.m.Load(expr); ok {
		return d.(time.Duration), nil
	}
	d, err := cronInterval(expr, time.Now().UTC())
	if err == nil {
		c.m.Store(expr, d)
	}
	return d, err
}

// cronInterval is the longest gap between two runs of a cron schedule
// (UTC, as Temporal Schedules read it) in the window after from. The
// longest, not the usual: "0 9 * * 1-5" syncs daily but leaves a weekend,
// and an alert at 2× the interval must not page every Monday.
func cronInterval(expr string, from time.Time) (time.Duration, error) {
	if expr == "" {
		return 0, fmt.Errorf("no cron schedule")
	}
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		return 0, fmt.Errorf("cron schedule %q: %w", expr, err)
	}
	prev := sched.Next(from)
	if prev.IsZero() {
		return 0, fmt.Errorf("cron schedule %q never runs", expr)
	}
	var longest time.Duration
	for runs := 0; runs < cronMaxRuns && (runs < 2 || prev.Sub(from) < cronWindow); runs++ {
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	if longest == 0 {
		return 0, fmt.Errorf("cron schedule %q runs once at most", expr)
	}
	return longest, nil
}
