package integration

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// One object of every supported kind, as a user would write it.
var everyKind = []struct {
	apiVersion, kind, name, manifest string
	// ignore are the fields that must differ in DR.
	ignore []resPath
}{
	{"v1", "ServiceAccount", "api", `{apiVersion: v1, kind: ServiceAccount, metadata: {name: api}, imagePullSecrets: [{name: registry}]}`, nil},
	{"rbac.authorization.k8s.io/v1", "Role", "reader", `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list]}]`, nil},
	{"rbac.authorization.k8s.io/v1", "RoleBinding", "api-reads", `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: api-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: api}]`, nil},
	{"v1", "ConfigMap", "settings", `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, labels: {app: shop}, annotations: {team: pay}}, data: {mode: prod}}`, nil},
	{"v1", "Secret", "db-password", `{apiVersion: v1, kind: Secret, metadata: {name: db-password}, type: Opaque, stringData: {password: s3cret}}`, nil},
	{"networking.k8s.io/v1", "NetworkPolicy", "deny-all", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress]}`, nil},
	{"v1", "PersistentVolumeClaim", "data", `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {storageClassName: standard, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}`, nil},
	{"v1", "Service", "api", `
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {selector: {app: api}, ports: [{name: http, port: 80, targetPort: 8080}]}`,
		[]resPath{{"spec", "clusterIP"}, {"spec", "clusterIPs"}}},
	{"apps/v1", "Deployment", "api", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {serviceAccountName: api, containers: [{name: api, image: "shop/api:1", envFrom: [{configMapRef: {name: settings}}]}]}`,
		[]resPath{{"spec", "replicas"}}},
	{"apps/v1", "StatefulSet", "db", `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: "postgres:16"}]}}
  volumeClaimTemplates: [{metadata: {name: pgdata}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]`,
		[]resPath{{"spec", "replicas"}}},
	{"apps/v1", "DaemonSet", "agent", `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec: {selector: {matchLabels: {app: agent}}, template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: "agent:1"}]}}}`, nil},
	{"batch/v1", "CronJob", "nightly", `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec: {schedule: "0 1 * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: "report:1"}]}}}}}`,
		[]resPath{{"spec", "suspend"}}},
	{"batch/v1", "Job", "migrate", `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: "migrate:1"}]}}}`,
		// The API server generates these from the Job's UID.
		[]resPath{{"spec", "suspend"}, {"spec", "selector"},
			{"metadata", "labels", "controller-uid"}, {"metadata", "labels", "batch.kubernetes.io/controller-uid"},
			{"spec", "template", "metadata", "labels", "controller-uid"}, {"spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"}}},
	{"autoscaling/v2", "HorizontalPodAutoscaler", "api", `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}, minReplicas: 2, maxReplicas: 5}`, nil},
	{"networking.k8s.io/v1", "Ingress", "web", `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, annotations: {nginx.ingress.kubernetes.io/ssl-redirect: "true"}}
spec:
  ingressClassName: nginx
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}}]`, nil},
}

