package contract

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// Reports from the workflow (phase) and the activity (bytes) fold into one
// view without undoing each other, the bytes add up, and a late report about
// a finished sync is dropped.
func TestReplicationProgressFoldsReports(t *testing.T) {
	at := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	r := ReplicationProgress{PVCs: []PVCRunProgress{{PVC: "data", Phase: PhaseDiscover}, {PVC: "logs", Phase: PhaseDiscover}}}
	r.Report(PVCProgressUpdate{PVC: "data", Transfer: &TransferProgress{Snapshot: progress.Snapshot{BytesDone: 10, BytesTotal: 100}}, Attempt: 1}, at)
	r.Report(PVCProgressUpdate{PVC: "data", Phase: PhaseTransfer}, at.Add(time.Second))
	r.Report(PVCProgressUpdate{PVC: "logs", Transfer: &TransferProgress{Snapshot: progress.Snapshot{BytesDone: 5, BytesTotal: 50}}}, at)
	r.Report(PVCProgressUpdate{PVC: "logs", Attempt: 2, LastFailure: "rsync exit 12"}, at)

	data := r.PVCs[0]
	assert.Equal(t, PhaseTransfer, data.Phase)
	assert.EqualValues(t, 10, data.Transfer.BytesDone, "a phase report keeps the bytes")
	assert.Equal(t, at.Add(time.Second), data.UpdatedAt)
	logs := r.PVCs[1]
	assert.Equal(t, PhaseDiscover, logs.Phase, "a transfer report keeps the phase")
	assert.EqualValues(t, 2, logs.Attempt)
	assert.Equal(t, "rsync exit 12", logs.LastFailure)
	assert.EqualValues(t, 5, logs.Transfer.BytesDone, "a failure report keeps the last bytes")
	assert.EqualValues(t, 15, r.BytesDone)
	assert.EqualValues(t, 150, r.BytesTotal)

	r.Finished("data")
	r.Report(PVCProgressUpdate{PVC: "data", Transfer: &TransferProgress{Snapshot: progress.Snapshot{BytesDone: 100, BytesTotal: 100}}}, at)
	assert.Len(t, r.PVCs, 1, "a late report does not bring a finished sync back")
	assert.EqualValues(t, 5, r.BytesDone)
	assert.EqualValues(t, 50, r.BytesTotal)
}
