package integration

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// controlKeySecrets creates a cluster-pair key Secret and an agent host key
// Secret in the control namespace, as the controller's key rollout does,
// and returns the pair key and the host public key line.
func controlKeySecrets(t *testing.T, c client.Client, pairName, hostName string) (keys.ClusterPairKey, []byte) {
	t.Helper()
	pair, err := keys.GenerateClusterPairKey("source->dr")
	require.NoError(t, err)
	hostPriv, hostPub, err := keys.GenerateHostKey("agent")
	require.NoError(t, err)
	create(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: pairName},
		Data: map[string][]byte{contract.SecretKeyClusterPrivate: pair.PrivateKey.Reveal(), contract.SecretKeyClusterPublic: pair.AuthorizedKey}})
	create(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: hostName},
		Data: map[string][]byte{contract.SecretKeyHostPrivate: hostPriv.Reveal(), contract.SecretKeyHostPublic: hostPub}})
	return pair, hostPub
}

// credentialedTransfer is a Transfer whose operation got its credentials
// from EnsureCredentials, on a fresh API server that is both clusters.
type credentialedTransfer struct {
	cluster          *testenv.Cluster
	acts             *pvcdata.PVCActivities
	pair             keys.ClusterPairKey
	hostPub          []byte
	pairRef, hostRef contract.SecretRef
	in               contract.TransferInput
}

// newCredentialedTransfer sets one up for the Replication name.
func newCredentialedTransfer(t *testing.T, name string) credentialedTransfer {
	t.Helper()
	cluster := testenv.StartCluster(t, "dr")
	cluster.RegisterRemoteCluster(t, testenv.ControlNamespace, cluster)
	ct := credentialedTransfer{cluster: cluster, acts: &pvcdata.PVCActivities{Clusters: kube.NewClusters(cluster.Client, kube.KubeconfigPolicy{}), Control: cluster.Client}}
	dr := contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "dr"}
	testenv.EnsureNamespace(t, cluster.Client, "app")
	testenv.EnsureNamespace(t, cluster.Client, "app-src")
	// The keys under the names the Replication's plan finds them by: each
	// step checks its input against the Replication it names.
	ct.pairRef = contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.ClusterKeySecretName("dr", "dr")}
	ct.hostRef = contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.AgentHostKeySecretName("dr")}
	ct.pair, ct.hostPub = controlKeySecrets(t, cluster.Client, ct.pairRef.Name, ct.hostRef.Name)
	authority := createAuthority(t, cluster.Client, name, "dr", "app-src", "dr", "app")
	op := contract.Operation{WorkflowID: "pvc-sync/prod/app/" + name, RunID: "run-1"}
	var creds contract.Credentials
	require.NoError(t, runActivity(t, ct.acts, ct.acts.EnsureCredentials, contract.CredentialsInput{
		Op: op, Source: dr, SourceNamespace: "app-src", Destination: dr, DestinationNamespace: "app",
		ClusterKey: ct.pairRef, AgentHostKey: ct.hostRef, Authority: authority,
	}, &creds))
	ct.in = contract.TransferInput{
		Op: op, PVC: contract.PVCRef{Cluster: dr, Namespace: "app", Name: "data"}, Node: "dr-1",
		Image:     planImage,
		AgentAddr: "10.255.0.11:2222", Target: kube.MountTarget("app-src", op.Name("mount")), Credentials: creds.Secret,
		Config: rsyncargs.Config{}, ClusterKey: &ct.pairRef, AgentHostKey: &ct.hostRef, Authority: authority,
	}
	return ct
}

// assertNoClusterPairKey fails if a DR Secret holds the cluster-pair
// private key: under its control-cluster name, or as any value that parses
// as a private key whose public half is the pair's.
func assertNoClusterPairKey(t *testing.T, data map[string][]byte, pair keys.ClusterPairKey) {
	t.Helper()
	assert.NotContains(t, data, kube.SecretKeyClusterKey)
	for k, v := range data {
		if signer, err := keys.ParsePrivateKey(v); err == nil {
			assert.NotEqual(t, pair.Fingerprint, keys.Fingerprint(signer.PublicKey()), "Secret key %q holds the cluster-pair private key", k)
		}
	}
}

