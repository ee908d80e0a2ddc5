package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Desired is the DR copy of one source object, or the reason there is none.
type Desired struct {
	// Object is what DR should hold; nil when Skip is set.
	Object *unstructured.Unstructured
	// Skip says why the object is not replicated.
	Skip string
	// Scale is set when the DR copy runs fewer replicas than the source.
	Scale *Scale
}

// Scale records a workload scaled down in DR.
type Scale struct {
	Original int32 `json:"original"`
	DR       int32 `json:"dr"`
}

// Annotations the source cluster's controllers write; copied to DR they
// would lie about DR's own state.
var controllerAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
	"deprecated.daemonset.template.generation",
	"batch.kubernetes.io/job-tracking",
	AnnotationDesiredHash,
}

// Annotations the PV binder and provisioners write on PVCs and PVs; in DR
// the DR cluster's binder writes its own.
var storageAnnotationPrefixes = []string{
	"pv.kubernetes.io/",
	"volume.beta.kubernetes.io/storage-provisioner",
	"volume.kubernetes.io/storage-provisioner",
	"volume.kubernetes.io/selected-node",
}

// Labels the API server generates from a Job's UID; DR generates its own.
// (The job-name labels derive from the name, so they travel unchanged.)
var jobGeneratedLabels = []string{"controller-uid", "batch.kubernetes.io/controller-uid"}

// Transform returns the DR copy of src, a source object of kind k.
func Transform(k Kind, src *unstructured.Unstructured, o Options) Desired {
	if reason := skipReason(k, src, o); reason != "" {
		return Desired{Skip: reason}
	}
	if o.Reverse {
		return transformReverse(k, src, o)
	}
	if k.Kind == PersistentVolume.Kind {
		return Desired{Object: TransformVolume(src, o)}
	}
	d := Desired{Object: copyObject(src, o)}
	obj := d.Object
	switch k.Kind {
	case "Deployment", "StatefulSet":
		d.Scale = scaleDown(obj, o)
	case "CronJob", "Job":
		suspend(obj, o)
	}
	clean(k, obj, o)
	mark(obj, src.GetNamespace()+"/"+src.GetName(), o)
	return d
}

// copyObject is src, without its status and what its cluster wrote into
// its metadata, in the destination namespace.
func copyObject(src *unstructured.Unstructured, o Options) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": src.GetAPIVersion(),
		"kind":       src.GetKind(),
	}}
	for key, v := range src.DeepCopy().Object {
		if key != "apiVersion" && key != "kind" && key != "metadata" && key != "status" {
			obj.Object[key] = v
		}
	}
	obj.SetName(src.GetName())
	obj.SetNamespace(o.DestinationNamespace)
	obj.SetLabels(src.GetLabels())
	obj.SetAnnotations(withoutAnnotations(src.GetAnnotations(), controllerAnnotations, nil))
	return obj
}

// clean drops from a copy of kind k what belongs to the cluster it came
// from, and rewrites what names its namespace.
func clean(k Kind, obj *unstructured.Unstructured, o Options) {
	switch k.Kind {
	case "Deployment", "StatefulSet":
		cleanPodTemplate(obj, o, "spec", "template")
		if k.Kind == "StatefulSet" {
			cleanClaimTemplates(obj, o)
		}
	case "DaemonSet":
		cleanPodTemplate(obj, o, "spec", "template")
	case "CronJob":
		cleanPodTemplate(obj, o, "spec", "jobTemplate", "spec", "template")
	case "Job":
		cleanJob(obj)
		cleanPodTemplate(obj, o, "spec", "template")
	case "Service":
		cleanService(obj, o)
	case "Ingress":
		cleanIngress(obj, o)
	case "PersistentVolumeClaim":
		cleanClaim(obj, o)
	case "RoleBinding":
		rewriteSubjects(obj, o)
	case "NetworkPolicy":
		rewriteNamespaceSelectors(obj, o)
	case "ServiceAccount":
		// The token Secrets it lists are not replicated; DR lists its own.
		unstructured.RemoveNestedField(obj.Object, "secrets")
	}
}

