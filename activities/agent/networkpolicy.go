package agent

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
)

// removeUnwantedNetworkPolicy deletes the agent's NetworkPolicy when the
// settings no longer ask for one: applying manifests only adds and updates,
// and a policy left behind would keep filtering with CIDRs nobody set.
func removeUnwantedNetworkPolicy(ctx context.Context, cs kubernetes.Interface, v agentdeploy.Values) error {
	if v.WantsNetworkPolicy() {
		return nil
	}
	err := cs.NetworkingV1().NetworkPolicies(v.Namespace).Delete(ctx, v.PolicyName(), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete agent NetworkPolicy %s/%s that allowedSourceCIDRs no longer asks for: %w", v.Namespace, v.PolicyName(), err)
	}
	return nil
}
