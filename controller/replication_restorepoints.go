package controller

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// recordRestorePoints mirrors the restore points each PVC sync of a run
// left into the status. A PVC whose sync failed or kept none keeps the
// list its last good sync left: its restore points are untouched.
func recordRestorePoints(st *drv1.ReplicationStatus, res *contract.ReplicationResult) {
	byPVC := map[string]int{}
	for i, p := range st.RestorePoints {
		byPVC[p.PVC] = i
	}
	for _, outcome := range res.PVCs {
		if outcome.Error != "" || outcome.Result == nil || len(outcome.Result.RestorePoints) == 0 {
			continue
		}
		entry := drv1.PVCRestorePoints{PVC: outcome.Result.Target.Name}
		for _, p := range outcome.Result.RestorePoints {
			entry.Points = append(entry.Points, drv1.RestorePointStatus{Name: p.Name, CopiedAt: metav1.NewTime(p.CopiedAt), Size: p.Size})
		}
		if i, ok := byPVC[entry.PVC]; ok {
			st.RestorePoints[i] = entry
		} else {
			byPVC[entry.PVC] = len(st.RestorePoints)
			st.RestorePoints = append(st.RestorePoints, entry)
		}
	}
	sort.Slice(st.RestorePoints, func(i, j int) bool { return st.RestorePoints[i].PVC < st.RestorePoints[j].PVC })
}
