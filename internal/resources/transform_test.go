package resources

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	// Decoded like client-go decodes API responses: integers are int64.
	data, err := yaml.YAMLToJSON([]byte(doc))
	require.NoError(t, err)
	u := &unstructured.Unstructured{}
	require.NoError(t, u.UnmarshalJSON(data))
	return u
}

// baseOptions replicate namespace "shop" of cluster "prod" into "shop-dr".
func baseOptions() Options {
	return Options{SourceCluster: "prod", SourceNamespace: "shop", DestinationNamespace: "shop-dr",
		Replication: "dr-syncer-system/shop", ScaleToZero: true,
		Ingress: IngressOptions{PreserveAnnotations: true, PreserveTLS: true, PreserveBackends: true}}
}

// expect parses the wanted DR object and adds what every dr-syncer object
// carries, so each case shows only what its kind changes.
func expect(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := parse(t, doc)
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	u.SetLabels(labels)
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationSource] = "prod/shop/" + u.GetName()
	if u.GetNamespace() == "" {
		a[AnnotationSource] = "prod/" + u.GetName()
	}
	a[AnnotationReplication] = "dr-syncer-system/shop"
	u.SetAnnotations(a)
	return u
}

func withoutHash(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	a := c.GetAnnotations()
	delete(a, AnnotationDesiredHash)
	c.SetAnnotations(a)
	return c
}

func TestTransform(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		opts   func(*Options)
		source string
		want   string // empty when skipped
		skip   string
		scale  *Scale
	}{
		{name: "server-set fields never travel", kind: "ConfigMap", source: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: shop
  uid: 3f1c
  resourceVersion: "42"
  generation: 3
  creationTimestamp: "2024-01-01T00:00:00Z"
  selfLink: /api/v1/namespaces/shop/configmaps/app
  managedFields: [{manager: kubectl}]
  finalizers: [example.com/hold]
  ownerReferences: [{apiVersion: example.com/v1, kind: App, name: app, uid: 99, controller: true}]
  labels: {app: shop}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    team: payments
data: {k: v}
`, want: `
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: shop-dr, labels: {app: shop}, annotations: {team: payments}}
data: {k: v}
`},
		{name: "the source's managed-by label and Helm's annotations travel unchanged", kind: "Secret", source: `
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: shop, labels: {app.kubernetes.io/managed-by: Helm}, annotations: {meta.helm.sh/release-name: web}}
type: Opaque
data: {k: dg==}
`, want: `
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: shop-dr, labels: {app.kubernetes.io/managed-by: Helm}, annotations: {meta.helm.sh/release-name: web}}
type: Opaque
data: {k: dg==}
`},
		{name: "a sync's own credential Secret is not replicated", kind: "Secret", source: `
apiVersion: v1
kind: Secret
metadata: {name: drs-creds-x, namespace: shop, labels: {app.kubernetes.io/managed-by: dr-syncer, dr-syncer.io/operation: abc}}
type: Opaque
`, skip: "dr-syncer's own object of a running sync"},
		{name: "ignore label", kind: "ConfigMap", source: `
apiVersion: v1
kind: ConfigMap
metadata: {name: x, namespace: shop, labels: {dr-syncer.io/ignore: "true"}}
`, skip: "labelled dr-syncer.io/ignore=true"},
		{name: "kube-root-ca.crt", kind: "ConfigMap", source: `{apiVersion: v1, kind: ConfigMap, metadata: {name: kube-root-ca.crt, namespace: shop}}`,
			skip: "published by every cluster into every namespace"},
		{name: "default service account", kind: "ServiceAccount", source: `{apiVersion: v1, kind: ServiceAccount, metadata: {name: default, namespace: shop}}`,
			skip: "created by every cluster in every namespace"},
		{name: "service account token", kind: "Secret", source: `{apiVersion: v1, kind: Secret, type: kubernetes.io/service-account-token, metadata: {name: t, namespace: shop}}`,
			skip: "a service account token, valid only in the source cluster"},
		{name: "Job of a CronJob", kind: "Job", source: `
