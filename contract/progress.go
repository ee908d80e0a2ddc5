package contract

import "time"

// SignalPVCProgress carries one PVC sync's progress to the Replication run
// that started it (payload: PVCProgressUpdate). The PVCSync child sends its
// phase changes, the Transfer activity its bytes; the run keeps the newest of
// each, so one progress query answers for the whole run.
const SignalPVCProgress = "pvc-progress"

// ProgressTarget is the run a step reports its progress to.
type ProgressTarget struct {
	WorkflowID string `json:"workflowID"`
	RunID      string `json:"runID"`
	// PVC is the source PVC the reports are about: the run's key for it.
	PVC string `json:"pvc"`
}

// PVCProgressUpdate is one report of a PVC sync. A phase report (from the
// workflow) carries only Phase; a transfer report (from the activity)
// carries Transfer and Attempt, and LastFailure when the attempt failed.
type PVCProgressUpdate struct {
	PVC         string            `json:"pvc"`
	Phase       string            `json:"phase,omitempty"`
	Transfer    *TransferProgress `json:"transfer,omitempty"`
	Attempt     int32             `json:"attempt,omitempty"`
	LastFailure string            `json:"lastFailure,omitempty"`
	// Join comes with PhaseWaitBatch: the sync asks the run for a place in
	// a batch's pods.
	Join *BatchJoin `json:"join,omitempty"`
}

// PVCRunProgress is what a Replication run knows of one running PVC sync.
type PVCRunProgress struct {
	PVC        string `json:"pvc"`
	WorkflowID string `json:"workflowID"`
	Phase      string `json:"phase,omitempty"`
	// Transfer is the newest progress the transfer reported, if it started.
	Transfer *TransferProgress `json:"transfer,omitempty"`
	// Attempt and LastFailure show a transfer that is retrying.
	Attempt     int32  `json:"attempt,omitempty"`
	LastFailure string `json:"lastFailure,omitempty"`
	// UpdatedAt is the run's time of the newest report.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Apply folds a report into the PVC's progress. A phase report leaves the
// transfer's figures alone and a transfer report the phase: the two come from
// different senders, so neither may undo the other's news.
func (p *PVCRunProgress) Apply(u PVCProgressUpdate, at time.Time) {
	if u.Phase != "" {
		p.Phase = u.Phase
	}
	if u.Transfer != nil {
		t := *u.Transfer
		p.Transfer = &t
	}
	if u.Attempt != 0 {
		p.Attempt = u.Attempt
	}
	if u.LastFailure != "" {
		p.LastFailure = u.LastFailure
	}
	p.UpdatedAt = at
}

// Report folds a PVC sync's report into the run's progress. A report about a
// PVC that is not running (it finished, and this report was late) is
// dropped: it must not bring a finished sync back.
func (r *ReplicationProgress) Report(u PVCProgressUpdate, at time.Time) {
	for i := range r.PVCs {
		if r.PVCs[i].PVC == u.PVC {
			r.PVCs[i].Apply(u, at)
			r.sumBytes()
			return
		}
	}
}

// Finished drops a PVC sync that ended from the running ones.
func (r *ReplicationProgress) Finished(pvc string) {
	out := r.PVCs[:0]
	for _, p := range r.PVCs {
		if p.PVC != pvc {
			out = append(out, p)
		}
	}
	r.PVCs = out
	r.sumBytes()
}

func (r *ReplicationProgress) sumBytes() {
	r.BytesDone, r.BytesTotal = 0, 0
	for _, p := range r.PVCs {
		if p.Transfer != nil {
			r.BytesDone += p.Transfer.BytesDone
			r.BytesTotal += p.Transfer.BytesTotal
		}
	}
}

// PVCEnded is how one PVC sync of a run ended, kept in the run's progress
// so a reader that polls learns of a sync that started and ended between
// two of its polls. It is small on purpose: the query answer grows by one
// per PVC, and the full outcome comes with the run's result.
type PVCEnded struct {
	PVC string `json:"pvc"`
	// WorkflowID is the PVC sync's own workflow, whose history has the details.
	WorkflowID string `json:"workflowID,omitempty"`
	Error      string `json:"error,omitempty"`
	ErrorType  string `json:"errorType,omitempty"`
	// BytesTransferred and BytesTotal are the transfer's file bytes sent and
	// the volume's file bytes in all.
	BytesTransferred int64   `json:"bytesTransferred,omitempty"`
	BytesTotal       int64   `json:"bytesTotal,omitempty"`
	DurationSeconds  float64 `json:"durationSeconds,omitempty"`
}

// EndOf is the summary of a PVC sync's outcome.
func EndOf(o PVCOutcome) PVCEnded {
	e := PVCEnded{PVC: o.PVC, WorkflowID: o.WorkflowID, Error: o.Error, ErrorType: o.ErrorType}
	if r := o.Result; r != nil {
		e.BytesTransferred = r.Transfer.Stats.TotalTransferredFileSize
		e.BytesTotal = r.Transfer.Stats.TotalFileSize
		e.DurationSeconds = r.Transfer.DurationSeconds
	}
	return e
}
