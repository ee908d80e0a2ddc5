package resources

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// reverseOptions copy DR namespace "shop-dr" of cluster "dr" back into
// "shop" (a failback).
func reverseOptions() Options {
	o := baseOptions()
	o.SourceCluster, o.SourceNamespace, o.DestinationNamespace = "dr", "shop-dr", "shop"
	o.FromCopies, o.Reverse = true, true
	return o
}

// drCopyOfWeb is the DR copy forward replication made of Deployment web.
const drCopyOfWeb = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop-dr
  labels: {app: web, dr-syncer.io/managed-by: dr-syncer}
  annotations:
    team: payments
    dr-syncer.io/scale-override: "false"
    dr-syncer.io/source: prod/shop/web
    dr-syncer.io/replication: dr-syncer-system/shop
    dr-syncer.io/original-replicas: "3"
    dr-syncer.io/desired-hash: abc
    deployment.kubernetes.io/revision: "4"
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: "nginx:2", env: [{name: DB, value: db.shop-dr.svc.cluster.local}]}]}
`

func TestTransformReverseWritesOriginalsThatDoNotStart(t *testing.T) {
	deploy := Transform(mustLookup(t, "deployment"), parse(t, drCopyOfWeb), reverseOptions())
	require.Empty(t, deploy.Skip)
	assert.Nil(t, deploy.Scale, "nothing is scaled down in DR by a failback")
	assert.Equal(t, parse(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {team: payments, dr-syncer.io/scale-override: "false"}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: "nginx:2", env: [{name: DB, value: db.shop.svc.cluster.local}]}]}
`).Object, deploy.Object.Object, "no mark of a copy, DR's names back to the source's, and at zero until the cutover")

	cron := Transform(mustLookup(t, "cronjob"), parse(t, `
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: shop-dr
  labels: {dr-syncer.io/managed-by: dr-syncer}
  annotations: {dr-syncer.io/original-suspend: "false", dr-syncer.io/replication: dr-syncer-system/shop}
spec: {schedule: "0 1 * * *", suspend: false, jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}}}
`), reverseOptions())
	require.NotNil(t, cron.Object)
	suspended, _, _ := unstructured.NestedBool(cron.Object.Object, "spec", "suspend")
	assert.True(t, suspended, "never running on both sides, even when DR's copy runs")
	assert.Empty(t, cron.Object.GetAnnotations())
	assert.Empty(t, cron.Object.GetLabels())

	legacy := Transform(mustLookup(t, "configmap"), parse(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: shop-dr, labels: {app.kubernetes.io/managed-by: dr-syncer, tier: web}, annotations: {dr-syncer.io/source: prod/shop/app}}
data: {k: v}
`), reverseOptions())
	assert.Equal(t, map[string]string{"tier": "web"}, legacy.Object.GetLabels(), "the mark copies had before dr-syncer.io/managed-by goes too")
}

func TestTransformReverseSkips(t *testing.T) {
	tests := []struct {
		name, kind, source, skip string
		opts                     func(*Options)
	}{
		{name: "another Replication's DR copy", kind: "configmap", source: `
{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: shop-dr, labels: {dr-syncer.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/replication: ops/billing, dr-syncer.io/source: prod/billing/a}}}`,
			skip: "the DR copy of Replication ops/billing"},
		{name: "a copy released when its source got the ignore label", kind: "configmap", source: `
{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: shop-dr, annotations: {dr-syncer.io/released-from: dr-syncer-system/shop}}}`,
			skip: "released by Replication dr-syncer-system/shop"},
		{name: "an Ingress ingressConfig stripped in DR", kind: "ingress", source: `
{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: web, namespace: shop-dr}, spec: {rules: [{host: shop.example.com}]}}`,
			opts: func(o *Options) { o.Ingress.PreserveBackends = false }, skip: "lacks what ingressConfig left out"},
		{name: "a sync's working object", kind: "secret", source: `
{apiVersion: v1, kind: Secret, metadata: {name: drs-creds-x, namespace: shop-dr, labels: {app.kubernetes.io/managed-by: dr-syncer, dr-syncer.io/operation: abc}}}`,
			skip: "dr-syncer's own object of a running sync"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := reverseOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			d := Transform(mustLookup(t, tc.kind), parse(t, tc.source), o)
			assert.Nil(t, d.Object)
			assert.Contains(t, d.Skip, tc.skip)
		})
	}
	pv := Transform(PersistentVolume, parse(t, `{apiVersion: v1, kind: PersistentVolume, metadata: {name: pv-1}}`), reverseOptions())
	assert.Contains(t, pv.Skip, "never written over the source's own volumes")

	byHand := Transform(mustLookup(t, "configmap"), parse(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: made-in-dr, namespace: shop-dr}, data: {k: v}}`), reverseOptions())
	require.NotNil(t, byHand.Object, "made in DR after the failover: it goes back too")
}

