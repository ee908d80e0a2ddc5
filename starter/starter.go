// Package starter is the Temporal client side of dr-syncer: it finds,
// describes and (as the controller grows) starts and schedules its workflows.
package starter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// Starter talks to one Temporal namespace on behalf of dr-syncer.
type Starter struct {
	Client    client.Client
	Namespace string
	TaskQueue string
	// DataConverter is the converter Client was built with; nil means the
	// SDK's default. Heartbeats read from a describe call are decoded with
	// it, so with the payload codec on it must be set: Connect does that.
	DataConverter converter.DataConverter
	// Routes names a Replication's source → destination in the summary
	// every run and Schedule shows in the Web UI; nil leaves it out.
	Routes RouteFunc
}

// Run is one workflow run as a user sees it in a list.
type Run struct {
	WorkflowID string
	RunID      string
	Type       string
	Status     string
	Start      time.Time
	Close      time.Time
}

// Duration is how long the run took, or has taken so far.
func (r Run) Duration(now time.Time) time.Duration {
	if r.Close.IsZero() {
		return now.Sub(r.Start)
	}
	return r.Close.Sub(r.Start)
}

// ListOptions narrow List.
type ListOptions struct {
	// Query is a Temporal visibility query ANDed with the task-queue filter,
	// for example `ExecutionStatus = "Running"`.
	Query string
	// Limit caps the runs returned; 0 means 100.
	Limit int
}

// List returns the runs of dr-syncer's task queue, newest first.
func (s *Starter) List(ctx context.Context, opts ListOptions) ([]Run, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 100
	}
	query := fmt.Sprintf("TaskQueue = %q", s.TaskQueue)
	if q := strings.TrimSpace(opts.Query); q != "" {
		query += " AND (" + q + ")"
	}
	var runs []Run
	var token []byte
	for len(runs) < limit {
		resp, err := s.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace:     s.Namespace,
			PageSize:      int32(min(limit-len(runs), 1000)),
			NextPageToken: token,
			Query:         query,
		})
		if err != nil {
			return nil, fmt.Errorf("list workflows (query %s): %w", query, err)
		}
		for _, e := range resp.Executions {
			r := Run{
				WorkflowID: e.GetExecution().GetWorkflowId(),
				RunID:      e.GetExecution().GetRunId(),
				Type:       e.GetType().GetName(),
				Status:     e.GetStatus().String(),
				Start:      e.GetStartTime().AsTime(),
			}
			if e.GetCloseTime() != nil {
				r.Close = e.GetCloseTime().AsTime()
			}
			runs = append(runs, r)
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			break
		}
	}
	return runs, nil
}

// Detail is one run with what is happening inside it.
type Detail struct {
	Run
	HistoryLength     int64
	SearchAttributes  map[string]string
	PendingActivities []PendingActivity
}

// PendingActivity is an activity that is running or waiting to retry.
type PendingActivity struct {
	Type          string
	State         string
	Attempt       int32
	LastHeartbeat time.Time
	// Progress is the activity's last heartbeat details, as text.
	Progress    string
	LastFailure string
}

// Describe returns the run of workflowID (the latest when runID is empty).
func (s *Starter) Describe(ctx context.Context, workflowID, runID string) (Detail, error) {
	_, resp, err := s.observe(ctx, workflowID, runID, nil)
	if err != nil {
		return Detail{}, err
	}
	info := resp.GetWorkflowExecutionInfo()
	d := Detail{
		Run: Run{
			WorkflowID: info.GetExecution().GetWorkflowId(),
			RunID:      info.GetExecution().GetRunId(),
			Type:       info.GetType().GetName(),
			Status:     info.GetStatus().String(),
			Start:      info.GetStartTime().AsTime(),
			Close:      closeTime(info),
		},
		HistoryLength:    info.GetHistoryLength(),
		SearchAttributes: map[string]string{},
	}
	// Temporal never runs search attributes through a codec; the client's
	// converter reads them anyway, since the codec passes plain payloads.
	for name, payload := range info.GetSearchAttributes().GetIndexedFields() {
		d.SearchAttributes[name] = strings.Trim(s.dataConverter().ToString(payload), `"`)
	}
	for _, pa := range resp.GetPendingActivities() {
		p := PendingActivity{
			Type:    pa.GetActivityType().GetName(),
			State:   strings.TrimPrefix(pa.GetState().String(), "PENDING_ACTIVITY_STATE_"),
			Attempt: pa.GetAttempt(),
		}
		if pa.GetLastHeartbeatTime() != nil {
			p.LastHeartbeat = pa.GetLastHeartbeatTime().AsTime()
		}
		if details := pa.GetHeartbeatDetails().GetPayloads(); len(details) > 0 {
			p.Progress = s.dataConverter().ToString(details[len(details)-1])
		}
		if f := pa.GetLastFailure(); f != nil {
			p.LastFailure = f.GetMessage()
		}
		d.PendingActivities = append(d.PendingActivities, p)
	}
	return d, nil
}
