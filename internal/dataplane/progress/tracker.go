package progress

import "strings"

// Snapshot is the live state of one or more rsync streams.
type Snapshot struct {
	BytesDone int64 `json:"bytesDone"`
	// BytesTotal is estimated from rsync's percentage until the file list is
	// complete; it can grow while incremental recursion is still scanning.
	BytesTotal       int64   `json:"bytesTotal"`
	Percent          float64 `json:"percent"`
	RateBytesPerSec  float64 `json:"rateBytesPerSec"`
	FilesTransferred int     `json:"filesTransferred"`
	FilesDone        int     `json:"filesDone"`
	FilesTotal       int     `json:"filesTotal"`
	ScanComplete     bool    `json:"scanComplete"`
	CurrentFile      string  `json:"currentFile,omitempty"`
	ElapsedSeconds   float64 `json:"elapsedSeconds"`
}

// Tracker folds one rsync stream's output lines into a Snapshot and Stats.
// It is not safe for concurrent use.
type Tracker struct {
	snap  Snapshot
	stats Stats
	// xfr is the files progress2 last said were done (xfr#); named counts
	// the files rsync named since (its --out-format line comes as a file
	// starts).
	xfr, named int
}

// Feed consumes one output line and reports whether the snapshot changed.
func (t *Tracker) Feed(line string) bool {
	if l, ok := ParseProgressLine(line); ok {
		t.apply(l)
		return true
	}
	if name, ok := ParseFileLine(line); ok {
		t.snap.CurrentFile = name
		if !strings.HasSuffix(name, "/") { // directories are no files to count
			t.named++
			t.countFiles()
		}
		return true
	}
	ParseStatsLine(line, &t.stats)
	return false
}

func (t *Tracker) apply(l Line) {
	t.snap.BytesDone = l.Bytes
	t.snap.RateBytesPerSec = l.RateBytesPerSec
	t.snap.Percent = float64(l.Percent)
	// rsync's percent is an integer, so the estimate is coarse early on;
	// never let it fall below what is already done.
	if l.Percent > 0 {
		t.snap.BytesTotal = max(l.Bytes*100/int64(l.Percent), l.Bytes)
	} else if t.snap.BytesTotal < l.Bytes {
		t.snap.BytesTotal = l.Bytes
	}
	if l.HasXfr {
		t.xfr, t.named = l.FilesTransferred, 0
		t.snap.FilesTotal = l.Total
		t.snap.FilesDone = l.Total - l.ToCheck
		t.snap.ScanComplete = l.ScanComplete
		t.countFiles()
	}
}

// countFiles sets FilesTransferred as soon as rsync names files, not only
// when progress2 closes one (xfr#): in a copy of a few large files those
// lines are minutes apart, and the count stayed 0 until then. A file named
// after another means that one is done, so all but the newest count; the
// next xfr# line makes the count exact again.
func (t *Tracker) countFiles() {
	t.snap.FilesTransferred = t.xfr + max(t.named-1, 0)
}

// Snapshot returns the current state.
func (t *Tracker) Snapshot() Snapshot { return t.snap }

// Stats returns the --stats block seen so far.
func (t *Tracker) Stats() Stats { return t.stats }

// Combine merges the snapshots of parallel streams into one view.
func Combine(snaps []Snapshot) Snapshot {
	var out Snapshot
	out.ScanComplete = len(snaps) > 0
	for _, s := range snaps {
		out.BytesDone += s.BytesDone
		out.BytesTotal += s.BytesTotal
		out.RateBytesPerSec += s.RateBytesPerSec
		out.FilesTransferred += s.FilesTransferred
		out.FilesDone += s.FilesDone
		out.FilesTotal += s.FilesTotal
		out.ScanComplete = out.ScanComplete && s.ScanComplete
		if out.CurrentFile == "" {
			out.CurrentFile = s.CurrentFile
		}
		out.ElapsedSeconds = max(out.ElapsedSeconds, s.ElapsedSeconds)
	}
	if out.BytesTotal > 0 {
		out.Percent = float64(out.BytesDone) * 100 / float64(out.BytesTotal)
	}
	return out
}
