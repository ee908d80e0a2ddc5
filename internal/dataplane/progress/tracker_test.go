package progress

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTrackerCountsFilesBeforeXfr: in a copy of a few large files progress2
// closes a file (xfr#) minutes apart; the count must rise as rsync names
// the next file, not stay 0 until the first xfr# line.
func TestTrackerCountsFilesBeforeXfr(t *testing.T) {
	var tr Tracker
	feed := func(lines ...string) Snapshot {
		for _, l := range lines {
			tr.Feed(l)
		}
		return tr.Snapshot()
	}
	s := feed("xfer\t./", "xfer\tdir/", "xfer\tdir/big1", "    104,857,600  10%   50.00MB/s    0:00:18")
	assert.Equal(t, 0, s.FilesTransferred, "a directory and the file in flight are not copied files")
	s = feed("xfer\tdir/big2", "    524,288,000  50%   50.00MB/s    0:00:10")
	assert.Equal(t, 1, s.FilesTransferred, "big1 is done once rsync names big2")
	s = feed("xfer\tdir/big3")
	assert.Equal(t, 2, s.FilesTransferred)
	s = feed("  1,048,576,000 100%   50.00MB/s    0:00:20 (xfr#3, to-chk=0/5)")
	assert.Equal(t, 3, s.FilesTransferred, "an xfr# line makes the count exact")
	assert.Equal(t, 5, s.FilesTotal)
	assert.Equal(t, 5, s.FilesDone)
}