func skipReason(k Kind, src *unstructured.Unstructured, o Options) string {
	switch {
	case src.GetLabels()[drv1.LabelIgnore] == "true":
		return "labelled " + drv1.LabelIgnore + "=true"
	case src.GetDeletionTimestamp() != nil:
		return "being deleted in the source"
	case o.FromCopies && notOwnCopy(src, o.Replication) != "":
		return notOwnCopy(src, o.Replication)
	case !o.FromCopies && kube.IsCopy(src.GetLabels()) && src.GetAnnotations()[AnnotationSource] != "":
		return "a dr-syncer copy itself; replicating it again would chain replications"
	case src.GetLabels()[kube.LabelOperation] != "":
		return "dr-syncer's own object of a running sync"
	}
	switch k.Kind {
	case "ConfigMap":
		if src.GetName() == "kube-root-ca.crt" {
			return "published by every cluster into every namespace"
		}
	case "ServiceAccount":
		if src.GetName() == "default" {
			return "created by every cluster in every namespace"
		}
	case "Secret":
		if t, _, _ := unstructured.NestedString(src.Object, "type"); t == "kubernetes.io/service-account-token" {
			return "a service account token, valid only in the source cluster"
		}
	case "Job":
		for _, ref := range src.GetOwnerReferences() {
			if ref.Kind == "CronJob" && ref.Controller != nil && *ref.Controller {
				return "created by CronJob " + ref.Name + ", whose DR copy creates its own Jobs"
			}
		}
	}
	return ""
}

// mark adds what makes the object dr-syncer's: the dr-syncer.io/ label, the
// source and replication annotations, and the digest of everything else.
// source is the source object's "<namespace>/<name>", or its name when
// cluster-scoped.
func mark(obj *unstructured.Unstructured, source string, o Options) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	annotations[AnnotationSource] = o.SourceCluster + "/" + source
	annotations[AnnotationReplication] = o.Replication
	obj.SetLabels(labels)
	obj.SetAnnotations(annotations)
	annotations[AnnotationDesiredHash] = Hash(obj)
	obj.SetAnnotations(annotations)
}

// Hash digests an object without its own AnnotationDesiredHash; equal
// digests mean dr-syncer would write the same object.
func Hash(obj *unstructured.Unstructured) string {
	c := obj.DeepCopy()
	annotations := c.GetAnnotations()
	delete(annotations, AnnotationDesiredHash)
	c.SetAnnotations(annotations)
	// encoding/json sorts map keys, so equal objects give equal bytes.
	data, err := json.Marshal(c.Object)
	if err != nil {
		// Unstructured content comes from JSON, so it always encodes; an
		// empty digest only costs one extra write.
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

func withoutAnnotations(in map[string]string, exact, prefixes []string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := map[string]string{}
next:
	for k, v := range in {
		for _, e := range exact {
			if k == e {
				continue next
			}
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				continue next
			}
		}
		out[k] = v
	}
	return out
}

// cleanPodTemplate drops the template's null creationTimestamp and rewrites
// in-cluster DNS names of the source namespace in environment values.
func cleanPodTemplate(obj *unstructured.Unstructured, o Options, path ...string) {
	tmpl, found, _ := unstructured.NestedMap(obj.Object, path...)
	if !found {
		return
	}
	unstructured.RemoveNestedField(tmpl, "metadata", "creationTimestamp")
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		containers, _, _ := unstructured.NestedSlice(tmpl, "spec", field)
		for _, c := range containers {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			env, _ := cm["env"].([]any)
			for _, e := range env {
				if em, ok := e.(map[string]any); ok {
					if v, ok := em["value"].(string); ok {
						em["value"] = RewriteDNS(v, o.SourceNamespace, o.DestinationNamespace)
					}
				}
			}
		}
		if containers != nil {
			_ = unstructured.SetNestedSlice(tmpl, containers, "spec", field)
		}
	}
	_ = unstructured.SetNestedMap(obj.Object, tmpl, path...)
}