// Transfer issues the sync pod's certificate whenever it creates a sync
// pod: bound to the transfer's target, from the cluster-pair key current at
// that moment. The DR Secret never holds the cluster-pair key.
func TestTransferIssuesOperationCertificates(t *testing.T) {
	ct := newCredentialedTransfer(t, "certs")
	cluster, acts, pair, pairRef, op, in := ct.cluster, ct.acts, ct.pair, ct.pairRef, ct.in.Op, ct.in
	creds := contract.Credentials{Secret: in.Credentials}
	ctx := context.Background()
	drSecret := func() map[string][]byte {
		var s corev1.Secret
		require.NoError(t, cluster.Client.Get(ctx, client.ObjectKey{Namespace: "app", Name: creds.Secret}, &s))
		return s.Data
	}
	certOf := func(data map[string][]byte) *ssh.Certificate {
		cert, err := keys.ParseCert(data[kube.SecretKeyOpCert])
		require.NoError(t, err)
		_, err = keys.CertSigner(data[kube.SecretKeyOpKey], data[kube.SecretKeyOpCert])
		require.NoError(t, err, "the key and certificate belong together")
		return cert
	}
	assertNoClusterPairKey(t, drSecret(), pair)

	// transfer runs Transfer while playing the kubelet: once a new sync pod
	// exists, its mover ends with phase, and Transfer returns.
	var lastPod types.UID
	transfer := func(phase corev1.PodPhase) (map[string][]byte, error) {
		var ts testsuite.WorkflowTestSuite
		aenv := ts.NewTestActivityEnvironment()
		aenv.RegisterActivity(acts)
		done := make(chan error, 1)
		go func() { _, err := aenv.ExecuteActivity(acts.Transfer, in); done <- err }()
		var pod corev1.Pod
		require.Eventually(t, func() bool {
			return cluster.Client.Get(ctx, client.ObjectKey{Namespace: "app", Name: op.Name("sync")}, &pod) == nil && pod.UID != lastPod
		}, 30*time.Second, 50*time.Millisecond, "no new sync pod")
		lastPod = pod.UID
		data := drSecret() // what the pod mounted
		class := rsyncargs.ClassSuccess
		if phase == corev1.PodFailed {
			class = rsyncargs.ClassRetryable
		}
		summary, err := json.Marshal(progress.Summary{Outcome: rsyncargs.Outcome{Class: class, ExitCode: 12}, Streams: 1})
		require.NoError(t, err)
		pod.Status.Phase = phase
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "mover", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 75, Message: string(summary), Reason: "Error"}}}}
		require.NoError(t, cluster.Client.Status().Update(ctx, &pod))
		select {
		case err := <-done:
			return data, err
		case <-time.After(30 * time.Second):
			t.Fatal("Transfer did not return")
			return nil, nil
		}
	}

	first, err := transfer(corev1.PodFailed)
	require.Error(t, err, "an interrupted transfer is retried")
	cert := certOf(first)
	assert.Equal(t, pair.Fingerprint, keys.Fingerprint(cert.SignatureKey), "signed by the cluster-pair key")
	target, err := keys.CertTarget(cert)
	require.NoError(t, err)
	assert.Equal(t, in.Target, target, "bound to the transfer's one target")
	assert.Contains(t, cert.KeyId, "app/data")
	assert.WithinDuration(t, time.Now().Add(keys.DefaultCertValidity), time.Unix(int64(cert.ValidBefore), 0), time.Minute)
	assertNoClusterPairKey(t, first, pair)

	// The key is rotated; the retry replaces the failed pod with one that
	// gets a new key and a certificate from the new cluster-pair key.
	rotated, err := keys.GenerateClusterPairKey("source->dr rotated")
	require.NoError(t, err)
	var ps corev1.Secret
	require.NoError(t, cluster.Client.Get(ctx, client.ObjectKey{Namespace: pairRef.Namespace, Name: pairRef.Name}, &ps))
	ps.Data[contract.SecretKeyClusterPrivate] = rotated.PrivateKey.Reveal()
	ps.Data[contract.SecretKeyClusterPreviousPublic] = ps.Data[contract.SecretKeyClusterPublic]
	ps.Data[contract.SecretKeyClusterPublic] = rotated.AuthorizedKey
	require.NoError(t, cluster.Client.Update(ctx, &ps))

	second, err := transfer(corev1.PodSucceeded)
	require.NoError(t, err)
	cert2 := certOf(second)
	assert.Equal(t, rotated.Fingerprint, keys.Fingerprint(cert2.SignatureKey), "signed by the current key")
	assert.NotEqual(t, cert.Key.Marshal(), cert2.Key.Marshal(), "a fresh key for the new pod")
	assertNoClusterPairKey(t, second, rotated)

	// A retry that re-attaches to the pod keeps the identity it started with.
	var ts testsuite.WorkflowTestSuite
	aenv := ts.NewTestActivityEnvironment()
	aenv.RegisterActivity(acts)
	_, err = aenv.ExecuteActivity(acts.Transfer, in)
	require.NoError(t, err)
	assert.Equal(t, second[kube.SecretKeyOpCert], drSecret()[kube.SecretKeyOpCert])

	// A run started by a worker that copied the key cannot get a certificate.
	old := in
	old.Op = contract.Operation{WorkflowID: "pvc-sync/prod/app/old", RunID: "run-1"}
	old.ClusterKey, old.AgentHostKey = nil, nil
	_, err = aenv.ExecuteActivity(acts.Transfer, old)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "got %v", err)
	assert.True(t, appErr.NonRetryable())
	assert.True(t, strings.Contains(appErr.Error(), "per-operation certificates"), appErr.Error())
}
