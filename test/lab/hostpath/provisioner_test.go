package hostpath

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func TestProvisionAndReclaim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	immediate, wffc := storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer
	client := fake.NewClientset(
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Provisioner: DefaultName, VolumeBindingMode: &immediate},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: DefaultName, VolumeBindingMode: &wffc},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Provisioner: "example.com/other", VolumeBindingMode: &immediate},
		claim("a", "standard", nil, corev1.ReadWriteMany),
		claim("b", "fast", nil, corev1.ReadWriteOnce),                                      // no node chosen yet
		claim("c", "fast", map[string]string{annSelectedNode: "n1"}, corev1.ReadWriteOnce), // node chosen
		claim("d", "other", nil, corev1.ReadWriteOnce),                                     // not ours
	)
	p := New(Options{Client: client, BaseDir: dir, Node: "n1", Resync: 50 * time.Millisecond})
	go func() {
		if err := p.Run(ctx); err != nil {
			t.Error(err)
		}
	}()

	pvA := waitPV(t, client, "pvc-uid-a")
	waitPV(t, client, "pvc-uid-c")
	if got := pvA.Spec.AccessModes; len(got) != 1 || got[0] != corev1.ReadWriteMany {
		t.Errorf("access modes %v, want [ReadWriteMany]", got)
	}
	if got := pvA.Spec.ClaimRef; got == nil || got.Name != "a" || got.UID != "uid-a" {
		t.Errorf("claimRef %+v, want claim a", got)
	}
	if got := pvA.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values; got[0] != "n1" {
		t.Errorf("node affinity %v, want n1", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "pvc-uid-a")); err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("volume dir: %v %v", fi, err)
	}
	time.Sleep(200 * time.Millisecond)
	for _, name := range []string{"pvc-uid-b", "pvc-uid-d"} {
		if _, err := client.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{}); err == nil {
			t.Errorf("%s provisioned, want not", name)
		}
	}

	// Claim deleted, volume released with reclaim policy Delete: directory and PV go.
	if err := client.CoreV1().PersistentVolumeClaims("ns").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pvA.Status.Phase = corev1.VolumeReleased
	if _, err := client.CoreV1().PersistentVolumes().UpdateStatus(ctx, pvA, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-uid-a", metav1.GetOptions{})
		if _, statErr := os.Stat(filepath.Join(dir, "pvc-uid-a")); err != nil && os.IsNotExist(statErr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("released volume not reclaimed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReclaimRefusesPathsOutsideBaseDir(t *testing.T) {
	p := New(Options{Client: fake.NewClientset(), BaseDir: "/lab/volumes", Node: "n1"})
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Annotations: map[string]string{annProvisionedBy: DefaultName}},
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeReleased},
	}
	if err := p.reclaim(context.Background(), pv); err == nil {
		t.Fatal("reclaim of /etc succeeded, want refusal")
	}
}

func claim(name, class string, ann map[string]string, mode corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: k8stypes.UID("uid-" + name), Annotations: ann},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
}

func waitPV(t *testing.T, c *fake.Clientset, name string) *corev1.PersistentVolume {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pv, err := c.CoreV1().PersistentVolumes().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			return pv
		}
		if time.Now().After(deadline) {
			t.Fatalf("PV %s not provisioned: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