apiVersion: batch/v1
kind: Job
metadata: {name: nightly-123, namespace: shop, ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: nightly, uid: u, controller: true}]}
`, skip: "created by CronJob nightly, whose DR copy creates its own Jobs"},
		{name: "service account drops its token list", kind: "ServiceAccount", source: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: shop}
secrets: [{name: api-token-x}]
imagePullSecrets: [{name: registry}]
`, want: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: shop-dr}
imagePullSecrets: [{name: registry}]
`},
		{name: "deployment scaled to zero", kind: "Deployment", source: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {deployment.kubernetes.io/revision: "4"}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {creationTimestamp: null, labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        env: [{name: DB, value: "postgres://db.shop.svc.cluster.local:5432"}, {name: OTHER, value: "api.other.svc"}]
status: {replicas: 3}
`, want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop-dr, annotations: {dr-syncer.io/original-replicas: "3"}}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        env: [{name: DB, value: "postgres://db.shop-dr.svc.cluster.local:5432"}, {name: OTHER, value: "api.other.svc"}]
`, scale: &Scale{Original: 3, DR: 0}},
		{name: "scale override keeps the source count", kind: "StatefulSet", source: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop, annotations: {dr-syncer.io/scale-override: "true"}}
spec: {replicas: 2, serviceName: db, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: pg}]}}}
`, want: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop-dr, annotations: {dr-syncer.io/scale-override: "true"}}
spec: {replicas: 2, serviceName: db, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: pg}]}}}
`},
		{name: "scaleToZero false keeps the source count", kind: "Deployment", opts: func(o *Options) { o.ScaleToZero = false }, source: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: i}]}}}
`, want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop-dr}
spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: i}]}}}
`},
		{name: "statefulset claim templates lose status and get mapped", kind: "StatefulSet",
			opts: func(o *Options) { o.PVC.StorageClasses = map[string]string{"fast": "dr-fast"} }, source: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: pg}]}}
  volumeClaimTemplates:
  - metadata: {name: data, creationTimestamp: null}
    spec: {storageClassName: fast, accessModes: [ReadWriteOnce], volumeMode: Filesystem, resources: {requests: {storage: 1Gi}}}
    status: {phase: Pending}
`, want: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop-dr, annotations: {dr-syncer.io/original-replicas: "1"}}
spec:
  replicas: 0
  serviceName: db
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: pg}]}}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {storageClassName: dr-fast, accessModes: [ReadWriteOnce], volumeMode: Filesystem, resources: {requests: {storage: 1Gi}}}
`, scale: &Scale{Original: 1}},
		{name: "job loses generated selector and labels and is suspended", kind: "Job", source: `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: shop
  labels: {batch.kubernetes.io/controller-uid: u1, controller-uid: u1, job-name: migrate, batch.kubernetes.io/job-name: migrate, app: shop}
  annotations: {batch.kubernetes.io/job-tracking: ""}
spec:
  selector: {matchLabels: {batch.kubernetes.io/controller-uid: u1}}
  manualSelector: false
  template:
    metadata: {labels: {batch.kubernetes.io/controller-uid: u1, controller-uid: u1, job-name: migrate, batch.kubernetes.io/job-name: migrate}}
    spec: {restartPolicy: Never, containers: [{name: m, image: i}]}
`, want: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop-dr, labels: {job-name: migrate, batch.kubernetes.io/job-name: migrate, app: shop}, annotations: {dr-syncer.io/original-suspend: "false"}}
spec:
  suspend: true
  template:
    metadata: {labels: {job-name: migrate, batch.kubernetes.io/job-name: migrate}}
    spec: {restartPolicy: Never, containers: [{name: m, image: i}]}
`},
		{name: "cronjob suspended in DR", kind: "CronJob", source: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec: {schedule: "0 1 * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}}}
`, want: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop-dr, annotations: {dr-syncer.io/original-suspend: "false"}}
spec: {schedule: "0 1 * * *", suspend: true, jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}}}
`},
		{name: "ClusterIP service loses allocated IPs and families", kind: "Service", source: `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {type: ClusterIP, clusterIP: 10.0.0.7, clusterIPs: [10.0.0.7], ipFamilies: [IPv4], ipFamilyPolicy: SingleStack, selector: {app: api}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}
status: {loadBalancer: {}}
`, want: `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop-dr}
spec: {type: ClusterIP, ipFamilyPolicy: SingleStack, selector: {app: api}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}
`},
		{name: "headless service stays headless", kind: "Service", source: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, clusterIPs: [None], selector: {app: db}, ports: [{port: 5432}]}
`, want: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop-dr}
spec: {clusterIP: None, clusterIPs: [None], selector: {app: db}, ports: [{port: 5432}]}
`},
		{name: "LoadBalancer service loses node ports, health-check port, IP and status", kind: "Service", source: `
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: shop}
spec: {type: LoadBalancer, clusterIP: 10.0.0.9, clusterIPs: [10.0.0.9], loadBalancerIP: 1.2.3.4, externalTrafficPolicy: Local, healthCheckNodePort: 31000, ports: [{port: 443, nodePort: 30443}]}
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
`, want: `
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: shop-dr}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, ports: [{port: 443}]}
`},
		{name: "ExternalName to the source namespace is rewritten", kind: "Service", source: `
apiVersion: v1
kind: Service
metadata: {name: alias, namespace: shop}
spec: {type: ExternalName, externalName: db.shop.svc.cluster.local}
`, want: `
apiVersion: v1
kind: Service
metadata: {name: alias, namespace: shop-dr}
spec: {type: ExternalName, externalName: db.shop-dr.svc.cluster.local}
`},
		{name: "ingress without annotations, TLS or backends", kind: "Ingress",
			opts: func(o *Options) { o.Ingress = IngressOptions{} }, source: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop, annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {number: 80}}}
  tls: [{hosts: [shop.example.com], secretName: tls}]
  rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
