package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

func TestRestorePointsInStatusFollowGoodSyncsOnly(t *testing.T) {
	at := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	points := func(names ...string) []contract.RestorePoint {
		var out []contract.RestorePoint
		for i, n := range names {
			out = append(out, contract.RestorePoint{Name: n, PVC: "data", CopiedAt: at.Add(-time.Duration(i) * time.Hour), Size: "1Gi"})
		}
		return out
	}
	synced := func(pvc string, p []contract.RestorePoint) contract.PVCOutcome {
		return contract.PVCOutcome{PVC: pvc, Result: &contract.PVCSyncResult{Target: contract.TargetPVC{Name: pvc}, RestorePoints: p}}
	}
	st := &drv1.ReplicationStatus{}
	recordRestorePoints(st, &contract.ReplicationResult{PVCs: []contract.PVCOutcome{synced("logs", points("logs-rp-1")), synced("data", points("data-rp-2", "data-rp-1"))}})
	assert.Equal(t, []string{"data", "logs"}, []string{st.RestorePoints[0].PVC, st.RestorePoints[1].PVC}, "sorted by PVC")
	assert.Equal(t, "data-rp-2", st.RestorePoints[0].Points[0].Name, "newest first")
	assert.Equal(t, "1Gi", st.RestorePoints[0].Points[0].Size)

	// data's next sync fails: its list stays; logs' next sync pruned to one new point.
	failed := contract.PVCOutcome{PVC: "data", Error: "rsync exit 23", Result: &contract.PVCSyncResult{Target: contract.TargetPVC{Name: "data"}}}
	recordRestorePoints(st, &contract.ReplicationResult{PVCs: []contract.PVCOutcome{failed, synced("logs", points("logs-rp-2"))}})
	assert.Len(t, st.RestorePoints[0].Points, 2, "a failed sync changes no restore point")
	assert.Equal(t, "logs-rp-2", st.RestorePoints[1].Points[0].Name)
	assert.Len(t, st.RestorePoints[1].Points, 1)
}
