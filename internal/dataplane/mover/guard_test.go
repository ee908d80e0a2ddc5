package mover

import (
	"testing"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"

	"github.com/stretchr/testify/assert"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// noLimit marks a decision without a deletion allowance.
const noLimit = -1

// TestDecide is the guard's decision table.
func TestDecide(t *testing.T) {
	shrank := progress.GuardSourceShrank
	tests := []struct {
		name                string
		dr, source, deletes int64
		ack                 bool
		wantReason          string
		wantMaxDelete       int64
	}{
		// Acknowledged: a person accepted the change, whatever it is.
		{"ack, source empty", 332, 0, 332, true, "", noLimit},
		{"ack, normal resync", 1000, 1000, 0, true, "", noLimit},
		// First sync: nothing to protect.
		{"first sync", 0, 500, 0, false, "", noLimit},
		{"first sync, empty source", 0, 0, 0, false, "", noLimit},
		{"DR has only dirs and links", 0, 0, 12, false, "", noLimit},
		// The source shrank under 10% of the DR copy: refused.
		{"source emptied", 332, 0, 332, false, shrank, 0},
		{"source re-created with one file", 332, 1, 331, false, shrank, 0},
		{"just under 10%", 332, 33, 299, false, shrank, 0},
		{"single DR file, source empty", 1, 0, 1, false, shrank, 0},
		{"huge DR, source empty", 50_000_000, 0, 50_000_000, false, shrank, 0},
		// At or over 10%: proceed, with deletions seen + 1% margin, capped
		// at the 10% floor budget but never below the deletions seen.
		{"exactly 10%", 1000, 100, 900, false, "", 900},
		{"just at 10% rounding up", 332, 34, 298, false, "", 298},
		{"no change", 1000, 1000, 0, false, "", 10},
		{"small DR gets a margin of one", 10, 10, 0, false, "", 1},
		{"30% deleted", 1000, 700, 300, false, "", 310},
		{"margin capped by floor budget", 1000, 1000, 895, false, "", 900},
		{"deletions seen beyond budget stay allowed", 1000, 100, 950, false, "", 950},
		{"source grew", 1000, 5000, 2, false, "", 12},
		{"margin rounds up", 150, 150, 0, false, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(GuardCounts{DRFiles: tt.dr, SourceFiles: tt.source, Deletions: tt.deletes}, tt.ack)
			assert.Equal(t, tt.wantReason, d.Reason)
			assert.Equal(t, tt.wantReason != "", d.Refused())
			switch {
			case d.Refused(), tt.wantMaxDelete == noLimit:
				assert.Nil(t, d.MaxDelete, "no limit when refused or unlimited")
			default:
				if assert.NotNil(t, d.MaxDelete) {
					assert.Equal(t, tt.wantMaxDelete, *d.MaxDelete)
					assert.GreaterOrEqual(t, *d.MaxDelete, tt.deletes, "an unchanged source never trips the limit")
				}
			}
		})
	}
}

func TestLimitStreams(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	plans := []StreamPlan{{Root: true, Dirs: []string{"a", "b"}}, {Dirs: []string{"a"}}, {Dirs: []string{"b"}}}
	limits := func(ps []StreamPlan) []int64 {
		var out []int64
		for _, p := range ps {
			if p.MaxDelete == nil {
				out = append(out, noLimit)
				continue
			}
			out = append(out, *p.MaxDelete)
		}
		return out
	}
	tests := []struct {
		name      string
		plans     []StreamPlan
		allowance *int64
		byTop     map[string]int64
		want      []int64
	}{
		{"no allowance, no limit", plans, nil, map[string]int64{"a": 5}, []int64{noLimit, noLimit, noLimit}},
		{"single stream takes it all", []StreamPlan{{Root: true}}, n(17), map[string]int64{"a": 5, "x": 2}, []int64{17}},
		{"deletions to their streams, margin dealt evenly, remainder to root", plans, n(21),
			map[string]int64{"a": 5, "b": 1, "top-file": 2, "gone-dir": 3}, []int64{5 + 3 + 1, 5 + 3, 1 + 3}},
		{"nothing seen, margin only", plans, n(2), nil, []int64{2, 0, 0}},
		{"zero allowance deletes nothing anywhere", plans, n(0), nil, []int64{0, 0, 0}},
		{"lines exceed the allowance: root only", plans, n(3), map[string]int64{"a": 5}, []int64{3, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LimitStreams(tt.plans, tt.allowance, tt.byTop)
			assert.Equal(t, tt.want, limits(got))
			if tt.allowance != nil {
				var sum int64
				for _, l := range limits(got) {
					sum += l
				}
				assert.LessOrEqual(t, sum, *tt.allowance, "streams together never exceed the allowance")
			}
			assert.Equal(t, []int64{noLimit, noLimit, noLimit}, limits(plans), "input plans unchanged")
		})
	}
}

// bandwidthLimit is per transfer: parallel streams share it, as rsync's
// --bwlimit holds per process. Before, four streams moved 4× the limit.
func TestParallelStreamsShareTheBandwidthLimit(t *testing.T) {
	cfg := rsyncargs.Config{BandwidthLimitKiB: 32768}
	for n, want := range map[int]int64{1: 32768, 4: 8192, 3: 10922} {
		if got := streamConfig(cfg, n).BandwidthLimitKiB; got != want {
			t.Errorf("%d streams: each --bwlimit=%d, want %d", n, got, want)
		}
	}
	if got := streamConfig(rsyncargs.Config{BandwidthLimitKiB: 2}, 4).BandwidthLimitKiB; got != 1 {
		t.Errorf("a tiny limit over 4 streams: %d, want 1 (0 would mean unlimited)", got)
	}
	if got := streamConfig(rsyncargs.Config{}, 4).BandwidthLimitKiB; got != 0 {
		t.Errorf("no limit stays none: %d", got)
	}
}