// RewriteDNS rewrites in-cluster DNS names of the source namespace
// ("db.shop.svc", "db.shop.svc.cluster.local") to the destination namespace.
func RewriteDNS(s, from, to string) string {
	if from == to {
		return s
	}
	return strings.ReplaceAll(s, "."+from+".svc", "."+to+".svc")
}

func cleanClaimTemplates(obj *unstructured.Unstructured, o Options) {
	templates, _, _ := unstructured.NestedSlice(obj.Object, "spec", "volumeClaimTemplates")
	for i, t := range templates {
		tm, ok := t.(map[string]any)
		if !ok {
			continue
		}
		delete(tm, "status")
		unstructured.RemoveNestedField(tm, "metadata", "creationTimestamp")
		mapClaimSpec(tm, o.PVC.ClaimMapping)
		templates[i] = tm
	}
	if templates != nil {
		_ = unstructured.SetNestedSlice(obj.Object, templates, "spec", "volumeClaimTemplates")
	}
}

func cleanJob(obj *unstructured.Unstructured) {
	// The selector and these labels are generated from the source Job's UID;
	// the DR API server generates them anew.
	unstructured.RemoveNestedField(obj.Object, "spec", "selector")
	unstructured.RemoveNestedField(obj.Object, "spec", "manualSelector")
	obj.SetLabels(withoutKeys(obj.GetLabels(), jobGeneratedLabels))
	labels, found, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
	if found {
		if l := withoutKeys(labels, jobGeneratedLabels); len(l) > 0 {
			_ = unstructured.SetNestedStringMap(obj.Object, l, "spec", "template", "metadata", "labels")
		} else {
			unstructured.RemoveNestedField(obj.Object, "spec", "template", "metadata", "labels")
		}
	}
}

func withoutKeys(in map[string]string, keys []string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// cleanService drops what the source cluster allocated: cluster IPs (except
// headless "None"), node ports, the health-check node port, the IP families
// (DR picks its own) and the load balancer's IP.
func cleanService(obj *unstructured.Unstructured, o Options) {
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	if spec == nil {
		return
	}
	if spec["clusterIP"] != "None" {
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
	} else {
		spec["clusterIPs"] = []any{"None"}
	}
	delete(spec, "ipFamilies")
	delete(spec, "healthCheckNodePort")
	delete(spec, "loadBalancerIP")
	if ports, ok := spec["ports"].([]any); ok {
		for _, p := range ports {
			if pm, ok := p.(map[string]any); ok {
				delete(pm, "nodePort")
			}
		}
	}
	if name, ok := spec["externalName"].(string); ok {
		spec["externalName"] = RewriteDNS(name, o.SourceNamespace, o.DestinationNamespace)
	}
	obj.Object["spec"] = spec
}

func cleanIngress(obj *unstructured.Unstructured, o Options) {
	if !o.Ingress.PreserveAnnotations {
		obj.SetAnnotations(nil)
	}
	if !o.Ingress.PreserveTLS {
		unstructured.RemoveNestedField(obj.Object, "spec", "tls")
	}
	if !o.Ingress.PreserveBackends {
		// Without backends the DR Ingress keeps its hosts (and TLS) but routes
		// nothing until an operator wires it at failover.
		unstructured.RemoveNestedField(obj.Object, "spec", "defaultBackend")
		rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "rules")
		for _, r := range rules {
			if rm, ok := r.(map[string]any); ok {
				delete(rm, "http")
			}
		}
		if rules != nil {
			_ = unstructured.SetNestedSlice(obj.Object, rules, "spec", "rules")
		}
	}
}
