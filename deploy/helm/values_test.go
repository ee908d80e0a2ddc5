package helm

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// With TLS on, the Temporal settings every pod reads name files that exist
// in the pods: inside the mount of the Secret the values name.
func TestChartTLSAndCodecFilesAreMounted(t *testing.T) {
	objs := mustTemplate(t, "testdata/all-on.yaml")
	cm := get(find(t, objs, "ConfigMap dr-syncer-system/dr-syncer-temporal"), "data").(map[string]any)
	assert.Equal(t, "temporal.example.net:7233", cm["DRSYNCER_TEMPORAL_ADDRESS"])
	assert.Equal(t, "dr", cm["DRSYNCER_TEMPORAL_NAMESPACE"])
	assert.Equal(t, "dr-syncer-prod", cm["DRSYNCER_TASK_QUEUE"])
	assert.Equal(t, "true", cm["DRSYNCER_TEMPORAL_TLS"])
	assert.Equal(t, "temporal.example.net", cm["DRSYNCER_TEMPORAL_TLS_SERVER_NAME"])
	assert.Equal(t, "https://temporal-ui.example.net", cm["DRSYNCER_TEMPORAL_UI"], "the controller links runs to the Web UI the values name")

	files := map[string]string{ // variable → the Secret its file must come from
		"DRSYNCER_TEMPORAL_TLS_CA":        "temporal-mtls",
		"DRSYNCER_TEMPORAL_TLS_CERT":      "temporal-mtls",
		"DRSYNCER_TEMPORAL_TLS_KEY":       "temporal-mtls",
		"DRSYNCER_PAYLOAD_CODEC_KEY_FILE": "codec-keys",
	}
	for _, pod := range []string{"Deployment dr-syncer-system/dr-syncer-controller", "Deployment dr-syncer-system/dr-syncer-worker", "Job dr-syncer-system/dr-syncer-setup"} {
		spec := get(find(t, objs, pod), "spec", "template", "spec")
		for variable, secret := range files {
			file, _ := cm[variable].(string)
			require.NotEmpty(t, file, "%s is not set", variable)
			assert.Equal(t, secret, secretMountedAt(spec, path.Dir(file)), "%s: %s=%s is not in a mount of Secret %s", pod, variable, file, secret)
		}
	}
	worker := get(find(t, objs, "Deployment dr-syncer-system/dr-syncer-worker"), "spec", "template", "spec")
	env := envOf(get(worker, "containers", 0))
	assert.Equal(t, "0.0.0.0:8089", env["DRSYNCER_CODEC_SERVER_ADDR"])
	assert.Equal(t, "https://temporal-ui.example.net", env["DRSYNCER_CODEC_SERVER_CORS_ORIGIN"])
	token := env["DRSYNCER_CODEC_SERVER_TOKEN_FILE"]
	assert.Equal(t, "codec-token", secretMountedAt(worker, path.Dir(token)), "the codec server's token file %q is not in the token Secret's mount", token)
}

// With defaults TLS stays off and no file is named: the binaries would
// refuse to start on a missing CA or key.
func TestChartDefaultsNameNoTLSFiles(t *testing.T) {
	cm := get(find(t, mustTemplate(t), "ConfigMap dr-syncer-system/dr-syncer-temporal"), "data").(map[string]any)
	for _, v := range []string{"DRSYNCER_TEMPORAL_TLS", "DRSYNCER_TEMPORAL_TLS_CA", "DRSYNCER_TEMPORAL_TLS_CERT", "DRSYNCER_TEMPORAL_TLS_KEY", "DRSYNCER_PAYLOAD_CODEC_KEY_FILE"} {
		assert.Equal(t, "", cm[v], v)
	}
}

// Shared pods are on by default, as in the worker binary.
func TestChartDefaultsShareBatchPods(t *testing.T) {
	wrk := find(t, mustTemplate(t), "Deployment dr-syncer-system/dr-syncer-worker")
	assert.Equal(t, "true", envOf(get(wrk, "spec", "template", "spec", "containers", 0))["DRSYNCER_BATCH_PODS"])
}

