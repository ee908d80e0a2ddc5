package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

func workflowOptions(name string) workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: name}
}

func statsWithBytes(n int64) progress.Stats { return progress.Stats{TotalTransferredFileSize: n} }
