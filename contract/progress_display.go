package contract

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Readable is p as people read it in the Web UI's heartbeat details, the
// run's progress query and the CLI: the percent to one decimal (the mover's
// is a float quotient such as 3.0000000001892366), the rate in whole bytes
// per second, and the time left at that rate. The figures a retry resumes
// from (BytesDone) are kept exact.
func (p TransferProgress) Readable() TransferProgress {
	p.Percent = math.Round(p.Percent*10) / 10
	p.RateBytesPerSec = math.Round(p.RateBytesPerSec)
	p.ETASeconds, p.ETA = 0, ""
	if left, ok := timeLeft(p.BytesDone, p.BytesTotal, p.RateBytesPerSec); ok {
		p.ETASeconds = int64(math.Ceil(left.Seconds()))
		p.ETA = HumanDuration(left)
	}
	return p
}

// timeLeft is how long the rest of total takes at rate; false when either
// is unknown (the size is estimated from rsync's percent, which is 0 at first).
func timeLeft(done, total int64, rate float64) (time.Duration, bool) {
	if total <= 0 || rate < 1 || done > total {
		return 0, false
	}
	return time.Duration(float64(total-done) / rate * float64(time.Second)), true
}

// HumanBytes is n in binary units with one decimal: "512 B", "1.5 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// HumanDuration is d rounded to whole seconds in at most two units: "45s",
// "3m05s", "2h10m".
func HumanDuration(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
}

// Rate is a transfer rate as people read it: "12.5 MiB/s".
func Rate(bytesPerSec float64) string {
	return HumanBytes(int64(bytesPerSec)) + "/s"
}

// Line is one PVC's progress in one line: its step, and once the transfer
// reports, bytes done of total with the percent, rate and time left.
func (p PVCRunProgress) Line() string {
	var b strings.Builder
	b.WriteString(p.PVC + ": " + p.Phase)
	if t := p.Transfer; t != nil && (t.BytesDone > 0 || t.BytesTotal > 0) {
		r := t.Readable()
		fmt.Fprintf(&b, " %s of %s (%.1f%%), %s", HumanBytes(r.BytesDone), HumanBytes(r.BytesTotal), r.Percent, Rate(r.RateBytesPerSec))
		if r.ETA != "" {
			b.WriteString(", ETA " + r.ETA)
		}
		if r.FilesTotal > 0 {
			fmt.Fprintf(&b, ", files %d of %d", r.FilesDone, r.FilesTotal)
		} else if r.FilesTransferred > 0 {
			fmt.Fprintf(&b, ", %d files copied", r.FilesTransferred)
		}
	}
	if p.Attempt > 1 {
		fmt.Fprintf(&b, " (attempt %d", p.Attempt)
		if p.LastFailure != "" {
			b.WriteString(", last failure: " + p.LastFailure)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Rate adds up the running transfers' rates.
func (r ReplicationProgress) Rate() float64 {
	var rate float64
	for _, p := range r.PVCs {
		if p.Transfer != nil {
			rate += p.Transfer.RateBytesPerSec
		}
	}
	return rate
}

// Markdown is the run's progress as the short report the Web UI shows as
// the workflow's current details: the step, PVCs done of total, bytes,
// rate and time left, and one line per running PVC sync.
func (r ReplicationProgress) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Step:** %s\n\n", r.Phase)
	if r.PVCsTotal > 0 {
		fmt.Fprintf(&b, "**PVCs:** %d of %d done", r.PVCsDone, r.PVCsTotal)
		if r.PVCsFailed > 0 {
			fmt.Fprintf(&b, ", %d failed", r.PVCsFailed)
		}
		b.WriteString("\n\n")
	}
	if r.BytesTotal > 0 || r.BytesDone > 0 {
		rate := r.Rate()
		fmt.Fprintf(&b, "**Bytes:** %s of %s at %s", HumanBytes(r.BytesDone), HumanBytes(r.BytesTotal), Rate(rate))
		if left, ok := timeLeft(r.BytesDone, r.BytesTotal, rate); ok {
			b.WriteString(", ETA " + HumanDuration(left))
		}
		b.WriteString("\n\n")
	}
	for _, p := range r.PVCs {
		b.WriteString("- " + p.Line() + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
