// Package resources decides what dr-syncer writes into a DR namespace: which
// kinds a Replication selects and in what order, what the DR copy of a source
// object looks like, and how an existing DR object is brought up to date. It
// is pure (no Temporal, no cluster I/O), so every rule is table-tested.
package resources

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Stage groups kinds that may be written at the same time; a stage starts
// when the one before it has finished, so an object's dependencies (the
// ServiceAccount a Deployment runs as, the Secret it mounts, the Service an
// Ingress routes to) exist in DR before the object does.
type Stage int

// Stages in dependency order.
const (
	// StageConfig: identities, RBAC, configuration and the network policies
	// that must isolate pods before the first of them starts.
	StageConfig Stage = iota + 1
	// StageStorage: PVC objects (their data is the PVC workflows').
	StageStorage
	// StageServices: Services, so workloads and Ingresses find their endpoints.
	StageServices
	// StageWorkloads: everything that runs pods, and what scales them.
	StageWorkloads
	// StageRouting: Ingresses, last, so they route to what already exists.
	StageRouting
	// StageCustom: types named in namespaceScopedResources, whose
	// dependencies dr-syncer cannot know.
	StageCustom
)

// Kind is one namespaced type dr-syncer replicates.
type Kind struct {
	// Kind is the API kind, for example "ConfigMap"; empty for a custom type
	// until the source cluster's discovery has named it.
	Kind     string `json:"kind"`
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
	Stage    Stage  `json:"stage"`
}

// GVR is the kind's group, version and resource, for the dynamic client.
func (k Kind) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
}

// Custom reports whether the kind came from namespaceScopedResources.
func (k Kind) Custom() bool { return k.Stage == StageCustom }

// String names the kind the way users read it in status: the kind, or
// "resource.group" for a custom type not yet discovered.
func (k Kind) String() string {
	if k.Kind != "" {
		return k.Kind
	}
	if k.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.Group
}

// builtin is a supported kind and the names users may give it besides its
// kind and resource (both matched case-insensitively, singular or plural).
type builtin struct {
	Kind
	shortNames []string
}

// Supported lists the built-in kinds in dependency order; "*" selects them all.
var supported = []builtin{
	{Kind{"ServiceAccount", "", "v1", "serviceaccounts", StageConfig}, []string{"sa"}},
	{Kind{"Role", "rbac.authorization.k8s.io", "v1", "roles", StageConfig}, nil},
	{Kind{"RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", StageConfig}, nil},
	{Kind{"ConfigMap", "", "v1", "configmaps", StageConfig}, []string{"cm"}},
	{Kind{"Secret", "", "v1", "secrets", StageConfig}, nil},
	{Kind{"NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", StageConfig}, []string{"netpol"}},
	{Kind{"PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", StageStorage}, []string{"pvc"}},
	{Kind{"Service", "", "v1", "services", StageServices}, []string{"svc"}},
	{Kind{"Deployment", "apps", "v1", "deployments", StageWorkloads}, []string{"deploy"}},
	{Kind{"StatefulSet", "apps", "v1", "statefulsets", StageWorkloads}, []string{"sts"}},
	{Kind{"DaemonSet", "apps", "v1", "daemonsets", StageWorkloads}, []string{"ds"}},
	{Kind{"CronJob", "batch", "v1", "cronjobs", StageWorkloads}, []string{"cj"}},
	{Kind{"Job", "batch", "v1", "jobs", StageWorkloads}, nil},
	{Kind{"HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", StageWorkloads}, []string{"hpa"}},
	{Kind{"Ingress", "networking.k8s.io", "v1", "ingresses", StageRouting}, []string{"ing"}},
}

// PersistentVolume is replicated alongside PVCs when syncPersistentVolumes is set.
var PersistentVolume = Kind{"PersistentVolume", "", "v1", "persistentvolumes", StageStorage}

// Supported returns the built-in kinds in dependency order.
func Supported() []Kind {
	out := make([]Kind, len(supported))
	for i, b := range supported {
		out[i] = b.Kind
	}
	return out
}

// Selection is what a Replication's resourceTypes and namespaceScopedResources select.
type Selection struct {
	// Kinds in dependency order, without duplicates.
	Kinds []Kind `json:"kinds"`
	// Unknown are the requested names that match no supported kind, as written.
	Unknown []string `json:"unknown,omitempty"`
}

// Select resolves resourceTypes (case-insensitive kinds, singular or plural,
// short names, "*" for every supported kind; empty means "*" as well, since a
// replication that copies nothing is never what a user meant) and
// namespaceScopedResources ("resource.group", or "resource" for the core
// group; their version is left to discovery).
func Select(resourceTypes, namespaceScoped []string) Selection {
	var sel Selection
	chosen := map[string]bool{}
	add := func(k Kind) {
		key := k.Resource + "." + k.Group
		if !chosen[key] {
			chosen[key] = true
			sel.Kinds = append(sel.Kinds, k)
		}
	}
	if len(resourceTypes) == 0 {
		resourceTypes = []string{"*"}
	}
	for _, name := range resourceTypes {
		if strings.TrimSpace(name) == "*" {
			for _, b := range supported {
				add(b.Kind)
			}
			continue
		}
		k, ok := Lookup(name)
		if !ok {
			sel.Unknown = append(sel.Unknown, name)
			continue
		}
		add(k)
	}
	for _, name := range namespaceScoped {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if k, ok := Lookup(name); ok {
			add(k)
			continue
		}
		resource, group, _ := strings.Cut(name, ".")
		add(Kind{Resource: resource, Group: group, Stage: StageCustom})
	}
	// Stable, so custom types keep the order the user gave.
	sort.SliceStable(sel.Kinds, func(i, j int) bool { return rank(sel.Kinds[i]) < rank(sel.Kinds[j]) })
	return sel
}

// rank is a kind's place in the dependency order.
func rank(k Kind) int {
	for i, b := range supported {
		if b.Resource == k.Resource && b.Group == k.Group {
			return i
		}
	}
	return len(supported)
}

// Lookup finds a supported kind by any of its names, case-insensitively.
func Lookup(name string) (Kind, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, b := range supported {
		kind := strings.ToLower(b.Kind.Kind)
		if n == kind || n == kind+"s" || n == b.Resource || n == b.Resource+"."+b.Group {
			return b.Kind, true
		}
		for _, s := range b.shortNames {
			if n == s {
				return b.Kind, true
			}
		}
	}
	return Kind{}, false
}

// Stages splits kinds, already in dependency order, into the groups that may
// run at the same time.
func Stages(kinds []Kind) [][]Kind {
	var out [][]Kind
	for i, k := range kinds {
		if i == 0 || k.Stage != kinds[i-1].Stage {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], k)
	}
	return out
}
