package workflows

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Every workflow.GetVersion change ID in this package must have committed
// histories (workflows/testdata) of both its branches: one whose run took
// the change, and one of the same workflow type from before it. Otherwise
// the replay test cannot prove the old branch still replays.
func TestEveryVersionChangeHasHistoriesOfBothBranches(t *testing.T) {
	ids := versionChangeIDs(t)
	require.NotEmpty(t, ids)
	type history struct {
		file, workflowType string
		changes            map[string]bool
		baseline           int // the baseline version it recorded; 0 for none
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	var histories []history
	for _, file := range files {
		f, err := os.Open(file)
		require.NoError(t, err)
		h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		f.Close()
		require.NoError(t, err, file)
		entry := history{file: filepath.Base(file), changes: map[string]bool{},
			workflowType: h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()}
		for _, e := range h.GetEvents() {
			m := e.GetMarkerRecordedEventAttributes()
			if e.GetEventType() != enumspb.EVENT_TYPE_MARKER_RECORDED || m.GetMarkerName() != "Version" {
				continue
			}
			var id string
			var version int
			require.NoError(t, json.Unmarshal(m.GetDetails()["change-id"].GetPayloads()[0].GetData(), &id), file)
			require.NoError(t, json.Unmarshal(m.GetDetails()["version"].GetPayloads()[0].GetData(), &version), file)
			entry.changes[id] = true
			if id == changeBaseline {
				// A baseline marker stands for the changes of its version.
				entry.baseline = version
				entry.changes[fmt.Sprintf("%s@%d", id, version)] = true
				for change, since := range baselineChanges {
					if version >= int(since) {
						entry.changes[change] = true
					}
				}
			}
		}
		histories = append(histories, entry)
	}
	// Each baseline version is a change of its own: its runs and those of
	// the version before replay.
	for v := 2; v <= int(baselineVersion); v++ {
		ids = append(ids, fmt.Sprintf("%s@%d", changeBaseline, v))
	}
	for _, id := range ids {
		types := map[string]bool{}
		for _, h := range histories {
			if h.changes[id] {
				types[h.workflowType] = true
			}
		}
		require.NotEmpty(t, types, "no committed history took change %s: record one (make record-histories)", id)
		for wt := range types {
			old := false
			for _, h := range histories {
				old = old || (h.workflowType == wt && !h.changes[id])
			}
			require.True(t, old, "no committed %s history from before change %s: its old branch is not replayed", wt, id)
		}
	}
	// A baseline version's runs replay beside those of the version just
	// before it, not only beside older ones: each version's branch is
	// replayed, whichever histories later versions add.
	for v := 2; v <= int(baselineVersion); v++ {
		for _, took := range histories {
			if took.baseline != v {
				continue
			}
			before := false
			for _, h := range histories {
				before = before || (h.workflowType == took.workflowType && h.baseline == v-1)
			}
			require.True(t, before, "no committed %s history recorded at baseline version %d beside %s (version %d): "+
				"keep one, or record one on the code of that version", took.workflowType, v-1, took.file, v)
		}
	}
}

// versionChangeIDs reads the change IDs the package's workflows pass to
// hasChange, and the baseline's, from the source, so a new one cannot be
// missed.
func versionChangeIDs(t *testing.T) []string {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	consts := map[string]string{}
	var used []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, ident := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[ident.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "GetVersion" && len(n.Args) > 1 {
					// Every change goes through hasChange, so the baseline
					// stands for those it lists.
					require.Equal(t, "baseline.go", name, "%s calls workflow.GetVersion: call hasChange", fset.Position(n.Pos()))
					if ident, ok := n.Args[1].(*ast.Ident); ok && ident.Name != "changeID" {
						used = append(used, ident.Name)
					}
				}
				if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "hasChange" && len(n.Args) > 1 {
					if ident, ok := n.Args[1].(*ast.Ident); ok {
						used = append(used, ident.Name)
					}
				}
			}
			return true
		})
	}
	var ids []string
	for _, name := range used {
		id, ok := consts[name]
		require.True(t, ok, "GetVersion's change ID %s is not a string constant of this package", name)
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
