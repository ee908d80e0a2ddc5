// Package objects holds the activities that replicate a source namespace's
// Kubernetes objects into DR (ResourceActivities); internal/resources
// decides what each object becomes.
package objects

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// Limits of resource replication; the clients' rate limits are
// kube.WithClientLimits's, set where Clusters makes the config.
const (
	// resourceWriters bounds the objects of one kind written at once.
	resourceWriters = 8
	// resourceListPage pages big namespaces instead of one huge response.
	resourceListPage = 500
	// resourceFieldManager owns the fields dr-syncer applies (server-side apply).
	resourceFieldManager = "dr-syncer"
)

// ResourceActivities replicate a source namespace's objects into DR.
type ResourceActivities struct {
	Clusters activities.ClusterResolver
	// Control reads the Replication each step's plan names, to check the
	// plan against it (authorize.go).
	Control client.Reader
	// SystemNamespace is the namespace besides a Replication's own whose
	// mappings its references may name.
	SystemNamespace string

	// dynamicClients caches a dynamic client per cluster config, so the many short
	// activities of a run reuse connections instead of each paying for new
	// TLS handshakes. A rotated kubeconfig is a new key.
	dynamicClients sync.Map // clientKey -> dynamic.Interface
}

type clientKey struct {
	cluster                              contract.ClusterRef
	host, ca, cert, key, token, username string
}

var resourceApply = metav1.ApplyOptions{FieldManager: resourceFieldManager, Force: true}

// planOptions are the transform options of a plan.
func planOptions(plan contract.ReplicationPlan) resources.Options {
	s := plan.Spec
	o := resources.Options{
		SourceCluster:        plan.Source.Name,
		SourceNamespace:      plan.SourceNamespace,
		DestinationNamespace: plan.DestinationNamespace,
		Replication:          plan.Replication.String(),
		ScaleToZero:          s.ScaleToZero,
		Ingress: resources.IngressOptions{PreserveAnnotations: s.IngressConfig.PreserveAnnotations,
			PreserveTLS: s.IngressConfig.PreserveTLS, PreserveBackends: s.IngressConfig.PreserveBackends},
		// Failbacks and drills read the DR namespace; failbacks write the source's.
		FromCopies: plan.Direction != "",
		Reverse:    plan.Direction == contract.DirectionReverse,
	}
	o.PVC.PreserveVolumeAttributes = s.PVCConfig.PreserveVolumeAttributes
	o.PVC.SyncPersistentVolumes = s.PVCConfig.SyncPersistentVolumes
	o.PVC.StorageClasses = mappings(s.PVCConfig.StorageClassMappings)
	o.PVC.AccessModes = mappings(s.PVCConfig.AccessModeMappings)
	return o
}

// mappings is a from → to map; nil when there are none.
func mappings(ms []contract.Mapping) map[string]string {
	var out map[string]string
	for _, m := range ms {
		if out == nil {
			out = map[string]string{}
		}
		out[m.From] = m.To
	}
	return out
}

// handling is the immutable-field handling of kind k under plan.
func handling(plan contract.ReplicationPlan, k resources.Kind) drv1.ImmutableHandling {
	irc := plan.Spec.ImmutableResourceConfig
	return resources.HandlingFor(k, irc.DefaultHandling, irc.ResourceOverrides)
}

func (a *ResourceActivities) dynamicClient(ctx context.Context, ref contract.ClusterRef) (dynamic.Interface, error) {
	cfg, err := a.Clusters.Config(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return nil, activities.Classify(err)
	}
	key := clientKey{cluster: ref, host: cfg.Host, ca: string(cfg.CAData), cert: string(cfg.CertData),
		key: string(cfg.KeyData), token: cfg.BearerToken, username: cfg.Username}
	if c, ok := a.dynamicClients.Load(key); ok {
		return c.(dynamic.Interface), nil
	}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client of cluster %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	actual, _ := a.dynamicClients.LoadOrStore(key, c)
	return actual.(dynamic.Interface), nil
}
