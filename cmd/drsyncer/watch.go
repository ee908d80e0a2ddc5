package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// watchStatus follows the newest run of ref until it ends, printing its
// progress whenever it changed (a line for the run, and a bar per running
// PVC sync), then its result. It returns nil only for a run that completed,
// so the exit status says whether the sync succeeded.
func watchStatus(ctx context.Context, s *starter.Starter, ref contract.ObjectRef, out io.Writer, every time.Duration) error {
	st, err := s.Status(ctx, ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "watching %s (run %s)\n", st.WorkflowID, st.RunID)
	last := ""
	show := func(st starter.RunState) {
		if block := progressBlock(st); block != last {
			fmt.Fprintf(out, "%s %s", time.Now().Format(time.TimeOnly), block)
			last = block
		}
	}
	if st.Running() {
		show(st)
		if st, err = s.WatchRun(ctx, st.WorkflowID, st.RunID, every, show); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, resultLine(st))
	if st.Status != starter.StatusCompleted {
		return &runFailedError{st}
	}
	return nil
}

// runFailedError is a watched run that did not complete; its line was
// printed already, so the message is short.
type runFailedError struct{ st starter.RunState }

func (e *runFailedError) Error() string {
	return fmt.Sprintf("run %s %s", e.st.WorkflowID, strings.ToLower(e.st.Status))
}

// barWidth is the width of a PVC's progress bar in characters.
const barWidth = 20

// progressBlock is a running run's progress: the run's step and PVC counts,
// then one line per running PVC sync with a bar, bytes, rate and time left.
func progressBlock(st starter.RunState) string {
	var b strings.Builder
	if p := st.Progress; p != nil {
		fmt.Fprintf(&b, "%s: %d of %d PVCs done", p.Phase, p.PVCsDone, p.PVCsTotal)
		if p.PVCsFailed > 0 {
			fmt.Fprintf(&b, ", %d failed", p.PVCsFailed)
		}
		b.WriteString("\n")
	} else {
		b.WriteString("running (no worker answered yet)\n")
	}
	for _, pvc := range st.PVCs {
		b.WriteString("  " + pvcLine(pvc) + "\n")
	}
	return b.String()
}

// pvcLine is "data [#####---------------]  25.0%  256.0 MiB of 1.0 GiB  12.0 MiB/s  ETA 1m04s",
// or the PVC's step while its transfer has no figures yet.
func pvcLine(p starter.PVCProgress) string {
	line := p.PVC + " " + p.Phase
	if t := p.Transfer; t != nil && t.BytesTotal > 0 {
		r := t.Readable()
		filled := min(int(r.Percent*barWidth/100), barWidth)
		line = fmt.Sprintf("%s [%s%s] %5.1f%%  %s of %s  %s", p.PVC, strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled),
			r.Percent, contract.HumanBytes(r.BytesDone), contract.HumanBytes(r.BytesTotal), contract.Rate(r.RateBytesPerSec))
		if r.ETA != "" {
			line += "  ETA " + r.ETA
		}
	}
	if p.LastFailure != "" {
		line += fmt.Sprintf("  (attempt %d, last failure: %s)", p.Attempt, p.LastFailure)
	}
	return line
}

// resultLine says how a closed run ended: "✓ ID completed in 1m2s: 3 PVCs,
// 1.0 GiB copied", or "✗ ID failed after 10s: why".
func resultLine(st starter.RunState) string {
	took := st.Close.Sub(st.Start).Round(100 * time.Millisecond)
	if st.Status == starter.StatusCompleted {
		line := fmt.Sprintf("✓ %s completed in %s", st.WorkflowID, took)
		if r := st.Result; r != nil && len(r.PVCs) > 0 {
			var copied int64
			for _, p := range r.PVCs {
				if p.Result != nil {
					copied += p.Result.Transfer.Stats.TotalTransferredFileSize
				}
			}
			line += fmt.Sprintf(": %d PVCs synced, %s copied", len(r.PVCs), contract.HumanBytes(copied))
		}
		return line
	}
	return fmt.Sprintf("✗ %s %s after %s: %s", st.WorkflowID, strings.ToLower(st.Status), took, st.Error)
}
