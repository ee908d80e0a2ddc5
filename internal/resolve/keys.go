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

// ClusterKeys is what the agent of one cluster authorizes, and which of
// the mappings naming the cluster have no key yet.
type ClusterKeys struct {
	Set *keys.AuthorizedSet
	// Fingerprints are Set's fingerprints, sorted, for stable hashing.
	Fingerprints []string
	// Unkeyed are the mappings that name the cluster but whose key Secret
	// does not exist (yet); they contribute nothing to Set.
	Unkeyed []UnkeyedMapping
}

// UnkeyedMapping is a ClusterMapping whose key Secret was not found.
type UnkeyedMapping struct {
	Mapping contract.ObjectRef
	Created time.Time
	// Reconciled is set once the mapping's reconciler wrote its status: it
	// creates the key before that, so a reconciled mapping without a key
	// will not get one by waiting.
	Reconciled bool
	Deleting   bool
}

// Comment is the comment of the authorized key with fingerprint fp: which
// mapping it belongs to; "" when Set lacks it.
func (k ClusterKeys) Comment(fp string) string {
	for _, a := range k.Set.Keys() {
		if a.Fingerprint == fp {
			return a.Comment
		}
	}
	return ""
}

// AuthorizedKeysFor is ClusterKeysFor's set and fingerprints.
func AuthorizedKeysFor(ctx context.Context, r client.Reader, system, namespace, cluster string) (*keys.AuthorizedSet, []string, error) {
	k, err := ClusterKeysFor(ctx, r, system, namespace, cluster)
	return k.Set, k.Fingerprints, err
}

// ClusterKeysFor is the union of the public cluster-pair keys of every
// ClusterMapping in namespace that names cluster as its source or its
// target, including the previous keys of mappings in a rotation overlap.
// The data plane is symmetric: the agent serves whichever cluster is a
// run's source, and failbacks and drills read the DR cluster, so its agent
// accepts the pair's key too. A mapping whose Secret does not exist yet
// contributes nothing and is listed in Unkeyed: its reconciler creates it,
// and that change rolls out. The fingerprints are sorted, for stable
// hashing.
//
// Replications that name sourceCluster and destinationCluster without a
// mapping use a key Secret of the default name no rollout reads: their
// agents authorize only mappings' keys, in either direction alike.
//
// A mapping whose key Secret reference points outside its namespace and
// the system namespace system contributes nothing either: its own
// reconciler reports it, and its Secret is never read.
func ClusterKeysFor(ctx context.Context, r client.Reader, system, namespace, cluster string) (ClusterKeys, error) {
	var list drv1.ClusterMappingList
	if err := r.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return ClusterKeys{}, fmt.Errorf("list ClusterMappings in %s: %w", namespace, err)
	}
	out := ClusterKeys{Set: &keys.AuthorizedSet{}}
	for i := range list.Items {
		m := &list.Items[i]
		if (m.Spec.SourceCluster != cluster && m.Spec.TargetCluster != cluster) || m.ReferenceProblem(system) != "" {
			continue
		}
		ref := ClusterKeySecret(m)
		var s corev1.Secret
		err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			out.Unkeyed = append(out.Unkeyed, UnkeyedMapping{
				Mapping: contract.ObjectRef{Namespace: m.Namespace, Name: m.Name}, Created: m.CreationTimestamp.Time,
				Reconciled: m.Status.ObservedGeneration > 0, Deleting: m.DeletionTimestamp != nil,
			})
			continue
		}
		if err != nil {
			return ClusterKeys{}, fmt.Errorf("get key Secret %s/%s of ClusterMapping %s: %w", ref.Namespace, ref.Name, m.Name, err)
		}
		for _, k := range []string{contract.SecretKeyClusterPublic, contract.SecretKeyClusterPreviousPublic} {
			if len(s.Data[k]) == 0 {
				continue
			}
			pub, err := keys.ParsePublicKey(s.Data[k])
			if err != nil {
				return ClusterKeys{}, fmt.Errorf("key %s of Secret %s/%s: %w", k, ref.Namespace, ref.Name, err)
			}
			out.Set = out.Set.With(pub, "dr-syncer "+m.Namespace+"/"+m.Name)
		}
	}
	out.Fingerprints = make([]string, 0, out.Set.Len())
	for _, k := range out.Set.Keys() {
		out.Fingerprints = append(out.Fingerprints, k.Fingerprint)
	}
	sort.Strings(out.Fingerprints)
	return out, nil
}
