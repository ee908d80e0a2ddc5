package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHelp(t *testing.T) {
	var help bytes.Buffer
	assert.Equal(t, exitSuccess, run([]string{"--help"}, &help))
	for _, want := range []string{"Usage: mover", "-agent-addr", "-target", "-dest", "-config-json",
		"Data guard", "SourceShrank", "-accept-source-change", "DRSYNCER_ACCEPT_SOURCE_CHANGE=true", "-module", "DRSYNCER_RSYNC_MODULE", "-claim", "-accept-source-change-for"} {
		assert.Contains(t, help.String(), want)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("DRSYNCER_AGENT_ADDR", "") // the required flags default from these
	t.Setenv("DRSYNCER_TARGET", "")
	for _, args := range [][]string{{"--no-such-flag"}, {}, {"--agent-addr=a:1"}, {"--agent-addr=a:1", "--target=t:1", "extra"}} {
		var stderr bytes.Buffer
		assert.Equal(t, exitUsage, run(args, &stderr), "%q", args)
		assert.NotEmpty(t, stderr.String(), "%q says what is wrong", args)
	}
}

func TestClaimUsageErrors(t *testing.T) {
	base := []string{"--agent-addr=a:1", "--target=t:1"}
	for _, extra := range [][]string{
		{"--claim=claim-0"}, // no directory
		{"--claim=claim-0=/d/0", "--claim=claim-0=/d/1"}, // a module twice
		{"--claim=claim-0=/d/0", "--dest=/data"},         // one volume's flag with many
		{"--claim=claim-0=/d/0", "--module=data"},
		{"--claim=claim-0=/d/0", "--accept-source-change-for=claim-1"}, // accepts a volume it does not fill
		{"--accept-source-change-for=claim-0"},
		{"--claim=claim-0=/d/0", "--accept-source-change"}, // a batch's change is never accepted whole
	} {
		var stderr bytes.Buffer
		args := append(append([]string{}, base...), extra...)
		assert.Equal(t, exitUsage, run(args, &stderr), "%q", args)
		assert.NotEmpty(t, stderr.String(), "%q says what is wrong", args)
	}
}
