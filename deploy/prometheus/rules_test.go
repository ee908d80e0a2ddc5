package prometheus_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// ruleFile is the part of a Prometheus rule file these tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// unitTests is the part of a promtool unit test file these tests read.
type unitTests struct {
	Tests []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			EvalTime  string `json:"eval_time"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func readYAML(t *testing.T, name string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir(), name))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, into), name)
}

// promtool accepts the rules and its unit tests pass (rules_test.yaml:
// series that should page and series that should not).
func TestRulesPassPromtool(t *testing.T) {
	promtool(t, "check", "rules", "rules.yaml")
	promtool(t, "test", "rules", "rules_test.yaml")
}

// Every alert fires in at least one unit test case and stays silent in
// another, so a rule that always or never fires cannot pass.
func TestEveryAlertFiresAndStaysSilentInATest(t *testing.T) {
	var rules ruleFile
	readYAML(t, "rules.yaml", &rules)
	var tests unitTests
	readYAML(t, "rules_test.yaml", &tests)
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, test := range tests.Tests {
		for _, c := range test.AlertRuleTest {
			if len(c.ExpAlerts) > 0 {
				fires[c.Alertname] = true
			} else {
				silent[c.Alertname] = true
			}
		}
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			assert.True(t, fires[r.Alert], "%s: no case in rules_test.yaml expects it to fire", r.Alert)
			assert.True(t, silent[r.Alert], "%s: no case in rules_test.yaml expects it to stay silent", r.Alert)
		}
	}
	assert.Equal(t, 6, alerts, "RPO over 2x and 3x the interval, repeated failures, a stalled PVC sync, an agent not ready, the worker not polling")
}

// An alert tells the one paged what it is (summary), what to do
// (description) and how urgent it is (severity).
func TestEveryAlertSaysWhatToDo(t *testing.T) {
	var rules ruleFile
	readYAML(t, "rules.yaml", &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], "%s: severity label", r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], "%s: summary", r.Alert)
			assert.Regexp(t, "`(kubectl|drsyncer|temporal) [^`]+`", r.Annotations["description"], "%s: the description names a command to run", r.Alert)
		}
	}
}

// The rules read only series dr-syncer exports (metrics.txt).
func TestRulesReadOnlyExportedSeries(t *testing.T) {
	var rules ruleFile
	readYAML(t, "rules.yaml", &rules)
	exported := exportedSeries(t)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			require.NotEmpty(t, drsyncerSeries(t, r.Expr), "%s reads no drsyncer_ series", name)
			requireExported(t, exported, "rule "+name, r.Expr)
		}
	}
}
