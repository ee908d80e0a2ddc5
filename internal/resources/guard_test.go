package resources_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dr-syncer/dr-syncer/internal/resources"
)

func TestDeletionGuardDecisionTable(t *testing.T) {
	tests := []struct {
		name    string
		check   resources.DeletionCheck
		allowed bool
		reason  string
	}{
		{"nothing to delete", resources.DeletionCheck{Owned: 30, Limit: 15}, true, ""},
		{"within the limit", resources.DeletionCheck{Deletions: 15, Owned: 30, Limit: 15}, true, ""},
		{"over the limit", resources.DeletionCheck{Deletions: 24, Owned: 30, Limit: 15}, false, "delete 24 of the 30 objects this Replication owns in DR, more than its limit of 15"},
		{"over the limit, accepted", resources.DeletionCheck{Deletions: 24, Owned: 30, Limit: 15, Accepted: "v1"}, true, ""},
		{"source namespace going, one deletion", resources.DeletionCheck{Deletions: 1, Owned: 30, Limit: 15, SourceNamespaceTerminating: true}, false, "source namespace shop is being deleted"},
		{"source namespace going, accepted", resources.DeletionCheck{Deletions: 30, Owned: 30, Limit: 15, SourceNamespaceTerminating: true, Accepted: "v1"}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			allowed, reason := tc.check.Verdict("dr/shop", "shop")
			assert.Equal(t, tc.allowed, allowed)
			if tc.reason == "" {
				assert.Empty(t, reason)
				return
			}
			assert.Contains(t, reason, tc.reason)
			assert.Contains(t, reason, "annotate Replication dr/shop with dr-syncer.io/accept-changes=", "says what to do")
		})
	}
}

func TestIsVolume(t *testing.T) {
	pvc, _ := resources.Lookup("pvc")
	cm, _ := resources.Lookup("configmaps")
	assert.True(t, resources.IsVolume(pvc))
	assert.True(t, resources.IsVolume(resources.PersistentVolume))
	assert.False(t, resources.IsVolume(cm))
}
