package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

func at(t time.Time) *metav1.Time { mt := metav1.NewTime(t); return &mt }

func TestRPOCountsFromTheSourceTimeOfTheLastGoodCopy(t *testing.T) {
	created := now.Add(-48 * time.Hour)
	for _, c := range []struct {
		name   string
		status drv1.ReplicationStatus
		want   time.Duration
	}{
		{"never synced: the Replication's age", drv1.ReplicationStatus{}, 48 * time.Hour},
		{"never synced, a run failed: still its age",
			drv1.ReplicationStatus{LastRun: &drv1.WorkflowRef{StartTime: at(now.Add(-time.Hour)), Result: "Failed"}}, 48 * time.Hour},
		{"direct copy: from the start of the last successful sync",
			drv1.ReplicationStatus{LastSyncTime: at(now.Add(-50 * time.Minute)), LastSyncStartTime: at(now.Add(-70 * time.Minute)),
				LastRun: &drv1.WorkflowRef{StartTime: at(now.Add(-10 * time.Minute)), Result: "Failed"}}, 70 * time.Minute},
		{"point-in-time: the oldest PVC's newest snapshot", drv1.ReplicationStatus{
			LastSyncTime: at(now.Add(-50 * time.Minute)), LastSyncStartTime: at(now.Add(-70 * time.Minute)),
			RestorePoints: []drv1.PVCRestorePoints{
				{PVC: "data", Points: []drv1.RestorePointStatus{{CopiedAt: metav1.NewTime(now.Add(-3 * time.Hour))}, {CopiedAt: metav1.NewTime(now.Add(-60 * time.Minute))}}},
				{PVC: "logs", Points: []drv1.RestorePointStatus{{CopiedAt: metav1.NewTime(now.Add(-65 * time.Minute))}}},
				{PVC: "empty"},
			}}, 65 * time.Minute},
		{"a PVC no longer synced: its old points do not count", drv1.ReplicationStatus{
			LastSyncTime: at(now.Add(-50 * time.Minute)), LastSyncStartTime: at(now.Add(-70 * time.Minute)),
			RestorePoints: []drv1.PVCRestorePoints{
				{PVC: "removed", Points: []drv1.RestorePointStatus{{CopiedAt: metav1.NewTime(now.Add(-30 * 24 * time.Hour))}}},
				{PVC: "data", Points: []drv1.RestorePointStatus{{CopiedAt: metav1.NewTime(now.Add(-60 * time.Minute))}}},
			}}, 60 * time.Minute},
		{"only stale points: the sync's start", drv1.ReplicationStatus{
			LastSyncTime: at(now.Add(-50 * time.Minute)), LastSyncStartTime: at(now.Add(-70 * time.Minute)),
			RestorePoints: []drv1.PVCRestorePoints{{PVC: "removed", Points: []drv1.RestorePointStatus{{CopiedAt: metav1.NewTime(now.Add(-72 * time.Hour))}}}}},
			70 * time.Minute},
		{"a status from before lastSyncStartTime: the successful last run's start",
			drv1.ReplicationStatus{LastSyncTime: at(now.Add(-50 * time.Minute)), LastRun: &drv1.WorkflowRef{StartTime: at(now.Add(-55 * time.Minute)), Result: "Completed"}},
			55 * time.Minute},
		{"only the end known", drv1.ReplicationStatus{LastSyncTime: at(now.Add(-50 * time.Minute))}, 50 * time.Minute},
		{"a clock behind the status: 0, not negative", drv1.ReplicationStatus{LastSyncTime: at(now.Add(time.Minute)), LastSyncStartTime: at(now.Add(time.Minute))}, 0},
	} {
		r := replication(drv1.ModeScheduled, func(r *drv1.Replication) {
			r.CreationTimestamp = metav1.NewTime(created)
			r.Status = c.status
		})
		assert.Equal(t, c.want, rpo(r, now), c.name)
	}
}

func TestReplicationIntervalFromScheduleOrContinuousSettings(t *testing.T) {
	var crons cronIntervals
	for _, c := range []struct {
		name     string
		spec     drv1.ReplicationSpec
		fallback drv1.Cron
		want     time.Duration // 0: absent
	}{
		{"own schedule", drv1.ReplicationSpec{ReplicationMode: drv1.ModeScheduled, Schedule: "*/15 * * * *"}, "@daily", 15 * time.Minute},
		{"mode defaults to Scheduled; the source's defaultSchedule", drv1.ReplicationSpec{}, "@hourly", time.Hour},
		{"weekdays at 9: the weekend is the longest gap", drv1.ReplicationSpec{Schedule: "0 9 * * 1-5"}, "", 72 * time.Hour},
		{"twice a day, unevenly", drv1.ReplicationSpec{Schedule: "0 2,8 * * *"}, "", 18 * time.Hour},
		{"no schedule anywhere", drv1.ReplicationSpec{ReplicationMode: drv1.ModeScheduled}, "", 0},
		{"a schedule that does not parse", drv1.ReplicationSpec{Schedule: "61 * * * *"}, "", 0},
		{"continuous, default background interval", drv1.ReplicationSpec{ReplicationMode: drv1.ModeContinuous}, "@daily", time.Hour},
		{"continuous, own interval", drv1.ReplicationSpec{ReplicationMode: drv1.ModeContinuous,
			Continuous: &drv1.ContinuousConfig{BackgroundSyncInterval: "15m"}}, "", 15 * time.Minute},
		{"continuous, broken interval", drv1.ReplicationSpec{ReplicationMode: drv1.ModeContinuous,
			Continuous: &drv1.ContinuousConfig{BackgroundSyncInterval: "soon"}}, "", 0},
		{"manual has none", drv1.ReplicationSpec{ReplicationMode: drv1.ModeManual, Schedule: "@hourly"}, "@hourly", 0},
	} {
		spec := c.spec
		got, ok := replicationInterval(&spec, c.fallback, &crons)
		assert.Equal(t, c.want != 0, ok, c.name)
		assert.Equal(t, c.want, got, c.name)
		assert.Equal(t, c.spec, spec, "%s: the cached spec is not defaulted in place", c.name)
	}
}

func TestCronIntervalOfRareSchedules(t *testing.T) {
	monthly, err := cronInterval("@monthly", now)
	require.NoError(t, err)
	assert.Equal(t, 31*24*time.Hour, monthly, "the longest month in the window")
	yearly, err := cronInterval("@yearly", now)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, yearly, 365*24*time.Hour)
	_, err = cronInterval("", now)
	assert.Error(t, err)
}

func TestPhaseIsOneHot(t *testing.T) {
	assert.Equal(t, map[drv1.ReplicationPhase]float64{"Pending": 0, "Running": 1, "Completed": 0, "Failed": 0, "FailedOver": 0}, phaseOneHot(drv1.PhaseRunning))
	assert.Equal(t, map[drv1.ReplicationPhase]float64{"Pending": 1, "Running": 0, "Completed": 0, "Failed": 0, "FailedOver": 0}, phaseOneHot(""),
		"no status yet reads as Pending")
	assert.Equal(t, map[drv1.ReplicationPhase]float64{"Pending": 0, "Running": 0, "Completed": 0, "Failed": 0, "FailedOver": 0, "Paused": 1}, phaseOneHot("Paused"),
		"a phase added later still shows")
}
