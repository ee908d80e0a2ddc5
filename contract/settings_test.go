package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDeletionLimitIsTheLargerOfShareAndCount(t *testing.T) {
	defaults := DeletionGuardLimits{MaxPercent: 50, MaxObjects: 10}
	assert.Equal(t, 10, defaults.DeletionLimit(4), "10 objects when 50% is fewer")
	assert.Equal(t, 15, defaults.DeletionLimit(30), "50% of 30")
	assert.Equal(t, 20, DeletionGuardLimits{MaxPercent: 20, MaxObjects: 2}.DeletionLimit(100))
	assert.Equal(t, 0, DeletionGuardLimits{}.DeletionLimit(100), "a guard that allows no deletion")
}
