package starter

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultWebUI is the Temporal Web UI of a dev server (`temporal server
// start-dev`, `make run`, the lab), and what `kubectl port-forward` to a
// cluster's Web UI on port 8233 gives.
const DefaultWebUI = "http://localhost:8233"

// WebUILink links the run workflowID/runID of the Temporal namespace in the
// Web UI at base. Without a run ID it lists the ID's runs, since the Web UI
// opens a run only by both IDs. An empty base links nothing.
func WebUILink(base, namespace, workflowID, runID string) string {
	if base == "" || workflowID == "" {
		return ""
	}
	workflows := fmt.Sprintf("%s/namespaces/%s/workflows", strings.TrimRight(base, "/"), url.PathEscape(namespace))
	if runID == "" {
		return workflows + "?query=" + url.QueryEscape(fmt.Sprintf("WorkflowId=%q", workflowID))
	}
	return fmt.Sprintf("%s/%s/%s/history", workflows, url.PathEscape(workflowID), url.PathEscape(runID))
}
