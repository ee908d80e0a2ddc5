package pvcdata

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// pinsOutdated says whether a mover that refused the agent's host key had
// pinned an older set than the control cluster's host key Secret pins now.
// That is a host-key rotation, not an attack: the pod's identity was
// issued before the rotation began, and its node's agent restarted with
// the new key before the mover dialled. The sync is then retried, and the
// retry replaces the failed pod with one that pins the current set. A
// mover that pinned every key pinned now met a key nobody trusts: that
// stays permanent.
func (a *PVCActivities) pinsOutdated(ctx context.Context, cs kubernetes.Interface, in contract.TransferInput, sum progress.Summary) (bool, error) {
	// The summary crosses a process boundary as JSON; the mover's error
	// text is the one place that names the refusal.
	if in.ClusterKey == nil || in.AgentHostKey == nil || !strings.Contains(sum.Error, mover.ErrHostKeyMismatch.Error()) {
		return false, nil
	}
	s, err := cs.CoreV1().Secrets(in.PVC.Namespace).Get(ctx, in.Credentials, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("get credentials Secret %s/%s in %s: %w", in.PVC.Namespace, in.Credentials, in.PVC.Cluster.Name, err)
	}
	pinned, err := keys.ParseHostKeys(s.Data[kube.SecretKeyAgentHostKey])
	if err != nil {
		return false, nil
	}
	authority, err := activities.LoadSSHAuthority(ctx, a.Control, *in.ClusterKey, *in.AgentHostKey)
	if err != nil {
		return false, err
	}
	current, err := keys.ParseHostKeys(authority.HostKeys)
	if err != nil {
		return false, nil
	}
	had := map[string]bool{}
	for _, k := range pinned {
		had[ssh.FingerprintSHA256(k)] = true
	}
	for _, k := range current {
		if !had[ssh.FingerprintSHA256(k)] {
			return true, nil
		}
	}
	return false, nil
}