func TestResourceReplication(t *testing.T) {
	s := newResourceSuite(t)

	t.Run("every supported type, with \"*\"", func(t *testing.T) {
		src := "every-kind"
		for _, k := range everyKind {
			resCreate(t, s.env.Source, src, k.manifest)
		}
		plan := s.plan(t, src, "every-kind-dr", nil)
		res := s.mustSync(t, plan)
		for _, k := range everyKind {
			resAssertReplica(t, plan, resGet(t, s.env.Source, k.apiVersion, k.kind, src, k.name),
				resGet(t, s.env.DR, k.apiVersion, k.kind, plan.DestinationNamespace, k.name), k.ignore...)
			assert.Equal(t, contract.StateSynced, resStatus(t, res, k.kind, k.name).State)
		}
		var kinds []string
		for _, g := range res.Groups {
			kinds = append(kinds, g.Kind)
		}
		var supported []string
		for _, k := range resources.Supported() {
			supported = append(supported, k.Kind)
		}
		assert.Equal(t, supported, kinds, "\"*\" replicates every supported kind, in dependency order")
		assert.Equal(t, len(everyKind), res.Synced)
		assert.True(t, res.Changed)
	})

	t.Run("resourceTypes pick kinds case-insensitively; unknown ones are reported", func(t *testing.T) {
		src := "picked"
		resCreate(t, s.env.Source, src, everyKind[3].manifest, everyKind[4].manifest, everyKind[7].manifest, everyKind[8].manifest)
		plan := s.plan(t, src, "picked-dr", func(spec *drv1.ReplicationSpec) {
			spec.ResourceTypes = []string{"CONFIGMAPS", "secret", "svc", "widgets"}
		})
		res, err := s.sync(t, plan)
		require.NoError(t, err, "resourceNotFound defaults to RetryAndWait: reported, not fatal")
		assert.Equal(t, "settings", resGet(t, s.env.DR, "v1", "ConfigMap", "picked-dr", "settings").GetName())
		assert.Equal(t, "db-password", resGet(t, s.env.DR, "v1", "Secret", "picked-dr", "db-password").GetName())
		assert.Equal(t, "api", resGet(t, s.env.DR, "v1", "Service", "picked-dr", "api").GetName())
		assert.True(t, resGone(t, s.env.DR, "apps/v1", "Deployment", "picked-dr", "api"), "Deployments were not asked for")
		unknown := resStatus(t, res, "widgets", "")
		assert.Equal(t, contract.StateFailed, unknown.State)
		assert.Equal(t, contract.CategoryNotFound, unknown.Category)
		assert.Equal(t, 1, res.Failed)

		plan.Spec.FailureHandling.ResourceNotFound = contract.FailureFailFast
		_, err = s.sync(t, plan)
		require.Error(t, err, "resourceNotFound FailFast fails the run")
		assert.Contains(t, err.Error(), `unknown resource type "widgets"`)
	})

	t.Run("ignore label and objects every cluster makes for itself", func(t *testing.T) {
		src := "ignored"
		resCreate(t, s.env.Source, src,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: kept}, data: {a: b}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: private, labels: {dr-syncer.io/ignore: "true"}}, data: {a: b}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: kube-root-ca.crt}, data: {ca.crt: x}}`,
			`{apiVersion: v1, kind: ServiceAccount, metadata: {name: default}}`,
			`{apiVersion: v1, kind: Secret, metadata: {name: tok, annotations: {kubernetes.io/service-account.name: default}}, type: kubernetes.io/service-account-token}`)
		plan := s.plan(t, src, "ignored-dr", nil)
		res := s.mustSync(t, plan)
		assert.False(t, resGone(t, s.env.DR, "v1", "ConfigMap", "ignored-dr", "kept"))
		for _, o := range []struct{ kind, name string }{{"ConfigMap", "private"}, {"ConfigMap", "kube-root-ca.crt"}, {"ServiceAccount", "default"}, {"Secret", "tok"}} {
			assert.True(t, resGone(t, s.env.DR, "v1", o.kind, "ignored-dr", o.name), "%s %s must not be replicated", o.kind, o.name)
		}
		skipped := resStatus(t, res, "ConfigMap", "private")
		assert.Equal(t, contract.StateSkipped, skipped.State)
		assert.Equal(t, "labelled dr-syncer.io/ignore=true", skipped.Error)
	})

	t.Run("scale to zero, the override and original-replicas", func(t *testing.T) {
		src := "scaling"
		deployment := func(name string, replicas int, annotations string) string {
			return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, annotations: {%s}}
spec: {replicas: %d, selector: {matchLabels: {app: %s}}, template: {metadata: {labels: {app: %s}}, spec: {containers: [{name: c, image: i}]}}}`,
				name, annotations, replicas, name, name)
		}
		resCreate(t, s.env.Source, src, deployment("web", 3, ""), deployment("pinned", 2, `dr-syncer.io/scale-override: "true"`), `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec: {replicas: 2, serviceName: db, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, image: i}]}}}`)
		plan := s.plan(t, src, "scaling-dr", nil)
		res := s.mustSync(t, plan)

		web := resGet(t, s.env.DR, "apps/v1", "Deployment", "scaling-dr", "web")
		replicas, _, _ := unstructured.NestedInt64(web.Object, "spec", "replicas")
		assert.Equal(t, int64(0), replicas)
		assert.Equal(t, "3", web.GetAnnotations()[drv1.AnnotationOriginalReplicas])
		db := resGet(t, s.env.DR, "apps/v1", "StatefulSet", "scaling-dr", "db")
		replicas, _, _ = unstructured.NestedInt64(db.Object, "spec", "replicas")
		assert.Equal(t, int64(0), replicas)
		assert.Equal(t, "2", db.GetAnnotations()[drv1.AnnotationOriginalReplicas])
		pinned := resGet(t, s.env.DR, "apps/v1", "Deployment", "scaling-dr", "pinned")
		resAssertReplica(t, plan, resGet(t, s.env.Source, "apps/v1", "Deployment", src, "pinned"), pinned)
		assert.NotContains(t, pinned.GetAnnotations(), drv1.AnnotationOriginalReplicas)
		assert.ElementsMatch(t, []contract.WorkloadScale{
			{Kind: "Deployment", Name: "web", OriginalReplicas: 3, DRReplicas: 0},
			{Kind: "StatefulSet", Name: "db", OriginalReplicas: 2, DRReplicas: 0},
		}, res.Scales, "deploymentScales lists what was scaled, not the override")

		off := s.plan(t, src, "scaling-off-dr", func(spec *drv1.ReplicationSpec) { spec.ScaleToZero = new(bool) })
		res = s.mustSync(t, off)
		resAssertReplica(t, off, resGet(t, s.env.Source, "apps/v1", "Deployment", src, "web"),
			resGet(t, s.env.DR, "apps/v1", "Deployment", "scaling-off-dr", "web"))
		assert.Empty(t, res.Scales)
	})

	t.Run("every Service type, headless included", func(t *testing.T) {
		src := "services"
		resCreate(t, s.env.Source, src,
			`{apiVersion: v1, kind: Service, metadata: {name: cluster-ip}, spec: {type: ClusterIP, selector: {app: a}, ports: [{port: 80}]}}`,
			`{apiVersion: v1, kind: Service, metadata: {name: node-port}, spec: {type: NodePort, selector: {app: a}, ports: [{port: 80, nodePort: 30080}]}}`,
			`{apiVersion: v1, kind: Service, metadata: {name: lb}, spec: {type: LoadBalancer, externalTrafficPolicy: Local, selector: {app: a}, ports: [{port: 443}]}}`,
			`{apiVersion: v1, kind: Service, metadata: {name: external}, spec: {type: ExternalName, externalName: db.example.com}}`,
			`{apiVersion: v1, kind: Service, metadata: {name: headless}, spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}}`)
		plan := s.plan(t, src, "services-dr", func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"services"} })
		s.mustSync(t, plan)
		allocated := []resPath{{"spec", "clusterIP"}, {"spec", "clusterIPs"}, {"spec", "ports"}, {"spec", "healthCheckNodePort"}}
		for _, name := range []string{"cluster-ip", "node-port", "lb", "external", "headless"} {
			srcSvc := resGet(t, s.env.Source, "v1", "Service", src, name)
			drSvc := resGet(t, s.env.DR, "v1", "Service", "services-dr", name)
			resAssertReplica(t, plan, srcSvc, drSvc, allocated...)
			// Ports equal but for the node ports DR allocated itself.
			assert.Equal(t, ports(srcSvc, false), ports(drSvc, false), name)
		}
		headless := resGet(t, s.env.DR, "v1", "Service", "services-dr", "headless")
		ip, _, _ := unstructured.NestedString(headless.Object, "spec", "clusterIP")
		assert.Equal(t, "None", ip, "headless stays headless")
		for _, name := range []string{"node-port", "lb"} {
			for _, p := range ports(resGet(t, s.env.DR, "v1", "Service", "services-dr", name), true) {
				assert.NotZero(t, p["nodePort"], "%s: DR allocates its own node port", name)
			}
		}
		lb := resGet(t, s.env.DR, "v1", "Service", "services-dr", "lb")
		hc, _, _ := unstructured.NestedInt64(lb.Object, "spec", "healthCheckNodePort")
		assert.NotZero(t, hc, "DR allocated its own health-check node port")
	})

	t.Run("Ingress options", func(t *testing.T) {
		src := "ingress"
		resCreate(t, s.env.Source, src, everyKind[len(everyKind)-1].manifest, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: default-backend}
spec: {defaultBackend: {service: {name: api, port: {number: 80}}}, rules: [{host: api.example.com}]}`)
		kept := s.plan(t, src, "ingress-kept-dr", func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"ingress"} })
		s.mustSync(t, kept)
		for _, name := range []string{"web", "default-backend"} {
			resAssertReplica(t, kept, resGet(t, s.env.Source, "networking.k8s.io/v1", "Ingress", src, name),
				resGet(t, s.env.DR, "networking.k8s.io/v1", "Ingress", "ingress-kept-dr", name))
		}

		stripped := s.plan(t, src, "ingress-stripped-dr", func(spec *drv1.ReplicationSpec) {
			spec.ResourceTypes = []string{"ingress"}
			f := false
			spec.IngressConfig = &drv1.IngressConfig{PreserveAnnotations: &f, PreserveTLS: &f, PreserveBackends: &f}
		})
		s.mustSync(t, stripped)
		dr := resGet(t, s.env.DR, "networking.k8s.io/v1", "Ingress", "ingress-stripped-dr", "web")
		resAssertReplica(t, stripped, resGet(t, s.env.Source, "networking.k8s.io/v1", "Ingress", src, "web"), dr,
			resPath{"metadata", "annotations"}, resPath{"spec", "tls"}, resPath{"spec", "rules"})
		assert.NotContains(t, dr.GetAnnotations(), "nginx.ingress.kubernetes.io/ssl-redirect")
		_, hasTLS, _ := unstructured.NestedSlice(dr.Object, "spec", "tls")
		assert.False(t, hasTLS)
		rules, _, _ := unstructured.NestedSlice(dr.Object, "spec", "rules")
		assert.Equal(t, []any{map[string]any{"host": "shop.example.com"}}, rules, "hosts stay, backends go")
		db := resGet(t, s.env.DR, "networking.k8s.io/v1", "Ingress", "ingress-stripped-dr", "default-backend")
		_, hasDefault, _ := unstructured.NestedMap(db.Object, "spec", "defaultBackend")
		assert.False(t, hasDefault)
	})

	t.Run("same-name and renamed namespace, references rewritten", func(t *testing.T) {
		objects := []string{
			`{apiVersion: v1, kind: ServiceAccount, metadata: {name: api}}`,
			`{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: rb}, roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}, subjects: [{kind: ServiceAccount, name: api, namespace: NS}, {kind: ServiceAccount, name: prometheus, namespace: monitoring}]}`,
			`{apiVersion: v1, kind: Service, metadata: {name: db-alias}, spec: {type: ExternalName, externalName: db.NS.svc.cluster.local}}`,
			`{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: same-ns}, spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: NS}}}]}]}}`,
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: api}, spec: {replicas: 1, selector: {matchLabels: {app: api}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c, image: i, env: [{name: DB_HOST, value: db.NS.svc.cluster.local}]}]}}}}`,
		}
		for _, tc := range []struct{ src, dst string }{{"mapped", "mapped"}, {"orig", "renamed"}} {
			t.Run(tc.src+" to "+tc.dst, func(t *testing.T) {
				// Same-name needs its own source namespace, since source and DR are different clusters.
				testenv.EnsureNamespace(t, s.env.Source.Client, tc.src)
				ns := resGet(t, s.env.Source, "v1", "Namespace", "", tc.src)
				ns.SetLabels(map[string]string{"team": "shop"})
				ns.SetAnnotations(map[string]string{"owner": "alice"})
				require.NoError(t, s.env.Source.Client.Update(context.Background(), ns))
				for _, m := range objects {
					resCreate(t, s.env.Source, tc.src, strings.ReplaceAll(m, "NS", tc.src))
				}
				plan := s.plan(t, tc.src, tc.dst, nil)
				res := s.mustSync(t, plan)
				assert.True(t, res.Namespace.Created)

				drNS := resGet(t, s.env.DR, "v1", "Namespace", "", tc.dst)
				assert.Equal(t, "shop", drNS.GetLabels()["team"])
				assert.Equal(t, tc.dst, drNS.GetLabels()["kubernetes.io/metadata.name"])
				assert.Equal(t, "alice", drNS.GetAnnotations()["owner"])
				assert.Equal(t, "source/"+tc.src, drNS.GetAnnotations()[resources.AnnotationSource])

				rb := resGet(t, s.env.DR, "rbac.authorization.k8s.io/v1", "RoleBinding", tc.dst, "rb")
				subjects, _, _ := unstructured.NestedSlice(rb.Object, "subjects")
				assert.Equal(t, tc.dst, subjects[0].(map[string]any)["namespace"])
				assert.Equal(t, "monitoring", subjects[1].(map[string]any)["namespace"], "other namespaces stay")
				svc := resGet(t, s.env.DR, "v1", "Service", tc.dst, "db-alias")
				name, _, _ := unstructured.NestedString(svc.Object, "spec", "externalName")
				assert.Equal(t, "db."+tc.dst+".svc.cluster.local", name)
				np := resGet(t, s.env.DR, "networking.k8s.io/v1", "NetworkPolicy", tc.dst, "same-ns")
				from, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
				assert.Contains(t, fmt.Sprint(from), "kubernetes.io/metadata.name:"+tc.dst+"]")
				dep := resGet(t, s.env.DR, "apps/v1", "Deployment", tc.dst, "api")
				containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
				assert.Equal(t, "db."+tc.dst+".svc.cluster.local", containers[0].(map[string]any)["env"].([]any)[0].(map[string]any)["value"])

				// Everything else is the same object.
				resAssertReplica(t, plan, resGet(t, s.env.Source, "rbac.authorization.k8s.io/v1", "RoleBinding", tc.src, "rb"), rb, resPath{"subjects"})
				resAssertReplica(t, plan, resGet(t, s.env.Source, "apps/v1", "Deployment", tc.src, "api"), dep,
					resPath{"spec", "replicas"}, resPath{"spec", "template", "spec", "containers"})
			})
		}
	})

	t.Run("storage class and access mode mapping", func(t *testing.T) {
		src := "pvc-map"
		resCreate(t, s.env.Source, src, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, annotations: {volume.kubernetes.io/selected-node: node-7, backup: daily}}
spec: {storageClassName: fast-ssd, accessModes: [ReadWriteOnce], volumeMode: Block, resources: {requests: {storage: 3Gi}}}`)
		plan := s.plan(t, src, "pvc-map-dr", func(spec *drv1.ReplicationSpec) {
			spec.ResourceTypes = []string{"pvc"}
			spec.PVCConfig = &drv1.PVCConfig{
				StorageClassMappings: []drv1.Mapping{{From: "fast-ssd", To: "dr-ssd"}},
				AccessModeMappings:   []drv1.AccessModeMapping{{From: "ReadWriteOnce", To: "ReadWriteMany"}},
			}
		})
		s.mustSync(t, plan)
		srcPVC := resGet(t, s.env.Source, "v1", "PersistentVolumeClaim", src, "data")
		dr := resGet(t, s.env.DR, "v1", "PersistentVolumeClaim", "pvc-map-dr", "data")
		resAssertReplica(t, plan, srcPVC, dr, resPath{"spec", "storageClassName"}, resPath{"spec", "accessModes"},
			resPath{"metadata", "annotations", "volume.kubernetes.io/selected-node"})
		class, _, _ := unstructured.NestedString(dr.Object, "spec", "storageClassName")
		assert.Equal(t, "dr-ssd", class)
		modes, _, _ := unstructured.NestedStringSlice(dr.Object, "spec", "accessModes")
		assert.Equal(t, []string{"ReadWriteMany"}, modes)
		mode, _, _ := unstructured.NestedString(dr.Object, "spec", "volumeMode")
		assert.Equal(t, "Block", mode, "the volume mode is always copied: a Filesystem copy of a Block volume is no copy")
		assert.NotContains(t, dr.GetAnnotations(), "volume.kubernetes.io/selected-node", "a source node means nothing in DR")

		preserved := s.plan(t, src, "pvc-preserve-dr", func(spec *drv1.ReplicationSpec) {
			spec.ResourceTypes = []string{"pvc"}
			spec.PVCConfig = &drv1.PVCConfig{PreserveVolumeAttributes: true}
		})
		s.mustSync(t, preserved)
		dr = resGet(t, s.env.DR, "v1", "PersistentVolumeClaim", "pvc-preserve-dr", "data")
		resAssertReplica(t, preserved, srcPVC, dr, resPath{"metadata", "annotations", "volume.kubernetes.io/selected-node"})
	})

	t.Run("volume name preserved with syncPersistentVolumes", func(t *testing.T) {
		src := "pv-sync"
		resCreate(t, s.env.Source, "", `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-sync-nfs}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: nfs
  nfs: {server: nfs.example.com, path: /exports/shop}
  claimRef: {namespace: pv-sync, name: shared}`)
		resCreate(t, s.env.Source, src, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec: {storageClassName: nfs, accessModes: [ReadWriteMany], volumeName: pv-sync-nfs, resources: {requests: {storage: 2Gi}}}`)

		without := s.plan(t, src, "pv-sync-off-dr", func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"pvc"} })
		s.mustSync(t, without)
		off := resGet(t, s.env.DR, "v1", "PersistentVolumeClaim", "pv-sync-off-dr", "shared")
		_, hasVolume, _ := unstructured.NestedString(off.Object, "spec", "volumeName")
		assert.False(t, hasVolume, "without syncPersistentVolumes DR provisions its own volume")
		assert.True(t, resGone(t, s.env.DR, "v1", "PersistentVolume", "", "pv-sync-nfs"))

		with := s.plan(t, src, "pv-sync-dr", func(spec *drv1.ReplicationSpec) {
			spec.ResourceTypes = []string{"pvc"}
			spec.PVCConfig = &drv1.PVCConfig{SyncPersistentVolumes: true}
		})
		res := s.mustSync(t, with)
		resAssertReplica(t, with, resGet(t, s.env.Source, "v1", "PersistentVolumeClaim", src, "shared"),
			resGet(t, s.env.DR, "v1", "PersistentVolumeClaim", "pv-sync-dr", "shared"))
		pv := resGet(t, s.env.DR, "v1", "PersistentVolume", "", "pv-sync-nfs")
		resAssertReplica(t, with, resGet(t, s.env.Source, "v1", "PersistentVolume", "", "pv-sync-nfs"), pv,
			resPath{"spec", "claimRef"}, resPath{"spec", "persistentVolumeReclaimPolicy"})
		policy, _, _ := unstructured.NestedString(pv.Object, "spec", "persistentVolumeReclaimPolicy")
		assert.Equal(t, "Retain", policy, "deleting the DR claim must never delete shared storage")
		claim, _, _ := unstructured.NestedStringMap(pv.Object, "spec", "claimRef")
		assert.Equal(t, "pv-sync-dr", claim["namespace"])
		assert.Equal(t, "shared", claim["name"])
		assert.Equal(t, contract.StateSynced, resStatus(t, res, "PersistentVolume", "pv-sync-nfs").State)
	})

	t.Run("pruning removes what dr-syncer made and nothing else", func(t *testing.T) {
		src, dst := "prune", "prune-dr"
		resCreate(t, s.env.Source, src,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: stays}, data: {a: b}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: goes}, data: {a: b}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: taken}, data: {from: source}}`)
		resCreate(t, s.env.DR, dst,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: foreign}, data: {made: by-hand}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: taken}, data: {made: by-hand}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: other-replication, labels: {app.kubernetes.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/replication: elsewhere/other, dr-syncer.io/source: source/x/other-replication}}}`)
		plan := s.plan(t, src, dst, func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"configmaps"} })
		res, err := s.sync(t, plan)
		require.NoError(t, err)
		taken := resStatus(t, res, "ConfigMap", "taken")
		assert.Equal(t, contract.StateFailed, taken.State, "a name a user already uses in DR is a conflict")
		assert.Equal(t, contract.CategoryConflict, taken.Category)
		assert.Equal(t, map[string]any{"made": "by-hand"}, resGet(t, s.env.DR, "v1", "ConfigMap", dst, "taken").Object["data"])
		require.False(t, resGone(t, s.env.DR, "v1", "ConfigMap", dst, "goes"))

		resRemove(t, s.env.Source, "v1", "ConfigMap", src, "goes")
		res, err = s.sync(t, plan)
		require.NoError(t, err)
		assert.True(t, resGone(t, s.env.DR, "v1", "ConfigMap", dst, "goes"), "its source is gone")
		assert.Equal(t, "Prune", resStatus(t, res, "ConfigMap", "goes").Action)
		for _, name := range []string{"stays", "foreign", "taken", "other-replication"} {
			assert.False(t, resGone(t, s.env.DR, "v1", "ConfigMap", dst, name), "%s must survive", name)
		}
		assert.NotContains(t, resGet(t, s.env.DR, "v1", "ConfigMap", dst, "foreign").GetLabels(), resources.LabelManagedBy, "foreign objects are never touched")

		// The Replication now names a source namespace that does not exist.
		missing := s.plan(t, "prune-no-such-namespace", dst, func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"configmaps"} })
		res, err = s.sync(t, missing)
		require.NoError(t, err, "validationFailure RetryAndWait: reported, the next sync tries again")
		ns := resStatus(t, res, "Namespace", "")
		assert.Equal(t, contract.CategoryValidation, ns.Category)
		assert.Contains(t, ns.Error, "source namespace prune-no-such-namespace does not exist")
		for _, name := range []string{"stays", "taken"} {
			assert.False(t, resGone(t, s.env.DR, "v1", "ConfigMap", dst, name), "an invalid spec deletes nothing")
		}
	})

	t.Run("a resync with nothing changed writes nothing", func(t *testing.T) {
		src := "steady"
		for _, k := range everyKind {
			resCreate(t, s.env.Source, src, k.manifest)
		}
		plan := s.plan(t, src, "steady-dr", nil)
		first := s.mustSync(t, plan)
		require.True(t, first.Changed)
		before := versions(t, s, plan, everyKind)
		again := s.mustSync(t, plan)
		assert.False(t, again.Changed, "nothing changed: the controller skips its status write")
		for _, r := range again.Resources {
			assert.Equal(t, "None", r.Action, "%s %s", r.Kind, r.Name)
		}
		assert.Equal(t, before, versions(t, s, plan, everyKind), "no DR object was written")

		cm := resGet(t, s.env.Source, "v1", "ConfigMap", src, "settings")
		cm.Object["data"] = map[string]any{"mode": "changed"}
		require.NoError(t, s.env.Source.Client.Update(context.Background(), cm))
		third := s.mustSync(t, plan)
		assert.True(t, third.Changed)
		assert.Equal(t, "Update", resStatus(t, third, "ConfigMap", "settings").Action)
		assert.Equal(t, map[string]any{"mode": "changed"}, resGet(t, s.env.DR, "v1", "ConfigMap", "steady-dr", "settings").Object["data"])
	})

	t.Run("immutable fields", func(t *testing.T) {
		s.testImmutableHandling(t)
	})
}

