package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

const validReplication = `
apiVersion: dr-syncer.io/v1alpha1
kind: Replication
metadata:
  name: r
  namespace: default
spec:
  clusterMappingRef: {name: prod-to-dr}
  sourceNamespace: shop
  schedule: "*/15 * * * *"
  pvcConfig:
    dataSyncConfig:
      bandwidthLimit: 1024
      verificationMode: sample
      samplePercent: 10
  retryConfig:
    initialBackoff: 10s
`

func TestCRDValidation(t *testing.T) {
	cluster := testenv.StartCluster(t, "source")
	ctx := context.Background()

	t.Run("samples are accepted", func(t *testing.T) {
		testenv.EnsureNamespace(t, cluster.Client, "dr-syncer-system")
		files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "deploy", "samples", "*.yaml"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		kinds := map[string]bool{}
		for _, f := range files {
			for _, obj := range readObjects(t, f) {
				require.NoError(t, cluster.Client.Create(ctx, obj), "%s: %s %s", filepath.Base(f), obj.GetKind(), obj.GetName())
				kinds[obj.GetKind()] = true
			}
		}
		assert.Equal(t, map[string]bool{"RemoteCluster": true, "ClusterMapping": true, "Replication": true}, kinds)
	})

	t.Run("defaults are applied", func(t *testing.T) {
		obj := parse(t, `
apiVersion: dr-syncer.io/v1alpha1
kind: Replication
metadata: {name: minimal, namespace: default}
spec:
  sourceCluster: prod
  destinationCluster: dr
  sourceNamespace: shop
  pvcConfig: {dataSyncConfig: {}}
`)
		require.NoError(t, cluster.Client.Create(ctx, obj))
		var got drv1.Replication
		require.NoError(t, cluster.Client.Get(ctx, client.ObjectKeyFromObject(obj), &got))
		assert.Equal(t, drv1.ModeScheduled, got.Spec.ReplicationMode)
		require.NotNil(t, got.Spec.ScaleToZero)
		assert.True(t, *got.Spec.ScaleToZero)
		dsc := got.Spec.PVCConfig.DataSyncConfig
		assert.Equal(t, int32(2), dsc.ConcurrentSyncs)
		assert.Equal(t, int32(1), dsc.ParallelStreams)
		assert.Equal(t, drv1.VerifyNone, dsc.VerificationMode)
		assert.Equal(t, drv1.Duration("2h"), dsc.Timeout)
	})

	rejected := []struct {
		name    string
		mutate  func(spec map[string]any)
		wantErr []string // every fragment must appear in the API server's message
	}{
		{"bad cron", func(s map[string]any) { s["schedule"] = "every day at noon" }, []string{"spec.schedule"}},
		{"cron minute out of range", func(s map[string]any) { s["schedule"] = "61 * * * *" }, []string{"spec.schedule"}},
		{"cron with four fields", func(s map[string]any) { s["schedule"] = "* * * *" }, []string{"spec.schedule"}},
		{"unknown replicationMode", func(s map[string]any) { s["replicationMode"] = "Sometimes" }, []string{"spec.replicationMode", "Scheduled", "Continuous", "Manual"}},
		{"negative bandwidthLimit", func(s map[string]any) { dataSync(s)["bandwidthLimit"] = -1 }, []string{"spec.pvcConfig.dataSyncConfig.bandwidthLimit"}},
		{"samplePercent 0", func(s map[string]any) { dataSync(s)["samplePercent"] = 0 }, []string{"spec.pvcConfig.dataSyncConfig.samplePercent"}},
		{"samplePercent 101", func(s map[string]any) { dataSync(s)["samplePercent"] = 101 }, []string{"spec.pvcConfig.dataSyncConfig.samplePercent"}},
		{"bad duration", func(s map[string]any) { s["retryConfig"].(map[string]any)["initialBackoff"] = "10 seconds" }, []string{"spec.retryConfig.initialBackoff"}},
		{"bad timeout unit", func(s map[string]any) { dataSync(s)["timeout"] = "2d" }, []string{"spec.pvcConfig.dataSyncConfig.timeout"}},
		{"unknown verificationMode", func(s map[string]any) { dataSync(s)["verificationMode"] = "paranoid" }, []string{"spec.pvcConfig.dataSyncConfig.verificationMode"}},
		{"no clusterMappingRef and no sourceCluster", func(s map[string]any) { delete(s, "clusterMappingRef") },
			[]string{"spec", "set clusterMappingRef, or both sourceCluster and destinationCluster"}},
		{"clusterMappingRef and sourceCluster together", func(s map[string]any) { s["sourceCluster"] = "prod"; s["destinationCluster"] = "dr" },
			[]string{"spec", "mutually exclusive"}},
		{"missing sourceNamespace", func(s map[string]any) { delete(s, "sourceNamespace") }, []string{"spec.sourceNamespace", "Required"}},
		{"unknown immutable handling", func(s map[string]any) {
			s["immutableResourceConfig"] = map[string]any{"defaultHandling": "Ignore"}
		}, []string{"spec.immutableResourceConfig.defaultHandling"}},
		{"unknown failure mode", func(s map[string]any) { s["failureHandling"] = map[string]any{"defaultMode": "Panic"} }, []string{"spec.failureHandling.defaultMode"}},
	}
	for _, tc := range rejected {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			obj := parse(t, validReplication)
			obj.SetName(strings.ReplaceAll(strings.ToLower(tc.name), " ", "-"))
			tc.mutate(obj.Object["spec"].(map[string]any))
			err := cluster.Client.Create(ctx, obj)
			require.Error(t, err, "the API server accepted an invalid Replication")
			for _, want := range tc.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}

	t.Run("the valid base is accepted", func(t *testing.T) {
		// Guards the table above: each case fails for its own mutation only.
		require.NoError(t, cluster.Client.Create(ctx, parse(t, validReplication)))
	})

	t.Run("rejects a mapping onto itself", func(t *testing.T) {
		err := cluster.Client.Create(ctx, parse(t, `
apiVersion: dr-syncer.io/v1alpha1
kind: ClusterMapping
metadata: {name: loop, namespace: default}
spec: {sourceCluster: prod, targetCluster: prod}
`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "sourceCluster and targetCluster must differ")
	})

	t.Run("rejects a RemoteCluster without kubeconfig and with a bad port", func(t *testing.T) {
		err := cluster.Client.Create(ctx, parse(t, `
apiVersion: dr-syncer.io/v1alpha1
kind: RemoteCluster
metadata: {name: broken, namespace: default}
spec:
  pvcSync: {enabled: true, ssh: {port: 70000}}
`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "spec.kubeconfigSecretRef")
		assert.Contains(t, err.Error(), "spec.pvcSync.ssh.port")
	})

	t.Run("rejects an agent metrics port on its SSH port, and defaults it apart", func(t *testing.T) {
		err := cluster.Client.Create(ctx, parse(t, `
apiVersion: dr-syncer.io/v1alpha1
kind: RemoteCluster
metadata: {name: clash, namespace: default}
spec:
  kubeconfigSecretRef: {name: k}
  pvcSync: {enabled: true, ssh: {port: 2300}, metrics: {port: 2300}}
`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "spec.pvcSync.metrics.port")
		assert.Contains(t, err.Error(), "must differ from ssh.port")

		obj := parse(t, `
apiVersion: dr-syncer.io/v1alpha1
kind: RemoteCluster
metadata: {name: metrics-default, namespace: default}
spec:
  kubeconfigSecretRef: {name: k}
  pvcSync: {enabled: true, ssh: {}, metrics: {}}
`)
		require.NoError(t, cluster.Client.Create(ctx, obj))
		var got drv1.RemoteCluster
		require.NoError(t, cluster.Client.Get(ctx, client.ObjectKeyFromObject(obj), &got))
		require.NotNil(t, got.Spec.PVCSync.Metrics)
		assert.Equal(t, drv1.DefaultAgentMetricsPort, got.Spec.PVCSync.Metrics.Port)
		assert.Equal(t, drv1.DefaultAgentPort, got.Spec.PVCSync.SSH.Port)
		require.NotNil(t, got.Spec.PVCSync.Metrics.Enabled)
		assert.True(t, *got.Spec.PVCSync.Metrics.Enabled)
	})
}

func dataSync(spec map[string]any) map[string]any {
	return spec["pvcConfig"].(map[string]any)["dataSyncConfig"].(map[string]any)
}

func parse(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	objs := decode(t, strings.NewReader(manifest))
	require.Len(t, objs, 1)
	return objs[0]
}

func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return decode(t, bytes.NewReader(data))
}

func decode(t *testing.T, r io.Reader) []*unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(r, 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		require.NoError(t, err)
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}
