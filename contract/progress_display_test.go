package contract

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

func TestReadableRoundsAndAddsETA(t *testing.T) {
	p := TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{
		BytesDone: 300 << 20, BytesTotal: 1000 << 20, Percent: 29.999999998107, RateBytesPerSec: 10*(1<<20) + 0.37,
	}}.Readable()
	assert.Equal(t, 30.0, p.Percent)
	assert.Equal(t, float64(10<<20), p.RateBytesPerSec)
	assert.Equal(t, int64(70), p.ETASeconds, "700 MiB at 10 MiB/s")
	assert.Equal(t, "1m10s", p.ETA)
	assert.Equal(t, int64(300<<20), p.BytesDone, "the resume point stays exact")

	// The Web UI and older histories read these names; new ones are added.
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	for _, k := range []string{"phase", "bytesDone", "bytesTotal", "percent", "rateBytesPerSec", "filesTransferred", "filesDone", "filesTotal", "etaSeconds", "eta"} {
		assert.Contains(t, fields, k)
	}
	assert.Equal(t, 30.0, fields["percent"])
}

func TestReadableWithoutSizeOrRateHasNoETA(t *testing.T) {
	for name, s := range map[string]progress.Snapshot{
		"size unknown": {BytesDone: 10, RateBytesPerSec: 100},
		"not moving":   {BytesDone: 10, BytesTotal: 100},
	} {
		p := TransferProgress{Snapshot: s, ETASeconds: 9, ETA: "9s"}.Readable()
		assert.Zero(t, p.ETASeconds, name)
		assert.Empty(t, p.ETA, name, "a stale estimate is dropped, not kept")
	}
}

func TestHumanFigures(t *testing.T) {
	assert.Equal(t, "512 B", HumanBytes(512))
	assert.Equal(t, "1.5 KiB", HumanBytes(1536))
	assert.Equal(t, "1.0 GiB", HumanBytes(1<<30))
	assert.Equal(t, "45s", HumanDuration(44200*time.Millisecond))
	assert.Equal(t, "3m05s", HumanDuration(185*time.Second))
	assert.Equal(t, "2h10m", HumanDuration(2*time.Hour+10*time.Minute+5*time.Second))
}

func TestMarkdownReport(t *testing.T) {
	r := ReplicationProgress{Phase: PhaseSyncPVCs, PVCsTotal: 3, PVCsDone: 1, PVCsFailed: 1}
	r.PVCs = []PVCRunProgress{
		{PVC: "data", Phase: PhaseTransfer, Transfer: &TransferProgress{Snapshot: progress.Snapshot{
			BytesDone: 512 << 20, BytesTotal: 1 << 30, Percent: 50.00000001, RateBytesPerSec: 16 << 20, FilesDone: 2, FilesTotal: 10}}},
		{PVC: "logs", Phase: PhaseMountPod, Attempt: 2, LastFailure: "mount pod lost"},
	}
	r.sumBytes()
	assert.Equal(t, "**Step:** SyncPVCs\n\n"+
		"**PVCs:** 1 of 3 done, 1 failed\n\n"+
		"**Bytes:** 512.0 MiB of 1.0 GiB at 16.0 MiB/s, ETA 32s\n\n"+
		"- data: Transfer 512.0 MiB of 1.0 GiB (50.0%), 16.0 MiB/s, ETA 32s, files 2 of 10\n"+
		"- logs: EnsureMountPod (attempt 2, last failure: mount pod lost)", r.Markdown())
}