`, want: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop-dr}
spec:
  ingressClassName: nginx
  rules: [{host: shop.example.com}]
`},
		{name: "PVC: mappings, binder annotations and volume attributes", kind: "PersistentVolumeClaim",
			opts: func(o *Options) {
				o.PVC.StorageClasses = map[string]string{"standard": "dr-standard"}
				o.PVC.AccessModes = map[string]string{"ReadWriteOnce": "ReadWriteMany"}
			}, source: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: shop
  finalizers: [kubernetes.io/pvc-protection]
  annotations: {pv.kubernetes.io/bind-completed: "yes", volume.kubernetes.io/selected-node: node-1, volume.kubernetes.io/storage-provisioner: csi.example.com, backup: daily}
spec: {storageClassName: standard, accessModes: [ReadWriteOnce], volumeMode: Block, volumeName: pvc-123, resources: {requests: {storage: 5Gi}}}
status: {phase: Bound}
`, want: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop-dr, annotations: {backup: daily}}
spec: {storageClassName: dr-standard, accessModes: [ReadWriteMany], volumeMode: Block, resources: {requests: {storage: 5Gi}}}
`},
		{name: "PVC keeps attributes and the name of a replicated volume", kind: "PersistentVolumeClaim",
			opts: func(o *Options) {
				o.PVC.PreserveVolumeAttributes, o.PVC.SyncPersistentVolumes = true, true
				o.PVC.PortableVolumes = map[string]bool{"pv-nfs": true}
			}, source: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec: {storageClassName: nfs, accessModes: [ReadWriteMany], volumeMode: Block, volumeName: pv-nfs, resources: {requests: {storage: 5Gi}}}
`, want: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop-dr}
spec: {storageClassName: nfs, accessModes: [ReadWriteMany], volumeMode: Block, volumeName: pv-nfs, resources: {requests: {storage: 5Gi}}}
`},
		{name: "rolebinding subjects follow the namespace", kind: "RoleBinding", source: `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: api, namespace: shop}, {kind: ServiceAccount, name: mon, namespace: monitoring}, {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
`, want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: shop-dr}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: api, namespace: shop-dr}, {kind: ServiceAccount, name: mon, namespace: monitoring}, {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
`},
		{name: "network policy peers selecting the source namespace", kind: "NetworkPolicy", source: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}, {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress}}}]}]
  egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}]}]
`, want: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: shop-dr}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop-dr}}}, {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress}}}]}]
  egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop-dr}}}]}]
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := Lookup(tc.kind)
			require.True(t, ok)
			o := baseOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			got := Transform(k, parse(t, tc.source), o)
			if tc.skip != "" {
				assert.Nil(t, got.Object)
				assert.Equal(t, tc.skip, got.Skip)
				return
			}
			require.NotNil(t, got.Object, "skipped: %s", got.Skip)
			assert.Equal(t, expect(t, tc.want).Object, withoutHash(got.Object).Object)
			assert.Equal(t, tc.scale, got.Scale)
			assert.Equal(t, Hash(got.Object), got.Object.GetAnnotations()[AnnotationDesiredHash])
		})
	}
}

