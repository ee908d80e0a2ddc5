package objects

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// replicateVolumes copies the PVs bound to the namespace's claims, when
// they can serve DR (see resources.VolumePortable), before the claims, so
// each DR claim binds to its volume by name. It records in opts which
// volumes travel, so only their claims keep volumeName.
func (a *ResourceActivities) replicateVolumes(ctx context.Context, src, dst dynamic.Interface, plan contract.ReplicationPlan,
	claims []unstructured.Unstructured, opts *resources.Options) (contract.KindResult, error) {
	k := resources.PersistentVolume
	result := contract.KindResult{Kind: k.Kind}
	sourceVolumes, err := listObjects(ctx, src, k, "")
	if err != nil {
		return result, fmt.Errorf("list source PersistentVolumes: %w", err)
	}
	drVolumes, err := listObjects(ctx, dst, k, "")
	if err != nil {
		return result, fmt.Errorf("list DR PersistentVolumes: %w", err)
	}
	bound := map[string]string{} // volume name -> claim name
	for _, c := range claims {
		if v, _, _ := unstructured.NestedString(c.Object, "spec", "volumeName"); v != "" && c.GetLabels()[drv1.LabelIgnore] != "true" {
			bound[v] = c.GetName()
		}
	}
	opts.PVC.PortableVolumes = map[string]bool{}
	var travel []unstructured.Unstructured
	for _, pv := range sourceVolumes {
		claim, ok := bound[pv.GetName()]
		ns, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "namespace")
		name, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "name")
		if !ok || ns != plan.SourceNamespace || name != claim {
			continue
		}
		if portable, why := resources.VolumePortable(&pv); !portable {
			result.Objects = append(result.Objects, contract.ObjectStatus{Kind: k.Kind, Name: pv.GetName(), State: contract.StateSkipped,
				Error: why + "; the DR claim gets a new volume"})
			continue
		}
		opts.PVC.PortableVolumes[pv.GetName()] = true
		travel = append(travel, pv)
	}
	r := &kindRun{plan: plan, kind: k, cluster: dst, dst: dst.Resource(k.GVR()), opts: *opts,
		handling: handling(plan, k)}
	r.run(ctx, travel, drVolumes, &result)
	return result, nil
}
