package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// The rotation of a key that its users must trust before they get it: the
// cluster-pair key of a ClusterMapping (the agents authorize it) and the
// agent host key of a RemoteCluster (the sync pods pin it). Both rotate the
// same way: the old public half stays in the Secret as "previous", trusted,
// until whoever presents the key runs the new one; only then is it dropped.

// keyAction is what happens to a key Secret.
type keyAction int

const (
	keyKeep keyAction = iota
	// keyGenerate writes a fresh key (no Secret, or an unusable one).
	keyGenerate
	// keyRotate writes a fresh key and keeps the old public half as
	// previous, trusted until the agents have the new one.
	keyRotate
	// keyDropPrevious ends the overlap: the agents run the new key.
	keyDropPrevious
)

// maxRotationWait bounds the wait for a timed rotation, so a clock or
// status drift is corrected in time.
const maxRotationWait = time.Hour

// rotatingKey is what a planner reads of a key Secret's rotation.
type rotatingKey struct {
	// Overlap is set while the previous public half is still in the Secret.
	Overlap     bool
	GeneratedAt time.Time
	// Handled is the rotate annotation value the current key answers.
	Handled string
}

// keySecretLayout names a rotating key Secret's data keys and kind label.
type keySecretLayout struct {
	Kind, Private, Public, PreviousPublic string
}

var (
	clusterKeyLayout = keySecretLayout{Kind: contract.KeyKindClusterPair, Private: contract.SecretKeyClusterPrivate,
		Public: contract.SecretKeyClusterPublic, PreviousPublic: contract.SecretKeyClusterPreviousPublic}
	hostKeyLayout = keySecretLayout{Kind: contract.KeyKindAgentHost, Private: contract.SecretKeyHostPrivate,
		Public: contract.SecretKeyHostPublic, PreviousPublic: contract.SecretKeyHostPreviousPublic}
)

// read returns the fingerprint of s's public half, "" unless the private
// half parses and matches it: a Secret whose halves disagree would have
// the agent present, or sign with, a key nobody trusts.
func (l keySecretLayout) read(s *corev1.Secret) (fingerprint string, k rotatingKey) {
	if s == nil {
		return "", k
	}
	k = rotatingKey{
		Overlap:     len(s.Data[l.PreviousPublic]) > 0,
		GeneratedAt: resolve.KeyGeneratedAt(s),
		Handled:     s.Annotations[contract.AnnotationRotateKeysHandled],
	}
	fp := resolve.PublicKeyFingerprint(s.Data[l.Public])
	if fp == "" {
		return "", k
	}
	signer, err := keys.ParsePrivateKey(s.Data[l.Private])
	if err != nil || keys.Fingerprint(signer.PublicKey()) != fp {
		return "", k
	}
	return fp, k
}

// rotationRequest is what asks for a rotation: the value of the rotate
// annotation ("" when unset) and the rotation interval (0 for none).
type rotationRequest struct {
	Value    string
	Interval time.Duration
}

func (r rotationRequest) due(k rotatingKey, now time.Time) bool {
	return (r.Value != "" && r.Value != k.Handled) ||
		(r.Interval > 0 && !k.GeneratedAt.IsZero() && now.Sub(k.GeneratedAt) >= r.Interval)
}

// planRotation decides the action on a valid key, and sets k to what the
// Secret holds after it. agentsHaveNew says whoever presents or authorizes
// the key runs the current one. Pure.
func planRotation(k *rotatingKey, req rotationRequest, agentsHaveNew bool, now time.Time) keyAction {
	switch {
	case k.Overlap && agentsHaveNew:
		k.Overlap = false
		return keyDropPrevious
	case !k.Overlap && req.due(*k, now):
		// Never during an overlap: the previous key would be dropped
		// while an agent still uses it. The request waits for the end.
		k.GeneratedAt, k.Handled, k.Overlap = now, req.Value, true
		return keyRotate
	}
	return keyKeep
}

// requeue shortens current (0: none planned) to when a timed rotation is due.
func (r rotationRequest) requeue(k rotatingKey, now time.Time, current time.Duration) time.Duration {
	if r.Interval <= 0 {
		return current
	}
	rotateIn := min(max(k.GeneratedAt.Add(r.Interval).Sub(now), time.Second), maxRotationWait)
	if current == 0 || rotateIn < current {
		return rotateIn
	}
	return current
}

// generatedKey is a fresh key pair: its private half, its public half as
// an authorized_keys line.
type generatedKey func() (keys.Secret, []byte, error)

// writeKeySecret carries action out on the key Secret at ref: existing
// is the Secret as observed (nil creates it), handled the rotate
// annotation value a new key answers. Key material goes from generate
// straight into the Secret: never logged, put in status or passed to
// Temporal. An update carries the observed resourceVersion, so a
// concurrent writer makes this one retry rather than lose a key.
func writeKeySecret(ctx context.Context, c client.Client, ref contract.SecretRef, existing *corev1.Secret,
	layout keySecretLayout, action keyAction, handled string, now time.Time, generate generatedKey) error {
	if action == keyKeep {
		return nil
	}
	s := existing.DeepCopy()
	create := s == nil
	if create {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}, Type: corev1.SecretTypeOpaque}
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Labels[contract.LabelKeyKind] = layout.Kind
	switch action {
	case keyGenerate, keyRotate:
		private, public, err := generate()
		if err != nil {
			return err
		}
		delete(s.Data, layout.PreviousPublic)
		if action == keyRotate {
			s.Data[layout.PreviousPublic] = s.Data[layout.Public]
		}
		s.Data[layout.Private] = private.Reveal()
		s.Data[layout.Public] = public
		s.Annotations[contract.AnnotationKeyGeneratedAt] = now.UTC().Format(time.RFC3339)
		s.Annotations[contract.AnnotationRotateKeysHandled] = handled
	case keyDropPrevious:
		delete(s.Data, layout.PreviousPublic)
	}
	var err error
	if create {
		err = c.Create(ctx, s)
	} else {
		err = c.Update(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("write %s key Secret %s/%s: %w", layout.Kind, ref.Namespace, ref.Name, err)
	}
	return nil
}
