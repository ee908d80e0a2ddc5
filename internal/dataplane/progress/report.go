package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// Event types written as JSON lines.
const (
	TypeProgress = "progress"
	TypeSummary  = "summary"
)

// Event is one JSON line of mover output. Exactly one of Progress and
// Summary is set, matching Type.
type Event struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Claim names the volume (its rsync module) when one mover fills many
	// (a batch sync pod's): every line of its output says whose it is.
	Claim    string    `json:"claim,omitempty"`
	Progress *Snapshot `json:"progress,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
}

// Verification reports the post-copy check.
type Verification struct {
	Mode         rsyncargs.VerificationMode `json:"mode"`
	FilesChecked int                        `json:"filesChecked"`
	// MismatchCount counts the sampled files whose content still differed
	// from an unchanged source after they were copied again: damage.
	// Mismatched lists the first few.
	MismatchCount int      `json:"mismatchCount"`
	Mismatched    []string `json:"mismatched,omitempty"`
	// RepairedCount counts the sampled files that differed at first and
	// matched once copied again: changed on the source after the copy read
	// them, or a damaged copy now repaired. Repaired lists the first few.
	RepairedCount int      `json:"repairedCount,omitempty"`
	Repaired      []string `json:"repaired,omitempty"`
	// SkippedLiveCount counts the sampled files that changed on the source
	// again while they were copied again: a file the application keeps
	// writing cannot be compared, and is no sign of damage. The next sync
	// copies it again. SkippedLive lists the first few.
	SkippedLiveCount int      `json:"skippedLiveCount,omitempty"`
	SkippedLive      []string `json:"skippedLive,omitempty"`
}

func (v *Verification) hasNames() bool {
	return len(v.Mismatched)+len(v.SkippedLive)+len(v.Repaired) > 0
}

// trimNames halves the longest of the verification's file lists (the counts
// stay) so a summary fits the termination message.
func (v *Verification) trimNames() {
	longest := &v.Mismatched
	for _, l := range []*[]string{&v.SkippedLive, &v.Repaired} {
		if len(*l) > len(*longest) {
			longest = l
		}
	}
	*longest = (*longest)[:len(*longest)/2]
}

// GuardSourceShrank is the GuardVerdict reason for a source that holds under
// a tenth of the DR copy's regular files (an empty or re-created volume).
const GuardSourceShrank = "SourceShrank"

// GuardVerdict is the data guard's pre-flight result: the counts it judged
// and what it allowed, so a refusal can name them and a success shows them.
type GuardVerdict struct {
	// Reason is empty when the sync went ahead, else why it was refused
	// (GuardSourceShrank); a refused sync copied and deleted nothing.
	Reason string `json:"reason,omitempty"`
	// SourceFiles and DRFiles are regular file counts; Deletions is what the
	// dry run would delete (files, directories and links).
	SourceFiles int64 `json:"sourceFiles"`
	DRFiles     int64 `json:"drFiles"`
	Deletions   int64 `json:"deletions"`
	// MaxDelete is the deletion allowance the copy ran with; nil means none.
	MaxDelete *int64 `json:"maxDelete,omitempty"`
	// Acknowledged records that a person accepted the source's change.
	Acknowledged bool `json:"acknowledged,omitempty"`
}

// Summary is the final result of a mover run; it is also what the mover
// writes to its termination-message file.
type Summary struct {
	Outcome         rsyncargs.Outcome `json:"outcome"`
	Stats           Stats             `json:"stats"`
	Progress        Snapshot          `json:"progress"`
	Streams         int               `json:"streams"`
	DurationSeconds float64           `json:"durationSeconds"`
	Verification    *Verification     `json:"verification,omitempty"`
	// Guard is set when the data guard's pre-flight ran (the DR copy was
	// not empty).
	Guard *GuardVerdict `json:"guard,omitempty"`
	// Error holds the setup error or the tail of rsync's stderr on failure.
	Error string `json:"error,omitempty"`
}

// Reporter writes Events as JSON lines, throttling progress to one line per
// Interval so a live view stays current without flooding logs.
type Reporter struct {
	mu       sync.Mutex
	w        io.Writer
	claim    string
	interval time.Duration
	now      func() time.Time
	last     time.Time
}

// ReporterOptions configures a Reporter.
type ReporterOptions struct {
	// Interval is the minimum time between progress lines; default 1s.
	Interval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Claim, when set, tags every line (Event.Claim).
	Claim string
}

// NewReporter returns a Reporter writing to w.
func NewReporter(w io.Writer, opts ReporterOptions) *Reporter {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Reporter{w: w, claim: opts.Claim, interval: opts.Interval, now: opts.Now}
}

// Progress writes s unless a progress line was written less than Interval ago.
func (r *Reporter) Progress(s Snapshot) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.interval {
		return nil
	}
	r.last = now
	return r.write(Event{Type: TypeProgress, Time: now.UTC(), Progress: &s})
}

// Summary writes the final summary line.
func (r *Reporter) Summary(s Summary) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.write(Event{Type: TypeSummary, Time: r.now().UTC(), Summary: &s})
}

func (r *Reporter) write(e Event) error {
	e.Claim = r.claim
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	if _, err := r.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s event: %w", e.Type, err)
	}
	return nil
}

// DecodeEvent parses one JSON line written by a Reporter.
func DecodeEvent(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return Event{}, fmt.Errorf("decode progress event: %w", err)
	}
	switch {
	case e.Type == TypeProgress && e.Progress != nil, e.Type == TypeSummary && e.Summary != nil:
		return e, nil
	}
	return Event{}, fmt.Errorf("decode progress event: unexpected type %q or missing body", e.Type)
}

// TerminationMessageLimit is Kubernetes' per-container limit on the
// termination message.
const TerminationMessageLimit = 4096

// EncodeTerminationMessage encodes s as JSON no longer than
// TerminationMessageLimit, dropping the mismatch list and trimming the error
// text if needed so the result always stays valid JSON.
func EncodeTerminationMessage(s Summary) ([]byte, error) {
	for {
		b, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("encode summary: %w", err)
		}
		if len(b) <= TerminationMessageLimit {
			return b, nil
		}
		switch {
		case s.Verification != nil && s.Verification.hasNames():
			v := *s.Verification // the caller's summary stays whole
			v.trimNames()
			s.Verification = &v
		case len(s.Error) > 0:
			over := len(b) - TerminationMessageLimit
			keep := max(len(s.Error)-over-16, 0)
			s.Error = "…" + strings.ToValidUTF8(s.Error[len(s.Error)-keep:], "")
			if keep == 0 {
				s.Error = ""
			}
		case s.Progress.CurrentFile != "":
			s.Progress.CurrentFile = ""
		default:
			return nil, fmt.Errorf("encode summary: %d bytes even when trimmed", len(b))
		}
	}
}

// WriteTerminationMessage writes s to path (normally /dev/termination-log),
// where the kubelet picks it up as the container's termination message.
func WriteTerminationMessage(path string, s Summary) error {
	b, err := EncodeTerminationMessage(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write termination message %s: %w", path, err)
	}
	return nil
}