func (s *resourceSuite) testImmutableHandling(t *testing.T) {
	deployment := func(app, image string) string {
		return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 2, selector: {matchLabels: {app: %s}}, template: {metadata: {labels: {app: %s}}, spec: {containers: [{name: c, image: "%s"}]}}}`, app, app, image)
	}
	// setup syncs web (selector app=web) to DR, then changes the source's
	// selector, which a Deployment cannot change in place.
	setup := func(t *testing.T, src string, edit func(*drv1.ReplicationSpec)) (contract.ReplicationPlan, *unstructured.Unstructured) {
		resCreate(t, s.env.Source, src, deployment("web", "web:1"))
		plan := s.plan(t, src, src+"-dr", func(spec *drv1.ReplicationSpec) {
			spec.ResourceTypes = []string{"deployments"}
			spec.ScaleToZero = new(bool)
			edit(spec)
		})
		s.mustSync(t, plan)
		before := resGet(t, s.env.DR, "apps/v1", "Deployment", plan.DestinationNamespace, "web")
		resRemove(t, s.env.Source, "apps/v1", "Deployment", src, "web")
		resCreate(t, s.env.Source, src, deployment("web2", "web:2"))
		return plan, before
	}
	mode := func(h drv1.ImmutableHandling) func(*drv1.ReplicationSpec) {
		return func(spec *drv1.ReplicationSpec) {
			spec.ImmutableResourceConfig = &drv1.ImmutableResourceConfig{DefaultHandling: h, ForceDeleteTimeout: "10s"}
		}
	}
	selectorOf := func(u *unstructured.Unstructured) string {
		sel, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
		return sel["app"]
	}

	t.Run("NoChange keeps the DR object and says why", func(t *testing.T) {
		plan, before := setup(t, "imm-nochange", mode(drv1.ImmutableNoChange))
		res := s.mustSync(t, plan)
		after := resGet(t, s.env.DR, "apps/v1", "Deployment", plan.DestinationNamespace, "web")
		assert.Equal(t, before.GetResourceVersion(), after.GetResourceVersion(), "not written")
		st := resStatus(t, res, "Deployment", "web")
		assert.Equal(t, contract.StateSkipped, st.State)
		assert.Contains(t, st.Error, "immutable fields spec.selector changed in the source")
	})
	for _, h := range []drv1.ImmutableHandling{drv1.ImmutableRecreate, drv1.ImmutableForceUpdate} {
		t.Run(string(h)+" replaces the DR object", func(t *testing.T) {
			plan, before := setup(t, "imm-"+strings.ToLower(string(h)), mode(h))
			res := s.mustSync(t, plan)
			after := resGet(t, s.env.DR, "apps/v1", "Deployment", plan.DestinationNamespace, "web")
			assert.NotEqual(t, before.GetUID(), after.GetUID(), "a new object")
			resAssertReplica(t, plan, resGet(t, s.env.Source, "apps/v1", "Deployment", plan.SourceNamespace, "web"), after)
			assert.Equal(t, contract.StateSynced, resStatus(t, res, "Deployment", "web").State)
		})
	}
	t.Run("PartialUpdate updates what it can and keeps the selector", func(t *testing.T) {
		plan, before := setup(t, "imm-partial", mode(drv1.ImmutablePartialUpdate))
		res := s.mustSync(t, plan)
		after := resGet(t, s.env.DR, "apps/v1", "Deployment", plan.DestinationNamespace, "web")
		assert.Equal(t, before.GetUID(), after.GetUID(), "the same object")
		assert.Equal(t, "web", selectorOf(after))
		containers, _, _ := unstructured.NestedSlice(after.Object, "spec", "template", "spec", "containers")
		assert.Equal(t, "web:2", containers[0].(map[string]any)["image"])
		assert.Equal(t, "PartialUpdate", resStatus(t, res, "Deployment", "web").Action)
	})
	t.Run("per-kind override beats the default", func(t *testing.T) {
		plan, before := setup(t, "imm-override", func(spec *drv1.ReplicationSpec) {
			spec.ImmutableResourceConfig = &drv1.ImmutableResourceConfig{DefaultHandling: drv1.ImmutableNoChange,
				ResourceOverrides: map[string]drv1.ImmutableHandling{"Deployments": drv1.ImmutableRecreate}}
		})
		s.mustSync(t, plan)
		after := resGet(t, s.env.DR, "apps/v1", "Deployment", plan.DestinationNamespace, "web")
		assert.NotEqual(t, before.GetUID(), after.GetUID())
		assert.Equal(t, "web2", selectorOf(after))
	})
	t.Run("RecreateWithPodDrain scales down, drains, deletes, then creates", func(t *testing.T) {
		plan, before := setup(t, "imm-drain", func(spec *drv1.ReplicationSpec) {
			spec.ImmutableResourceConfig = &drv1.ImmutableResourceConfig{DefaultHandling: drv1.ImmutableRecreateWithPodDrain,
				DrainTimeout: "1s", ForceDeleteTimeout: "10s"}
		})
		dst := plan.DestinationNamespace
		// A pod of the DR Deployment; with no controller or kubelet it only
		// goes when the drain timeout forces it.
		resCreate(t, s.env.DR, dst, `{apiVersion: v1, kind: ServiceAccount, metadata: {name: default}}`,
			`{apiVersion: v1, kind: Pod, metadata: {name: web-1, labels: {app: web}}, spec: {containers: [{name: c, image: "web:1"}]}}`)
		events := watchEvents(t, s, dst)
		res := s.mustSync(t, plan)
		after := resGet(t, s.env.DR, "apps/v1", "Deployment", dst, "web")
		assert.NotEqual(t, before.GetUID(), after.GetUID())
		assert.Equal(t, "web2", selectorOf(after))
		assert.True(t, resGone(t, s.env.DR, "v1", "Pod", dst, "web-1"))
		st := resStatus(t, res, "Deployment", "web")
		assert.Equal(t, "RecreateWithPodDrain", st.Action)
		assert.Contains(t, st.Detail, "drainTimeout 1s passed with 1 pods left; force-deleted them")

		got := events.stop(t)
		assert.Equal(t, []string{
			"MODIFIED Deployment web replicas=0 uid=old", // scaled down first
			"DELETED Pod web-1",                          // drained (forced after drainTimeout)
			"DELETED Deployment web replicas=0 uid=old",  // then deleted
			"ADDED Deployment web replicas=2 uid=new",    // and created again
		}, got)
	})
}

func ports(svc *unstructured.Unstructured, withNodePorts bool) []map[string]any {
	raw, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	var out []map[string]any
	for _, p := range raw {
		m := p.(map[string]any)
		if !withNodePorts {
			delete(m, "nodePort")
		}
		out = append(out, m)
	}
	return out
}

// versions are the resourceVersions of the DR namespace and its copies of objects.
func versions(t *testing.T, s *resourceSuite, plan contract.ReplicationPlan, objects []struct {
	apiVersion, kind, name, manifest string
	ignore                           []resPath
}) map[string]string {
	out := map[string]string{"Namespace": resGet(t, s.env.DR, "v1", "Namespace", "", plan.DestinationNamespace).GetResourceVersion()}
	for _, o := range objects {
		out[o.kind+"/"+o.name] = resGet(t, s.env.DR, o.apiVersion, o.kind, plan.DestinationNamespace, o.name).GetResourceVersion()
	}
	return out
}

// eventLog records Deployment and Pod events of a DR namespace in the
// order the API server stored them.
type eventLog struct {
	mu       sync.Mutex
	events   []recorded
	watchers []watch.Interface
	done     sync.WaitGroup
	firstUID types.UID
}

type recorded struct {
	rv   int
	line string
}

func watchEvents(t *testing.T, s *resourceSuite, ns string) *eventLog {
	cs, err := kubernetes.NewForConfig(s.env.DR.Config)
	require.NoError(t, err)
	ctx := context.Background()
	l := &eventLog{firstUID: resGet(t, s.env.DR, "apps/v1", "Deployment", ns, "web").GetUID()}
	// Watching from the lists' resourceVersions: only changes, no initial ADDED events.
	dl, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	deployments, err := cs.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: dl.ResourceVersion})
	require.NoError(t, err)
	pl, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	pods, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: pl.ResourceVersion})
	require.NoError(t, err)
	l.watchers = []watch.Interface{deployments, pods}
	for _, w := range l.watchers {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for ev := range w.ResultChan() {
				var line string
				var meta metav1.Object
				switch o := ev.Object.(type) {
				case *appsv1.Deployment:
					uid := "new"
					if o.UID == l.firstUID {
						uid = "old"
					}
					line, meta = fmt.Sprintf("%s Deployment %s replicas=%d uid=%s", ev.Type, o.Name, *o.Spec.Replicas, uid), o
				case *corev1.Pod:
					if ev.Type != watch.Deleted {
						continue // a delete may first mark the pod; its removal is what counts
					}
					line, meta = fmt.Sprintf("%s Pod %s", ev.Type, o.Name), o
				default:
					continue
				}
				rv, _ := strconv.Atoi(meta.GetResourceVersion())
				l.mu.Lock()
				l.events = append(l.events, recorded{rv: rv, line: line})
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// stop waits for the recreated Deployment's ADDED event, ends the watches
// and returns the events sorted by resourceVersion, which etcd-backed API
// servers issue in commit order (a test may rely on that; controllers must not).
func (l *eventLog) stop(t *testing.T) []string {
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, e := range l.events {
			if strings.HasPrefix(e.line, "ADDED Deployment") {
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "the watch never saw the Deployment created again")
	for _, w := range l.watchers {
		w.Stop()
	}
	l.done.Wait()
	sort.Slice(l.events, func(i, j int) bool { return l.events[i].rv < l.events[j].rv })
	var out []string
	for _, e := range l.events {
		out = append(out, e.line)
	}
	return out
}
