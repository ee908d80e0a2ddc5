// Package prometheus_test checks what Prometheus evaluates for dr-syncer:
// the alert rules in rules.yaml (promtool check and unit tests) and the
// queries of the Grafana dashboard in deploy/grafana. Both may name only the
// series metrics.txt lists, the ones the worker and controller export.
// promtool comes from Debian's prometheus package (`make deps`); a missing
// promtool fails, it never skips.
package prometheus_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// dir is this package's folder: rules.yaml, rules_test.yaml and metrics.txt.
func dir() string { return filepath.Join(testenv.RepoRoot(), "deploy", "prometheus") }

// promtool runs promtool with args in dir and returns its combined output,
// failing the test when promtool is not installed or exits non-zero.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found in PATH: run `make deps` (hack/deps.sh installs Debian's prometheus package, which ships /usr/bin/promtool)")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// exportedSeries reads metrics.txt: the scrape-time names (histograms
// with their _bucket, _sum and _count series) of every series dr-syncer
// exports that a rule or panel may use.
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir(), "metrics.txt"))
	require.NoError(t, err)
	names := map[string]bool{}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		require.Len(t, fields, 2, "metrics.txt: %q is not NAME TYPE", line)
		name, kind := fields[0], fields[1]
		switch kind {
		case "gauge", "counter":
			names[name] = true
		case "histogram":
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		default:
			t.Fatalf("metrics.txt: %s has type %q; want gauge, counter or histogram", name, kind)
		}
	}
	return names
}

var (
	// nameRegex is a __name__ matcher; the rules use one to read three
	// poll counters at once.
	nameRegex = regexp.MustCompile(`__name__\s*=~\s*"([^"]*)"`)
	// oneGroup is the only regex form nameRegex values may take, so that
	// each alternative can be checked: prefix(a|b|c)suffix.
	oneGroup   = regexp.MustCompile(`^([a-z0-9_:]*)\(([a-z0-9_:|]+)\)([a-z0-9_:]*)$`)
	seriesName = regexp.MustCompile(`drsyncer_[a-zA-Z0-9_:]+`)
)

// drsyncerSeries returns every drsyncer_ series name a PromQL expression
// reads, with __name__ regexes expanded to their alternatives.
func drsyncerSeries(t *testing.T, expr string) []string {
	t.Helper()
	var names []string
	for _, m := range nameRegex.FindAllStringSubmatch(expr, -1) {
		g := oneGroup.FindStringSubmatch(m[1])
		require.NotNil(t, g, "__name__=~%q: write it as prefix(a|b)suffix so the names can be checked", m[1])
		for _, alt := range strings.Split(g[2], "|") {
			names = append(names, g[1]+alt+g[3])
		}
		expr = strings.Replace(expr, m[0], "", 1)
	}
	return append(names, seriesName.FindAllString(expr, -1)...)
}

// requireExported fails for every drsyncer_ series expr names that
// metrics.txt does not list; where says which rule or panel it is.
func requireExported(t *testing.T, exported map[string]bool, where, expr string) {
	t.Helper()
	for _, name := range drsyncerSeries(t, expr) {
		if !exported[name] {
			known := make([]string, 0, len(exported))
			for n := range exported {
				known = append(known, n)
			}
			sort.Strings(known)
			t.Errorf("%s reads %s, which dr-syncer does not export: use one of deploy/prometheus/metrics.txt (%s), or add it there once the worker or controller exports it", where, name, strings.Join(known, ", "))
		}
	}
}
