package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A semaphore names its cluster in its metrics from its workflow ID alone:
// every ID ClusterSemaphoreID makes reads back as its cluster, and no
// other ID names one.
func TestClusterOfSemaphoreReadsBackItsID(t *testing.T) {
	prod := ClusterRef{Namespace: "dr-syncer-system", Name: "prod.eu-1"}
	got, ok := ClusterOfSemaphore(ClusterSemaphoreID(prod))
	assert.True(t, ok)
	assert.Equal(t, prod, got)

	for _, id := range []string{
		"default-test-workflow-id",
		"semaphore/",
		"semaphore/ns",
		"semaphore//prod",
		"semaphore/ns/",
		"semaphore/ns/prod/extra",
		"replication/ns/prod",
	} {
		_, ok := ClusterOfSemaphore(id)
		assert.False(t, ok, "%q names no cluster", id)
	}
}
