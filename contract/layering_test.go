package contract_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/dr-syncer/dr-syncer/"

// The contract is what both sides of the Temporal boundary share, so the
// client side (controller, starter, the CLI) must reach the workers only
// through it, and it must depend on neither side.
func TestLayering(t *testing.T) {
	forbidden := map[string][]string{
		"contract":         {"activities", "workflows", "controller", "starter", "worker"},
		"controller":       {"activities", "workflows", "worker"},
		"starter":          {"activities", "workflows", "worker", "controller"},
		"cmd/drsyncer":     {"activities", "workflows", "worker", "controller"},
		"internal/resolve": {"activities", "workflows", "controller", "starter"},
	}
	// The activities are split by capability; each sits below the
	// workflows and uses none of the others (what they share is in the
	// root package, activities).
	capabilities := []string{"activities/pvcdata", "activities/objects", "activities/agent", "activities/connectivity", "activities/pointintime", "activities/recovery"}
	forbidden["activities"] = append([]string{"workflows", "worker", "controller", "starter"}, capabilities...)
	for _, c := range capabilities {
		forbidden[c] = []string{"workflows", "worker", "controller", "starter"}
		for _, other := range capabilities {
			if other != c {
				forbidden[c] = append(forbidden[c], other)
			}
		}
	}
	for pkg, bad := range forbidden {
		deps := goDeps(t, module+pkg)
		for _, b := range bad {
			// A package's subpackages count as the package: activities
			// stands for activities/pvcdata and the rest too.
			for _, d := range deps {
				assert.False(t, d == module+b || strings.HasPrefix(d, module+b+"/"),
					"%s depends on %s; see ARCHITECTURE.md for the layering rule", pkg, d)
			}
		}
	}
}

// goDeps lists pkg and every package it depends on.
func goDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	require.NoError(t, err, "go list %s: %s", pkg, out)
	return strings.Fields(string(out))
}

// The contract's types are its own: a CRD change must not silently change
// what workflow histories carry, so neither the contract nor the workflows
// import the API package; internal/resolve converts.
func TestHistoriesDoNotCarryAPITypes(t *testing.T) {
	for _, pkg := range []string{"contract", "workflows"} {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+pkg).CombinedOutput()
		require.NoError(t, err, "go list: %s", out)
		assert.NotContains(t, strings.Fields(string(out)), module+"api/v1alpha1",
			"%s imports api/v1alpha1; give the value a contract type and convert in internal/resolve", pkg)
	}
}
