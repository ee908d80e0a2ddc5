package resolve

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

func TestRouteNamesClustersAndNamespaces(t *testing.T) {
	ref := contract.ObjectRef{Namespace: "team-a", Name: "shop"}
	keep := func(*drv1.Replication, *drv1.ClusterMapping, *drv1.RemoteCluster, *drv1.RemoteCluster) {}
	assert.Equal(t, "prod/shop → dr/shop-dr", Route(context.Background(), tenantA(keep), system, ref))

	defaulted := tenantA(func(r *drv1.Replication, _ *drv1.ClusterMapping, _, _ *drv1.RemoteCluster) {
		r.Spec.DestinationNamespace = ""
	})
	assert.Equal(t, "prod/shop → dr/shop", Route(context.Background(), defaulted, system, ref), "the destination namespace defaults as runs default it")

	assert.Empty(t, Route(context.Background(), tenantA(keep), system, contract.ObjectRef{Namespace: "team-a", Name: "gone"}),
		"a Replication that does not resolve gets no route, and no error in a summary")
}
