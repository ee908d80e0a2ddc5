package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A wrong --serve fails before the credentials are read, with a message
// that names the problem.
func TestServeFlagErrors(t *testing.T) {
	t.Setenv("POD_IP", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--serve", "claim-0"}, "must be NAME=PATH"},
		{[]string{"--serve", "claim-0=data/0"}, "absolute"},
		{[]string{"--serve", "bad name=/data/0"}, "module name"},
		{[]string{"--serve", "claim-0=/data/0", "--serve", "claim-0=/data/1"}, "given twice"},
		{[]string{"--serve", "claim-0=/data/0", "--serve", "claim-1=/data/0"}, "same path"},
		{[]string{"--serve", "claim-0=/data", "--serve", "claim-1=/data/1"}, "lies inside"},
		{[]string{"--serve", "claim-0=/data/0", "--path", "/data"}, "--serve replaces --path"},
		{[]string{"--module", "data", "--serve", "claim-0=/data/0"}, "--serve replaces --module"},
		// Valid modules get as far as the next check.
		{[]string{"--serve", "claim-0=/data/0", "--serve", "claim-1=/data/1"}, "--address (or POD_IP) is required"},
		{[]string{"--path", "/data"}, "--address (or POD_IP) is required"},
	} {
		err := run(c.args)
		if assert.Error(t, err, "%q", c.args) {
			assert.Contains(t, err.Error(), c.want, "%q", c.args)
		}
	}
}
