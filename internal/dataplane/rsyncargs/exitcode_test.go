package rsyncargs

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassifyExit(t *testing.T) {
	tests := []struct {
		code int
		want Class
	}{
		{0, ClassSuccess},
		{1, ClassPermanent},
		{2, ClassPermanent},
		{3, ClassPermanent},
		{4, ClassPermanent},
		{5, ClassRetryable},
		{6, ClassPermanent},
		{10, ClassRetryable},
		{11, ClassPermanent},
		{12, ClassRetryable},
		{13, ClassPermanent},
		{14, ClassRetryable},
		{15, ClassRetryable},
		{16, ClassRetryable},
		{19, ClassRetryable},
		{20, ClassRetryable},
		{21, ClassRetryable},
		{22, ClassRetryable},
		{23, ClassPermanent},
		{24, ClassSuccess},
		{25, ClassRetryable},
		{30, ClassRetryable},
		{35, ClassRetryable},
		{255, ClassRetryable},
		{SignalExit, ClassRetryable},
		{7, ClassPermanent},
		{99, ClassPermanent},
	}
	for _, tt := range tests {
		got := ClassifyExit(tt.code)
		assert.Equal(t, tt.want, got.Class, "code %d", tt.code)
		assert.Equal(t, tt.code, got.ExitCode)
		assert.NotEmpty(t, got.Reason)
		assert.Equal(t, tt.want == ClassRetryable, got.Retryable())
	}
}

func TestWorse(t *testing.T) {
	ok, retry, perm := ClassifyExit(0), ClassifyExit(10), ClassifyExit(1)
	assert.Equal(t, retry, Worse(ok, retry))
	assert.Equal(t, perm, Worse(perm, retry))
	assert.Equal(t, perm, Worse(retry, perm))
	assert.Equal(t, ok, Worse(ok, ClassifyExit(24)))
}
