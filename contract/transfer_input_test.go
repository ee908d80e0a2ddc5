package contract

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A solo transfer's input encodes as it did before Follow existed:
// recorded histories carry it.
func TestTransferInputWithoutFollowKeepsItsJSON(t *testing.T) {
	b, err := json.Marshal(TransferInput{})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "follow")
	b, err = json.Marshal(TransferInput{Follow: &FollowedMover{Pod: "p", Container: "mover-1"}})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"follow":{"pod":"p","container":"mover-1"}`)
}
