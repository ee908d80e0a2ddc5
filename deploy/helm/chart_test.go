// Package helm tests the Helm chart in dr-syncer/: it lints and renders, its
// defaults install what `kubectl apply -k deploy/` installs, and its CRDs and
// RBAC are controller-gen's. It runs the helm binary `make tools` builds
// (tools/helm) and the tools' kubectl for `kubectl kustomize`.
package helm

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/dr-syncer/dr-syncer/test/testenv"
)

const (
	release   = "dr-syncer"
	namespace = "dr-syncer-system" // deploy/'s namespace, so defaults compare
)

// chartDir is the chart under test.
func chartDir() string { return filepath.Join(testenv.RepoRoot(), "deploy", "helm", "dr-syncer") }

// object is one rendered Kubernetes object, as decoded JSON.
type object = map[string]any

// run runs a tool binary from `make tools` and returns its stdout; a missing
// binary fails the test with how to build it.
func run(t *testing.T, tool string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t, tool), args...)
	cmd.Dir = testenv.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(strings.TrimSpace(stderr.String() + "\n" + string(out) + "\n" + err.Error()))
	}
	return out, nil
}

// helmTemplate renders the chart into namespace with the given values files.
func helmTemplate(t *testing.T, valuesFiles ...string) ([]object, error) {
	t.Helper()
	args := []string{"template", release, chartDir(), "--namespace", namespace, "--include-crds"}
	out, err := run(t, "helm", append(args, valuesArgs(t, valuesFiles)...)...)
	if err != nil {
		return nil, err
	}
	return decode(t, out), nil
}

// valuesArgs are helm's --values flags for files named relative to this
// package; helm runs in the repository root.
func valuesArgs(t *testing.T, files []string) []string {
	t.Helper()
	var args []string
	for _, f := range files {
		abs, err := filepath.Abs(f)
		require.NoError(t, err)
		args = append(args, "--values", abs)
	}
	return args
}

// mustTemplate is helmTemplate that fails the test on a render error.
func mustTemplate(t *testing.T, valuesFiles ...string) []object {
	t.Helper()
	objs, err := helmTemplate(t, valuesFiles...)
	require.NoError(t, err, "helm template %v", valuesFiles)
	return objs
}

// decode splits a multi-document YAML stream into objects, dropping empty documents.
func decode(t *testing.T, stream []byte) []object {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var objs []object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		require.NoError(t, err)
		var o object
		require.NoError(t, yaml.Unmarshal(doc, &o), "decode:\n%s", doc)
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}

// key names an object the way an operator would: Kind namespace/name.
func key(o object) string {
	meta, _ := o["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	return o["kind"].(string) + " " + ns + "/" + name
}

// find returns the object with the given key, failing the test without it.
func find(t *testing.T, objs []object, k string) object {
	t.Helper()
	if o := findOrNil(objs, k); o != nil {
		return o
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, key(o))
	}
	require.FailNow(t, "not rendered", "%s is missing; rendered: %s", k, strings.Join(keys, ", "))
	return nil
}

// findOrNil returns the object with the given key, or nil.
func findOrNil(objs []object, k string) object {
	for _, o := range objs {
		if key(o) == k {
			return o
		}
	}
	return nil
}

// get walks a path of map keys and list indices through an object.
func get(o any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := o.(map[string]any)
			o = m[p]
		case int:
			l, _ := o.([]any)
			if p >= len(l) {
				return nil
			}
			o = l[p]
		}
	}
	return o
}

func TestChartLints(t *testing.T) {
	for _, values := range [][]string{nil, {"testdata/all-on.yaml"}} {
		args := []string{"lint", "--strict", chartDir(), "--namespace", namespace}
		out, err := run(t, "helm", append(args, valuesArgs(t, values)...)...)
		assert.NoError(t, err, "helm lint with values %v:\n%s", values, out)
	}
}

// The helm `make tools` built is the pinned release: a chart that needs a
// newer helm than the one tested with would otherwise pass here and fail
// for users.
func TestHelmIsThePinnedRelease(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "tools", "helm", "go.mod"))
	require.NoError(t, err)
	var pinned string
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "helm.sh/helm/v4" {
			pinned = f[1]
		}
	}
	require.NotEmpty(t, pinned, "tools/helm/go.mod requires no helm.sh/helm/v4")
	out, err := run(t, "helm", "version", "--template", "{{ .Version }}")
	require.NoError(t, err)
	assert.Equal(t, pinned, strings.TrimSpace(string(out)), "helm in %s is not the release tools/helm pins: run `make tools`", testenv.BinDir())
}

// CRDs and RBAC come from controller-gen: the chart's copies are the files
// `make generate` writes into deploy/, byte for byte; so is its copy of the
// alert rules.
func TestChartCopiesAreControllerGenOutput(t *testing.T) {
	root := testenv.RepoRoot()
	copies := map[string]string{
		"deploy/helm/dr-syncer/files/rbac/controller-role.yaml": "deploy/rbac/controller/role.yaml",
		"deploy/helm/dr-syncer/files/rbac/worker-role.yaml":     "deploy/rbac/worker/role.yaml",
		"deploy/helm/dr-syncer/files/prometheus/rules.yaml":     "deploy/prometheus/rules.yaml",
	}
	crds, err := filepath.Glob(filepath.Join(root, "deploy", "crd", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, crds, 3, "deploy/crd: RemoteCluster, ClusterMapping and Replication")
	for _, crd := range crds {
		copies["deploy/helm/dr-syncer/crds/"+filepath.Base(crd)] = "deploy/crd/" + filepath.Base(crd)
	}
	chartCRDs, err := filepath.Glob(filepath.Join(chartDir(), "crds", "*"))
	require.NoError(t, err)
	for _, c := range chartCRDs {
		rel, _ := filepath.Rel(root, c)
		assert.Contains(t, copies, rel, "%s is in the chart but not in deploy/crd: remove it, then run `make generate`", rel)
	}
	for chartFile, generated := range copies {
		want, err := os.ReadFile(filepath.Join(root, generated))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(root, chartFile))
		if !assert.NoError(t, err, "%s: the chart's copy of %s is missing: run `make generate`", chartFile, generated) {
			continue
		}
		assert.Equal(t, string(want), string(got), "%s differs from %s: run `make generate` (it copies controller-gen's output and the alert rules into the chart) and commit", chartFile, generated)
	}
}
