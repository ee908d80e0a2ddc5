package contract

// Signals of the semaphore protocol, shared by the semaphore workflow, its
// clients and RequestPermit.
const (
	// SignalAcquire asks the semaphore for a permit (payload: PermitRequest).
	SignalAcquire = "acquire"
	// SignalRelease returns a permit (payload: the holder's workflow ID).
	SignalRelease = "release"
	// SignalPermit grants a permit to a waiting workflow (payload: the
	// permit's key, PermitRequest.WorkflowID, when the request has an Owner).
	SignalPermit = "permit"
)

// PermitRequest asks for one permit on behalf of a workflow run.
type PermitRequest struct {
	// WorkflowID is the permit's key: the requesting workflow's ID, or,
	// with an Owner, a key of one of the permits the Owner holds.
	WorkflowID string `json:"workflowID"`
	RunID      string `json:"runID"`
	// Owner, when set, is the workflow that asked and is granted the
	// permit (a Replication run holding permits for its PVC syncs); RunID
	// is then its run's.
	Owner string `json:"owner,omitempty"`
}

// Holder is the workflow the permit is granted to and held by.
func (r PermitRequest) Holder() string {
	if r.Owner != "" {
		return r.Owner
	}
	return r.WorkflowID
}

// AcquireInput names the semaphore, its limit and the requester.
type AcquireInput struct {
	SemaphoreID string        `json:"semaphoreID"`
	Limit       int           `json:"limit"`
	Request     PermitRequest `json:"request"`
	// Requests are a run's, asked for in order by RequestPermits.
	Requests []PermitRequest `json:"requests,omitempty"`
	// SemaphoreType is the semaphore's registered workflow type.
	SemaphoreType string `json:"semaphoreType"`
	// InitialState starts the semaphore when it is not running.
	InitialState any `json:"initialState"`
}

// SemaphoreState is the semaphore's state; it is also what continue-as-new
// carries over and what the progress query returns.
type SemaphoreState struct {
	Limit   int             `json:"limit"`
	Holders []PermitRequest `json:"holders"`
	Waiting []PermitRequest `json:"waiting"`
}
