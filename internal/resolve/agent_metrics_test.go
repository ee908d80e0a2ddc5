package resolve

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// remoteClusterSpec decodes JSON as the API server does (whole numbers int64).
func remoteClusterSpec(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, utiljson.Unmarshal([]byte(s), &m), s)
	return m
}

// The agent serves metrics unless told not to, at 2223 unless told where;
// a RemoteCluster as the API server stores it (schema defaults applied)
// resolves to the same port as one whose pvcSync.metrics is left out.
func TestAgentConfigMetricsPort(t *testing.T) {
	crd := loadCRD(t, "dr-syncer.io_remoteclusters.yaml")
	for _, tc := range []struct {
		pvcSync string
		want    int32
	}{
		{`{"enabled":true}`, 2223},
		{`{"enabled":true,"metrics":{}}`, 2223},
		{`{"enabled":true,"metrics":{"enabled":true}}`, 2223},
		{`{"enabled":true,"metrics":{"port":9464}}`, 9464},
		{`{"enabled":true,"ssh":{"port":2300},"metrics":{"port":2222}}`, 2222},
		{`{"enabled":true,"metrics":{"enabled":false}}`, 0},
		{`{"enabled":true,"metrics":{"enabled":false,"port":9464}}`, 0},
	} {
		stored, errs := crd.validate(remoteClusterSpec(t, `{"kubeconfigSecretRef":{"name":"k"},"pvcSync":`+tc.pvcSync+`}`))
		require.Empty(t, errs, tc.pvcSync)
		for _, spec := range []map[string]any{stored, remoteClusterSpec(t, `{"pvcSync":`+tc.pvcSync+`}`)} {
			b, err := json.Marshal(spec)
			require.NoError(t, err)
			rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "prod"}}
			require.NoError(t, json.Unmarshal(b, &rc.Spec))
			assert.Equal(t, tc.want, AgentConfig(rc).MetricsPort, "%s", b)
		}
	}
	rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "prod"}}
	assert.Equal(t, drv1.DefaultAgentMetricsPort, AgentConfig(rc).MetricsPort, "no pvcSync at all")
	assert.Equal(t, int32(2223), drv1.DefaultAgentMetricsPort, "the schema's default and its CEL rule say 2223")
}

// The API server refuses a metrics port the agent could not bind, the SSH
// port included when it is only defaulted, and says which field to change.
func TestRemoteClusterCRDRefusesMetricsOnTheSSHPort(t *testing.T) {
	crd := loadCRD(t, "dr-syncer.io_remoteclusters.yaml")
	for _, tc := range []struct {
		pvcSync string
		says    string // "" when admitted
	}{
		{`{"enabled":true,"metrics":{"port":2222}}`, "spec.pvcSync.metrics.port: Invalid value"},
		{`{"enabled":true,"ssh":{"port":2300},"metrics":{"port":2300}}`, "metrics.port (default 2223) must differ from ssh.port (default 2222)"},
		{`{"enabled":true,"ssh":{"port":2223}}`, "metrics.port (default 2223) must differ from ssh.port (default 2222)"}, // both defaulted apart, one moved onto the other
		{`{"enabled":true,"ssh":{},"metrics":{"port":2222}}`, "metrics.port (default 2223) must differ from ssh.port (default 2222)"},
		{`{"enabled":true,"metrics":{"port":80}}`, "spec.pvcSync.metrics.port"},
		{`{"enabled":true,"metrics":{"port":70000}}`, "spec.pvcSync.metrics.port"},
		{`{"enabled":true,"metrics":{"port":2222,"enabled":false}}`, ""}, // off: no clash
		{`{"enabled":true,"ssh":{"port":2300},"metrics":{"port":2222}}`, ""},
		{`{"enabled":true,"ssh":{"port":2223},"metrics":{"port":2222}}`, ""},
		{`{"enabled":true}`, ""},
		{`{"enabled":false}`, ""},
	} {
		_, errs := crd.validate(remoteClusterSpec(t, `{"kubeconfigSecretRef":{"name":"k"},"pvcSync":`+tc.pvcSync+`}`))
		if tc.says == "" {
			assert.Empty(t, errs, tc.pvcSync)
			continue
		}
		assert.Contains(t, strings.Join(errs, "\n"), tc.says, tc.pvcSync)
	}
}