// Images, replicas, log level and watched namespaces reach the pods.
func TestChartValuesReachThePods(t *testing.T) {
	objs := mustTemplate(t, "testdata/all-on.yaml")
	ctl := find(t, objs, "Deployment dr-syncer-system/dr-syncer-controller")
	wrk := find(t, objs, "Deployment dr-syncer-system/dr-syncer-worker")
	assert.Equal(t, "registry.example.net/dr-syncer/controller:v1.2.3", get(ctl, "spec", "template", "spec", "containers", 0, "image"))
	assert.Equal(t, "registry.example.net/dr-syncer/worker:v1.2.3", get(wrk, "spec", "template", "spec", "containers", 0, "image"))
	assert.Equal(t, "registry.example.net/dr-syncer/controller:v1.2.3", get(find(t, objs, "Job dr-syncer-system/dr-syncer-setup"), "spec", "template", "spec", "containers", 0, "image"),
		"the setup Job runs drsyncer from the controller image")
	assert.EqualValues(t, 4, get(wrk, "spec", "replicas"))
	assert.Equal(t, "false", envOf(get(wrk, "spec", "template", "spec", "containers", 0))["DRSYNCER_BATCH_PODS"], "worker.batchPods: false gives every PVC sync its own pods")
	ctlEnv := envOf(get(ctl, "spec", "template", "spec", "containers", 0))
	assert.Equal(t, "team-a,team-b", ctlEnv["DRSYNCER_WATCH_NAMESPACES"])
	for _, d := range []object{ctl, wrk} {
		assert.Equal(t, "debug", envOf(get(d, "spec", "template", "spec", "containers", 0))["DRSYNCER_LOG_LEVEL"], key(d))
	}
}

// Each watched namespace gets the Secret Roles a kustomize install gets from
// hack/namespace-rbac; without them the controller cannot read the
// RemoteClusters' kubeconfig Secrets there.
func TestChartWatchNamespacesGetWhatNamespaceRBACPrints(t *testing.T) {
	objs := mustTemplate(t, "testdata/all-on.yaml")
	cmd := exec.Command("go", "run", "./hack/namespace-rbac", "-system-namespace", namespace, "team-a", "team-b")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	require.NoError(t, err, "go run ./hack/namespace-rbac")
	want := decode(t, out)
	require.Len(t, want, 8, "a Role and a RoleBinding per component and namespace")
	for _, w := range want {
		g := find(t, objs, key(w))
		stripHelm(g)
		assert.Equal(t, w, g, "%s: hack/namespace-rbac (expected) and the chart (actual) differ", key(w))
	}
}

// With systemNamespace set, the Secret Roles go there (bound to the
// ServiceAccounts in the release namespace) and both binaries are told.
func TestChartSystemNamespaceMovesSecretAccess(t *testing.T) {
	objs := mustTemplate(t, "testdata/system-namespace.yaml")
	for _, component := range []string{"controller", "worker"} {
		name := "dr-syncer-" + component
		role := find(t, objs, "Role dr-secrets/"+name)
		assert.Contains(t, get(role, "rules", 0, "resources"), "secrets", "%s: the system Role grants Secret access first", key(role))
		binding := find(t, objs, "RoleBinding dr-secrets/"+name)
		assert.Equal(t, namespace, get(binding, "subjects", 0, "namespace"), "%s binds the ServiceAccount where the pods run", key(binding))
		assert.Nil(t, findOrNil(objs, "Role "+namespace+"/"+name), "no Secret Role is left in the release namespace")
		dep := find(t, objs, "Deployment "+namespace+"/"+name)
		assert.Equal(t, "dr-secrets", envOf(get(dep, "spec", "template", "spec", "containers", 0))["DRSYNCER_SYSTEM_NAMESPACE"], key(dep))
	}
}

