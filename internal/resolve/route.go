package resolve

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
)

// Route names the Replication ref's source → destination by cluster and
// namespace ("prod/shop → dr/shop"), for the summaries runs show in the
// Temporal Web UI (starter.Starter.Routes). It is "" when the references
// do not resolve: a summary is no place to report that, and the run's
// own first step says what is wrong.
func Route(ctx context.Context, r client.Reader, system string, ref contract.ObjectRef) string {
	res, err := Replication(ctx, r, system, ref)
	if err != nil {
		return ""
	}
	to := DRLocation(res)
	return res.Source.Name + "/" + res.Replication.Spec.SourceNamespace + " → " + to.Destination.Name + "/" + to.Namespace
}