// A DR claim must not depend on whether object replication or the PVC sync
// created it.
func TestClaimSpecIsTheSameFromObjectReplicationAndPVCSync(t *testing.T) {
	// An empty class would leave the DR claim unprovisioned; both paths
	// give it the DR default class.
	for _, class := range []string{"standard", `""`} {
		source := parse(t, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec:
  storageClassName: `+class+`
  accessModes: [ReadWriteOnce, ReadWriteOncePod]
  volumeMode: Block
  volumeName: pvc-123
  selector: {matchLabels: {disk: a}}
  dataSource: {kind: VolumeSnapshot, apiGroup: snapshot.storage.k8s.io, name: snap}
  volumeAttributesClassName: gold
  resources: {requests: {storage: 5Gi}}
`)
		var typed corev1.PersistentVolumeClaim
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(source.Object, &typed))
		for _, preserve := range []bool{false, true} {
			claim := kube.ClaimMapping{StorageClasses: map[string]string{"standard": "dr-standard"},
				AccessModes: map[string]string{"ReadWriteOncePod": "ReadWriteOnce"}, PreserveVolumeAttributes: preserve}
			o := baseOptions()
			o.PVC.ClaimMapping = claim
			replicated := Transform(claimKind(t), source, o).Object

			synced := kube.TargetPVC(&typed, nil, kube.PVCMapping{DestinationNamespace: o.DestinationNamespace, ClaimMapping: claim})
			syncedSpec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&synced.Spec)
			require.NoError(t, err)
			assert.Equal(t, syncedSpec, replicated.Object["spec"], "class %s, preserveVolumeAttributes=%v", class, preserve)
			if class == `""` {
				assert.NotContains(t, replicated.Object["spec"], "storageClassName", "the DR default class provisions it")
			}
		}
	}
}

func claimKind(t *testing.T) Kind {
	t.Helper()
	k, ok := Lookup("PersistentVolumeClaim")
	require.True(t, ok)
	return k
}

func TestClaimFieldsTheMappingDoesNotOwnTravelAsTheyAre(t *testing.T) {
	source := parse(t, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec: {storageClassName: standard, accessModes: [ReadWriteOnce], resources: {requests: {storage: 5120Mi}}, futureField: {x: 1}}
`)
	got := Transform(claimKind(t), source, baseOptions()).Object
	assert.Equal(t, map[string]any{"storageClassName": "standard", "accessModes": []any{"ReadWriteOnce"},
		"resources": map[string]any{"requests": map[string]any{"storage": "5120Mi"}}, "futureField": map[string]any{"x": int64(1)}},
		got.Object["spec"])
}

func TestTransformVolumeIsPreBoundAndRetained(t *testing.T) {
	pv := parse(t, `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-nfs, uid: x, annotations: {pv.kubernetes.io/provisioned-by: nfs}}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: nfs
  nfs: {server: nfs.example.com, path: /exports/data}
  claimRef: {kind: PersistentVolumeClaim, apiVersion: v1, namespace: shop, name: data, uid: u, resourceVersion: "7"}
status: {phase: Bound}
`)
	ok, _ := VolumePortable(pv)
	assert.True(t, ok)
	got := TransformVolume(pv, baseOptions())
	assert.Equal(t, expect(t, `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-nfs}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: nfs
  nfs: {server: nfs.example.com, path: /exports/data}
  claimRef: {kind: PersistentVolumeClaim, apiVersion: v1, namespace: shop-dr, name: data}
`).Object, withoutHash(got).Object)

	local := parse(t, `{apiVersion: v1, kind: PersistentVolume, metadata: {name: l}, spec: {local: {path: /mnt}}}`)
	ok, why := VolumePortable(local)
	assert.False(t, ok)
	assert.Contains(t, why, "local volume lives on a source node")
}

func TestTransformNamespace(t *testing.T) {
	src := parse(t, `
apiVersion: v1
kind: Namespace
metadata: {name: shop, uid: u, labels: {kubernetes.io/metadata.name: shop, team: pay}, annotations: {owner: alice}}
spec: {finalizers: [kubernetes]}
`)
	o := baseOptions()
	got := TransformNamespace(src, o, NamespaceOptions{PreserveLabels: true, PreserveAnnotations: true})
	want := expect(t, `{apiVersion: v1, kind: Namespace, metadata: {name: shop-dr, labels: {team: pay}, annotations: {owner: alice}}}`)
	want.GetAnnotations()
	a := want.GetAnnotations()
	a[AnnotationSource] = "prod/shop"
	want.SetAnnotations(a)
	assert.Equal(t, want.Object, withoutHash(got).Object)

	bare := TransformNamespace(src, o, NamespaceOptions{})
	assert.Equal(t, map[string]string{LabelManagedBy: ManagedByValue}, bare.GetLabels())
	assert.NotContains(t, bare.GetAnnotations(), "owner")
}
