package prometheus_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// query is one PromQL expression of the dashboard and where it is.
type query struct{ where, expr string }

// dashboardQueries reads deploy/grafana/dr-syncer.json and returns every
// panel target's expression (rows' nested panels included) and every
// query variable's selector (label_values(SELECTOR, label)).
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "deploy", "grafana", "dr-syncer.json"))
	require.NoError(t, err)
	var dash struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(data, &dash), "deploy/grafana/dr-syncer.json")
	var queries []query
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			for _, target := range p.Targets {
				queries = append(queries, query{fmt.Sprintf("panel %q target %s", p.Title, target.RefID), target.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		text, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(text)
		require.NotNil(t, m, "variable %s: query %q is not label_values(SELECTOR, LABEL)", v.Name, text)
		queries = append(queries, query{"variable " + v.Name, m[1]})
	}
	return queries
}

// panel is the part of a Grafana panel these tests read.
type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// grafanaVariable is a dashboard variable in an expression: $name or ${name}.
var grafanaVariable = regexp.MustCompile(`\$\{?(\w+)\}?`)

// asPromQL replaces Grafana's variables with what Grafana would put there:
// a duration for its interval variables, a label value for the dashboard's
// own. A variable used anywhere else then fails to parse, as it would in
// Grafana.
func asPromQL(expr string) string {
	return grafanaVariable.ReplaceAllStringFunc(expr, func(v string) string {
		switch strings.Trim(v, "${}") {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		default:
			return "value"
		}
	})
}

// Every query of the dashboard parses: promtool checks them as the
// expressions of a temporary rule file, one recording rule each.
func TestDashboardQueriesParse(t *testing.T) {
	queries := dashboardQueries(t)
	require.NotEmpty(t, queries)
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for i, q := range queries {
		require.NotEmpty(t, strings.TrimSpace(q.expr), "%s has no expression", q.where)
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: asPromQL(q.expr)})
		t.Logf("dashboard:query_%d is %s", i, q.where) // shown when promtool names a rule it refused
	}
	file, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	require.NoError(t, os.WriteFile(path, file, 0o600))
	out := promtool(t, "check", "rules", path)
	assert.Contains(t, out, fmt.Sprintf("%d rules found", len(rules)))
}

// The dashboard reads only series dr-syncer exports (metrics.txt), and
// shows what operators watch: RPO, throughput, PVC progress, failures,
// the slot queue's and the cluster permit's depth and wait time, and the
// agents' connections.
func TestDashboardReadsExportedSeries(t *testing.T) {
	exported := exportedSeries(t)
	used := map[string]bool{}
	for _, q := range dashboardQueries(t) {
		requireExported(t, exported, q.where, q.expr)
		for _, name := range drsyncerSeries(t, q.expr) {
			used[name] = true
		}
	}
	for _, name := range []string{
		"drsyncer_controller_replication_rpo_seconds",
		"drsyncer_worker_pvc_sync_rate_bytes_per_second",
		"drsyncer_worker_pvc_sync_progress_ratio",
		"drsyncer_controller_replication_consecutive_failures",
		"drsyncer_worker_sync_slot_waiting",
		"drsyncer_worker_sync_slot_wait_seconds_bucket",
		"drsyncer_worker_cluster_permit_queue",
		"drsyncer_worker_cluster_permit_updated_timestamp_seconds",
		"drsyncer_worker_cluster_permit_wait_seconds_bucket",
		"drsyncer_agent_connections_total",
		"drsyncer_agent_connections_active",
		"drsyncer_agent_channels_active",
	} {
		assert.True(t, used[name], "no panel of the dashboard shows %s", name)
	}
}
