package contract

// Signals of the semaphore protocol, shared by the semaphore workflow, its
// clients and RequestPermit.
const (
	// SignalAcquire asks the semaphore for a permit (payload: PermitRequest).
	SignalAcquire = "acquire"
	// SignalRelease returns a permit (payload: the holder's workflow ID).
	SignalRelease = "release"
	// SignalPermit grants a permit to a waiting workflow.
	SignalPermit = "permit"
)

// PermitRequest asks for one permit on behalf of a workflow run.
type PermitRequest struct {
	WorkflowID string `json:"workflowID"`
	RunID      string `json:"runID"`
}

// AcquireInput names the semaphore, its limit and the requester.
type AcquireInput struct {
	SemaphoreID string        `json:"semaphoreID"`
	Limit       int           `json:"limit"`
	Request     PermitRequest `json:"request"`
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
