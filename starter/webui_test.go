package starter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A link opens the run in the Web UI: IDs with slashes are escaped into one
// path segment; without a run ID it lists the ID's runs; no base, no link.
func TestWebUILink(t *testing.T) {
	assert.Equal(t, "http://localhost:8233/namespaces/default/workflows/replication%2Fops%2Fshop%2F1/r-1/history",
		WebUILink(DefaultWebUI, "default", "replication/ops/shop/1", "r-1"))
	assert.Equal(t, "https://ui.example.net/namespaces/dr/workflows?query=WorkflowId%3D%22replication%2Fops%2Fshop%2F1%22",
		WebUILink("https://ui.example.net/", "dr", "replication/ops/shop/1", ""))
	assert.Empty(t, WebUILink("", "default", "replication/ops/shop/1", "r-1"))
}