// The ServiceMonitor scrapes the metrics port of both components: its
// selector matches both metrics Services, which point at the pods' port.
func TestChartServiceMonitorScrapesBothComponents(t *testing.T) {
	objs := mustTemplate(t, "testdata/all-on.yaml")
	sm := find(t, objs, "ServiceMonitor dr-syncer-system/dr-syncer")
	assert.Equal(t, "prometheus", get(sm, "metadata", "labels", "release"), "the label Prometheus selects ServiceMonitors by")
	assert.Equal(t, "metrics", get(sm, "spec", "endpoints", 0, "port"))
	selector := get(sm, "spec", "selector", "matchLabels").(map[string]any)
	for component, port := range map[string]float64{"controller": 8080, "worker": 9090} {
		svc := find(t, objs, "Service dr-syncer-system/dr-syncer-"+component+"-metrics")
		labels := get(svc, "metadata", "labels").(map[string]any)
		for k, v := range selector {
			assert.Equal(t, v, labels[k], "%s: the ServiceMonitor selects %s=%v", key(svc), k, v)
		}
		assert.Equal(t, "metrics", get(svc, "spec", "ports", 0, "name"))
		assert.Equal(t, port, get(svc, "spec", "ports", 0, "port"))
		dep := find(t, objs, "Deployment dr-syncer-system/dr-syncer-"+component)
		for k, v := range get(svc, "spec", "selector").(map[string]any) {
			assert.Equal(t, v, get(dep, "spec", "template", "metadata", "labels", k), "%s selects pods by %s", key(svc), k)
		}
		assert.Equal(t, port, get(dep, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "%s: the metrics port", key(dep))
	}
}

// Monitoring objects need the Prometheus Operator's CRDs: off by default.
// Enabled, the PrometheusRule carries every alert of
// deploy/prometheus/rules.yaml with its expression and annotations as
// Prometheus must see them: Helm must not render their {{ $labels }}.
func TestChartMonitoringIsOptIn(t *testing.T) {
	for _, o := range mustTemplate(t) {
		assert.NotContains(t, []string{"ServiceMonitor", "PrometheusRule"}, o["kind"], "%s rendered with default values", key(o))
	}
	rule := find(t, mustTemplate(t, "testdata/prometheusrule-on.yaml"), "PrometheusRule "+namespace+"/dr-syncer")
	labelled := find(t, mustTemplate(t, "testdata/all-on.yaml"), "PrometheusRule "+namespace+"/dr-syncer")
	assert.Equal(t, "prometheus", get(labelled, "metadata", "labels", "release"), "the label Prometheus selects rules by")

	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "deploy", "prometheus", "rules.yaml"))
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, yaml.Unmarshal(data, &want))
	assert.Equal(t, want["groups"], get(rule, "spec", "groups"), "the PrometheusRule's groups are deploy/prometheus/rules.yaml's: run `make generate`")

	alerts := map[string]any{}
	for _, g := range get(rule, "spec", "groups").([]any) {
		for _, r := range get(g, "rules").([]any) {
			alerts[get(r, "alert").(string)] = r
		}
	}
	for _, name := range []string{
		"DRSyncerRPOAboveTwiceInterval", "DRSyncerRPOAboveThriceInterval", "DRSyncerSyncFailing",
		"DRSyncerPVCSyncStalled", "DRSyncerAgentNotReady", "DRSyncerWorkerNotPolling",
	} {
		require.Contains(t, alerts, name, "the PrometheusRule lacks alert %s", name)
		assert.Regexp(t, `\{\{[^}]*\$labels\.`, get(alerts[name], "annotations", "description"), "%s: Prometheus, not Helm, fills in the labels", name)
	}
}

// envOf returns a container's plain env values by name.
func envOf(container any) map[string]string {
	env := map[string]string{}
	list, _ := get(container, "env").([]any)
	for _, e := range list {
		if v, ok := get(e, "value").(string); ok {
			env[get(e, "name").(string)] = v
		}
	}
	return env
}

// secretMountedAt returns the Secret a pod spec's first container mounts at dir.
func secretMountedAt(podSpec any, dir string) string {
	var volume string
	mounts, _ := get(podSpec, "containers", 0, "volumeMounts").([]any)
	for _, m := range mounts {
		if strings.TrimSuffix(get(m, "mountPath").(string), "/") == dir {
			volume = get(m, "name").(string)
		}
	}
	volumes, _ := get(podSpec, "volumes").([]any)
	for _, v := range volumes {
		if get(v, "name") == volume {
			s, _ := get(v, "secret", "secretName").(string)
			return s
		}
	}
	return ""
}
