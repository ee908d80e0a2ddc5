//go:build e2e && labdown

package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// TestLabDown tears the lab down and asserts nothing of it is left: no process,
// mount, network namespace, link, route, cgroup, iptables rule or log link
// (hack/lab/check-clean.sh). A second lab-down must be a clean no-op. It runs only
// with the labdown tag (make test-lab-down) because it destroys the lab.
func TestLabDown(t *testing.T) {
	lab.Attach(t) // the check means something only if the lab was up
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	run := func(script string) {
		t.Helper()
		out, err := exec.Command(filepath.Join(root, "hack", "lab", script)).CombinedOutput()
		t.Logf("%s:\n%s", script, out)
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
	}
	run("down.sh")
	run("check-clean.sh")
	run("down.sh")
	run("check-clean.sh")
}
