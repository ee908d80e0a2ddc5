package mover

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// statsTail is the rest of a real rsync 3.x --stats block (LC_ALL=C); the
// parser must ignore it.
const statsTail = `Number of created files: 0
Number of regular files transferred: 0
Total file size: 3,458 bytes
Total transferred file size: 0 bytes
Literal data: 0 bytes
Matched data: 0 bytes
File list size: 0
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 14,646
Total bytes received: 3,375

sent 14,646 bytes  received 3,375 bytes  12,014.00 bytes/sec
total size is 3,458  speedup is 0.19 (DRY RUN)
`

func TestParsePreflight(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want PreflightCounts
		err  error
	}{
		{name: "partial deletion with thousands separators (real output)",
			out: "deleting old/z\ndeleting old/new\\#012line\ndeleting old/\ndeleting a/f1\ndeleting top-file\n\n" +
				"Number of files: 1,892 (reg: 1,889, dir: 3)\nNumber of deleted files: 1,315 (reg: 1,314, dir: 1)\n" + statsTail,
			want: PreflightCounts{SourceFiles: 1889, Deletions: 1315,
				DeletionsByTop: map[string]int64{"old": 3, "a": 1, "top-file": 1}}},
		{name: "empty source: no reg part (real output)",
			out:  "deleting b/y\ndeleting b/\n\nNumber of files: 1 (dir: 1)\nNumber of deleted files: 1,206 (reg: 1,203, dir: 3)\n" + statsTail,
			want: PreflightCounts{SourceFiles: 0, Deletions: 1206, DeletionsByTop: map[string]int64{"b": 2}}},
		{name: "no change: zero deletions has no parentheses (real output)",
			out:  "\nNumber of files: 1,207 (reg: 1,203, dir: 4)\nNumber of deleted files: 0\n" + statsTail,
			want: PreflightCounts{SourceFiles: 1203}},
		{name: "links and specials around reg",
			out:  "Number of files: 1,234,567 (reg: 1,000,000, dir: 200,000, link: 34,567)\nNumber of deleted files: 2 (reg: 2)\n",
			want: PreflightCounts{SourceFiles: 1000000, Deletions: 2}},
		{name: "reg not first",
			out:  "Number of files: 12 (dir: 2, reg: 10)\nNumber of deleted files: 0\n",
			want: PreflightCounts{SourceFiles: 10}},
		{name: "no deletions line: deleting lines are counted",
			out:  "deleting x\ndeleting d/y\ndeleting d/\nNumber of files: 5 (reg: 4, dir: 1)\n",
			want: PreflightCounts{SourceFiles: 4, Deletions: 3, DeletionsByTop: map[string]int64{"x": 1, "d": 2}}},
		{name: "no deletions at all",
			out:  "Number of files: 5 (reg: 4, dir: 1)\n",
			want: PreflightCounts{SourceFiles: 4}},
		{name: "escaped top-level name is decoded",
			out:  "deleting tab\\#011dir/file\nNumber of files: 1 (dir: 1)\nNumber of deleted files: 1 (reg: 1)\n",
			want: PreflightCounts{Deletions: 1, DeletionsByTop: map[string]int64{"tab\tdir": 1}}},
		{name: "a file named like a stats line is a deletion line",
			out:  "deleting Number of files: 9 (reg: 9)\nNumber of files: 1 (dir: 1)\nNumber of deleted files: 1 (reg: 1)\n",
			want: PreflightCounts{Deletions: 1, DeletionsByTop: map[string]int64{"Number of files: 9 (reg: 9)": 1}}},
		{name: "itemized changes, deletions among them",
			out: "change\t*deleting  \told/z\nchange\t.d..t......\t./\nchange\t.f...p.....\ta\nchange\thf+++++++++\ta2\n\n" +
				"Number of files: 5 (reg: 3, dir: 2)\nNumber of deleted files: 1 (reg: 1)\n" + statsTail,
			want: PreflightCounts{SourceFiles: 3, Deletions: 1, DeletionsByTop: map[string]int64{"old": 1}, Changes: 4}},
		{name: "a file named like a change line is a deletion line",
			out:  "deleting change\t.f\tx\nNumber of files: 1 (dir: 1)\nNumber of deleted files: 1 (reg: 1)\n",
			want: PreflightCounts{Deletions: 1, DeletionsByTop: map[string]int64{"change\t.f\tx": 1}}},
		{name: "no stats at all", out: "deleting x\n", err: ErrNoPreflightStats},
		{name: "empty output", out: "", err: ErrNoPreflightStats},
		{name: "garbled file count", out: "Number of files: many (reg: 3)\nNumber of deleted files: 0\n", err: ErrNoPreflightStats},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p preflightParser
			for _, line := range strings.Split(tt.out, "\n") {
				p.Feed(line)
			}
			got, err := p.Result()
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Positive(t, got.Stats.NumFiles, "the dry run's stats are kept")
			got.Stats = progress.Stats{}
			assert.Equal(t, tt.want, got)
		})
	}
}
