//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// kubectl runs kubectl against c with stdin (may be empty) and returns stdout; a
// failure fails the test with kubectl's stderr.
func kubectl(t *testing.T, c *lab.Cluster, stdin string, args ...string) string {
	t.Helper()
	out, err := tryKubectl(c, stdin, args...)
	if err != nil {
		t.Fatalf("%s: kubectl %s: %v", c.Name, strings.Join(args, " "), err)
	}
	return out
}

func tryKubectl(c *lab.Cluster, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := c.Kubectl(ctx, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// testNamespace makes a fresh namespace in each cluster and deletes it when the test ends.
func testNamespace(t *testing.T, prefix string, clusters ...*lab.Cluster) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%06x", prefix, rand.IntN(1<<24))
	for _, c := range clusters {
		kubectl(t, c, "", "create", "namespace", ns)
		c := c
		t.Cleanup(func() {
			if _, err := tryKubectl(c, "", "delete", "namespace", ns, "--wait=false"); err != nil {
				t.Logf("%s: delete namespace %s: %v", c.Name, ns, err)
			}
		})
	}
	return ns
}

// waitReady waits for a pod to be Ready and returns how long that took from the call.
func waitReady(t *testing.T, c *lab.Cluster, ns, pod string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := tryKubectl(c, "", "-n", ns, "wait", "--for=condition=Ready", "pod/"+pod, "--timeout=120s"); err != nil {
		desc, _ := tryKubectl(c, "", "-n", ns, "describe", "pod", pod)
		t.Fatalf("%s: pod %s/%s not Ready: %v\n%s\n(node logs: %s)", c.Name, ns, pod, err, desc, c.LogDir())
	}
	return time.Since(start)
}

// crdApplies makes the tests running side by side apply the CRDs one at a
// time: two client-side applies that both find a CRD missing both create
// it, and one fails with AlreadyExists.
var crdApplies sync.Mutex

// applyCRDs applies dr-syncer's CRDs (deploy/crd) to c and waits until they
// are Established.
func applyCRDs(t *testing.T, c *lab.Cluster) {
	t.Helper()
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	func() {
		crdApplies.Lock()
		defer crdApplies.Unlock() // kubectl's Fatal ends the goroutine
		kubectl(t, c, "", "apply", "-f", filepath.Join(root, "deploy", "crd"))
	}()
	// A CRD created a moment ago may have no conditions yet, which kubectl
	// wait reports as an error rather than waiting.
	pollUntil(t, 60*time.Second, c.Name+": the dr-syncer CRDs Established", func() (bool, string) {
		out, err := tryKubectl(c, "", "wait", "--for=condition=Established", "--timeout=60s",
			"crd/remoteclusters.dr-syncer.io", "crd/replications.dr-syncer.io", "crd/clustermappings.dr-syncer.io")
		return err == nil, fmt.Sprint(out, err)
	})
}
