package cliutil

import (
	"flag"
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func gcPercent() int {
	current := debug.SetGCPercent(-1)
	debug.SetGCPercent(current)
	return current
}

func TestRuntimeFlagsSetTheGCTargetUnlessGOGCIsSet(t *testing.T) {
	defer debug.SetGCPercent(gcPercent())
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	parse := func(args ...string) RuntimeFlags {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		var r RuntimeFlags
		r.Register(fs)
		require.NoError(t, fs.Parse(args))
		return r
	}

	if _, set := os.LookupEnv("GOGC"); set {
		t.Setenv("GOGC", "")
		require.NoError(t, os.Unsetenv("GOGC"))
	}
	parse().Apply(zap.NewNop())
	assert.Equal(t, 400, gcPercent(), "the default for the data path")
	parse("--gogc=250").Apply(zap.NewNop())
	assert.Equal(t, 250, gcPercent())

	t.Setenv("GOGC", "100")
	debug.SetGCPercent(100)
	parse("--gogc=250").Apply(zap.NewNop())
	assert.Equal(t, 100, gcPercent(), "GOGC from the environment wins")
}

func TestEnvBool(t *testing.T) {
	t.Setenv("DRS_TEST_BOOL", "")
	got, err := EnvBool("DRS_TEST_BOOL", true)
	require.NoError(t, err)
	assert.True(t, got, "empty: the fallback")
	t.Setenv("DRS_TEST_BOOL", "false")
	got, err = EnvBool("DRS_TEST_BOOL", true)
	require.NoError(t, err)
	assert.False(t, got)
	t.Setenv("DRS_TEST_BOOL", "flase")
	_, err = EnvBool("DRS_TEST_BOOL", true)
	require.ErrorContains(t, err, `DRS_TEST_BOOL="flase": want true or false`)
}
