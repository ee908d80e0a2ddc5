package resolve

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// KeyGeneratedAt reads a key Secret's generation time; zero when unknown.
func KeyGeneratedAt(s *corev1.Secret) time.Time {
	t, err := time.Parse(time.RFC3339, s.Annotations[contract.AnnotationKeyGeneratedAt])
	if err != nil {
		return time.Time{}
	}
	return t
}

// PublicKeyFingerprint parses one authorized_keys line of a Secret and
// returns its fingerprint; "" when the key is absent or unparsable. The
// fingerprint is safe to log and to put in workflow histories.
func PublicKeyFingerprint(line []byte) string {
	if len(line) == 0 {
		return ""
	}
	pub, err := keys.ParsePublicKey(line)
	if err != nil {
		return ""
	}
	return keys.Fingerprint(pub)
}

// AuthorizedKeysFor is the union of the public cluster-pair keys of every
// ClusterMapping in namespace that names cluster as its source or its
// target, including the previous keys of mappings in a rotation overlap.
// The data plane is symmetric: the agent serves whichever cluster is a
// run's source, and failbacks and drills read the DR cluster, so its agent
// accepts the pair's key too. A mapping whose Secret does not exist yet
// contributes nothing: its reconciler creates it, and that change rolls
// out. The fingerprints are sorted, for stable hashing.
//
// Replications that name sourceCluster and destinationCluster without a
// mapping use a key Secret of the default name no rollout reads: their
// agents authorize only mappings' keys, in either direction alike.
//
// A mapping whose key Secret reference points outside its namespace and
// the system namespace system contributes nothing either: its own
// reconciler reports it, and its Secret is never read.
func AuthorizedKeysFor(ctx context.Context, r client.Reader, system, namespace, cluster string) (*keys.AuthorizedSet, []string, error) {
	var list drv1.ClusterMappingList
	if err := r.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, nil, fmt.Errorf("list ClusterMappings in %s: %w", namespace, err)
	}
	set := &keys.AuthorizedSet{}
	for i := range list.Items {
		m := &list.Items[i]
		if (m.Spec.SourceCluster != cluster && m.Spec.TargetCluster != cluster) || m.ReferenceProblem(system) != "" {
			continue
		}
		ref := ClusterKeySecret(m)
		var s corev1.Secret
		err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("get key Secret %s/%s of ClusterMapping %s: %w", ref.Namespace, ref.Name, m.Name, err)
		}
		for _, k := range []string{contract.SecretKeyClusterPublic, contract.SecretKeyClusterPreviousPublic} {
			if len(s.Data[k]) == 0 {
				continue
			}
			pub, err := keys.ParsePublicKey(s.Data[k])
			if err != nil {
				return nil, nil, fmt.Errorf("key %s of Secret %s/%s: %w", k, ref.Namespace, ref.Name, err)
			}
			set = set.With(pub, "dr-syncer "+m.Namespace+"/"+m.Name)
		}
	}
	fps := make([]string, 0, set.Len())
	for _, k := range set.Keys() {
		fps = append(fps, k.Fingerprint)
	}
	sort.Strings(fps)
	return set, fps, nil
}