// A drill copies DR copies: their recorded replicas and suspend are the
// application's, not the zero and true they run with in DR.
func TestTransformCopyOfACopyKeepsWhatTheDRCopyRecorded(t *testing.T) {
	drill := baseOptions()
	drill.SourceCluster, drill.SourceNamespace, drill.DestinationNamespace, drill.FromCopies = "dr", "shop-dr", "shop-dr-drill", true
	src := parse(t, drCopyOfWeb)
	_ = unstructured.SetNestedField(src.Object, int64(0), "spec", "replicas")
	d := Transform(mustLookup(t, "deployment"), src, drill)
	require.NotNil(t, d.Object)
	assert.Equal(t, &Scale{Original: 3, DR: 0}, d.Scale)
	a := d.Object.GetAnnotations()
	assert.Equal(t, "3", a[drv1.AnnotationOriginalReplicas])
	assert.Equal(t, "dr/shop-dr/web", a[AnnotationSource], "a copy of the DR copy")
	assert.Equal(t, "dr-syncer-system/shop", a[AnnotationReplication])

	cron := parse(t, `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop-dr, labels: {dr-syncer.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/original-suspend: "false", dr-syncer.io/replication: dr-syncer-system/shop}}
spec: {schedule: "0 1 * * *", suspend: true}
`)
	c := Transform(mustLookup(t, "cronjob"), cron, drill)
	require.NotNil(t, c.Object)
	assert.Equal(t, "false", c.Object.GetAnnotations()[AnnotationOriginalSuspend], "the source's suspend, not DR's")

	// Forward, a source's stray annotation is no record: the source's count is.
	fwd := parse(t, sourceDeployment)
	fwd.SetAnnotations(map[string]string{drv1.AnnotationOriginalReplicas: "9"})
	f := Transform(mustLookup(t, "deployment"), fwd, baseOptions())
	assert.Equal(t, &Scale{Original: 2, DR: 0}, f.Scale)
	assert.Equal(t, "2", f.Object.GetAnnotations()[drv1.AnnotationOriginalReplicas])
}

func TestTransformNamespaceReverseIsNotMarked(t *testing.T) {
	src := parse(t, `{apiVersion: v1, kind: Namespace, metadata: {name: shop-dr, labels: {team: a, dr-syncer.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/source: prod/shop}}}`)
	ns := TransformNamespace(src, reverseOptions(), NamespaceOptions{PreserveLabels: true, PreserveAnnotations: true})
	assert.Equal(t, "shop", ns.GetName())
	assert.Equal(t, map[string]string{"team": "a"}, ns.GetLabels())
	assert.Empty(t, ns.GetAnnotations())
}

func TestDecideReverse(t *testing.T) {
	k := mustLookup(t, "deployment")
	desired := Transform(k, parse(t, drCopyOfWeb), reverseOptions()).Object
	require.NotNil(t, desired)
	// The source's own Deployment, stopped by the failover, which recorded
	// its replicas, with an older image and fields its API server set.
	original := func(edit func(*unstructured.Unstructured)) *unstructured.Unstructured {
		u := parse(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  uid: prod-uid
  labels: {app: web, app.kubernetes.io/managed-by: Helm}
  annotations: {team: payments, dr-syncer.io/scale-override: "false", dr-syncer.io/failover-replicas: "3", deployment.kubernetes.io/revision: "7"}
spec:
  replicas: 0
  progressDeadlineSeconds: 600
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: "nginx:1", env: [{name: DB, value: db.shop.svc.cluster.local}]}]}
`)
		if edit != nil {
			edit(u)
		}
		return u
	}
	upToDate := func(u *unstructured.Unstructured) {
		c, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		c[0].(map[string]any)["image"] = "nginx:2"
		_ = unstructured.SetNestedSlice(u.Object, c, "spec", "template", "spec", "containers")
	}

	d := DecideReverse(k, desired, nil, "dr-syncer-system/shop")
	assert.Equal(t, ActionCreate, d.Action)

	d = DecideReverse(k, desired, original(nil), "dr-syncer-system/shop")
	require.Equal(t, ActionUpdate, d.Action, "an original, not a copy, is updated in place")
	assert.Equal(t, "3", d.Object.GetAnnotations()[drv1.AnnotationFailoverReplicas], "the failback's cutover scales up from it")
	assert.NotContains(t, d.Object.GetLabels(), LabelManagedBy)

	d = DecideReverse(k, desired, original(upToDate), "dr-syncer-system/shop")
	assert.Equal(t, ActionNone, d.Action, "holds everything DR's copy says: no write")

	d = DecideReverse(k, desired, original(func(u *unstructured.Unstructured) {
		u.SetLabels(map[string]string{LabelManagedBy: ManagedByValue})
		u.SetAnnotations(map[string]string{AnnotationReplication: "ops/billing"})
	}), "dr-syncer-system/shop")
	assert.Equal(t, ActionConflict, d.Action)
	assert.Contains(t, d.Reason, "the DR copy of Replication ops/billing")

	d = DecideReverse(k, desired, original(func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"app": "web-v1"}, "spec", "selector", "matchLabels")
	}), "dr-syncer-system/shop")
	assert.Equal(t, ActionKeep, d.Action, "an original is never deleted to be recreated")
	assert.Equal(t, []string{"spec.selector"}, d.Immutable)
	assert.Contains(t, d.Reason, "never deletes a source object")

	claims := mustLookup(t, "pvc")
	claim := `{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data, namespace: %s}, spec: {accessModes: [ReadWriteOnce], storageClassName: standard, resources: {requests: {storage: %s}}}}`
	want := Transform(claims, parse(t, fmt.Sprintf(claim, "shop-dr", "1Gi")), reverseOptions()).Object
	d = DecideReverse(claims, want, parse(t, fmt.Sprintf(claim, "shop", "5Gi")), "dr-syncer-system/shop")
	assert.Equal(t, ActionNone, d.Action, "the source's bigger claim is not shrunk to DR's")
}
