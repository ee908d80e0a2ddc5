// Package hostpath is the lab's dynamic volume provisioner: for every pending
// PVC of a StorageClass it serves, it makes a directory on the node and a
// hostPath PersistentVolume pinned to that node; when a PV of reclaim policy
// Delete is released, it removes the directory and the PV.
//
// It is meant for the single-node lab clusters only: every access mode,
// ReadWriteMany included, is "supported" because all pods share one node.
package hostpath

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
)

// DefaultName is the provisioner name the lab's StorageClasses use.
const DefaultName = "lab.dr-syncer.io/hostpath"

const (
	annProvisionedBy = "pv.kubernetes.io/provisioned-by"
	annSelectedNode  = "volume.kubernetes.io/selected-node"
	hostnameLabel    = "kubernetes.io/hostname"
)

// Options configure a Provisioner.
type Options struct {
	Client  kubernetes.Interface
	Name    string // provisioner name in StorageClass.provisioner; DefaultName if empty
	BaseDir string // volumes are made as BaseDir/<pv name>
	Node    string // the node every volume is pinned to
	Log     *zap.Logger
	Resync  time.Duration // full reconcile period; 10s if zero
}

// Provisioner reconciles PVCs and PVs of its StorageClasses.
type Provisioner struct {
	opt     Options
	pvcs    corelisters.PersistentVolumeClaimLister
	pvs     corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
}

// New returns a Provisioner; call Run to start it.
func New(opt Options) *Provisioner {
	if opt.Name == "" {
		opt.Name = DefaultName
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	if opt.Resync == 0 {
		opt.Resync = 10 * time.Second
	}
	return &Provisioner{opt: opt}
}

// Run watches PVCs, PVs and StorageClasses and reconciles on every change until
// ctx is done.
func (p *Provisioner) Run(ctx context.Context) error {
	f := informers.NewSharedInformerFactory(p.opt.Client, 0)
	poke := make(chan struct{}, 1)
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(poke) },
		UpdateFunc: func(any, any) { notify(poke) },
		DeleteFunc: func(any) { notify(poke) },
	}
	for _, inf := range []cache.SharedIndexInformer{
		f.Core().V1().PersistentVolumeClaims().Informer(),
		f.Core().V1().PersistentVolumes().Informer(),
		f.Storage().V1().StorageClasses().Informer(),
	} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("add event handler: %w", err)
		}
	}
	p.pvcs = f.Core().V1().PersistentVolumeClaims().Lister()
	p.pvs = f.Core().V1().PersistentVolumes().Lister()
	p.classes = f.Storage().V1().StorageClasses().Lister()
	f.Start(ctx.Done())
	defer f.Shutdown()
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("sync informer cache for %v", typ)
		}
	}
	p.opt.Log.Info("provisioner started", zap.String("name", p.opt.Name), zap.String("dir", p.opt.BaseDir), zap.String("node", p.opt.Node))
	tick := time.NewTicker(p.opt.Resync)
	defer tick.Stop()
	for {
		if err := p.Reconcile(ctx); err != nil {
			p.opt.Log.Warn("reconcile", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poke:
		case <-tick.C:
		}
	}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Reconcile provisions every pending claim and deletes every released volume it
// owns. It is idempotent; errors of single objects are logged, the last returned.
func (p *Provisioner) Reconcile(ctx context.Context) error {
	var last error
	claims, err := p.pvcs.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list claims: %w", err)
	}
	sort.Slice(claims, func(i, j int) bool { return claims[i].CreationTimestamp.Before(&claims[j].CreationTimestamp) })
	for _, pvc := range claims {
		if err := p.provision(ctx, pvc); err != nil {
			p.opt.Log.Warn("provision", zap.String("namespace", pvc.Namespace), zap.String("pvc", pvc.Name), zap.Error(err))
			last = err
		}
	}
	vols, err := p.pvs.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	for _, pv := range vols {
		if err := p.reclaim(ctx, pv); err != nil {
			p.opt.Log.Warn("delete volume", zap.String("pv", pv.Name), zap.Error(err))
			last = err
		}
	}
	return last
}

// VolumeName is the PV name for a claim.
func VolumeName(pvc *corev1.PersistentVolumeClaim) string { return "pvc-" + string(pvc.UID) }

func (p *Provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil {
		return nil
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return nil
	}
	class, err := p.classes.Get(*pvc.Spec.StorageClassName)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if class.Provisioner != p.opt.Name {
		return nil
	}
	if class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		node := pvc.Annotations[annSelectedNode]
		if node == "" {
			return nil // the scheduler picks the node first
		}
		if node != p.opt.Node {
			return nil
		}
	}
	if pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		return fmt.Errorf("volumeMode Block is not supported by the lab's hostPath provisioner")
	}
	name := VolumeName(pvc)
	if _, err := p.pvs.Get(name); err == nil {
		return nil
	}
	pv := p.volumeFor(pvc, class)
	dir := pv.Spec.HostPath.Path
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("make volume dir: %w", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // any pod user may write, as on a fresh disk
		return fmt.Errorf("chmod volume dir: %w", err)
	}
	if _, err := p.opt.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	p.opt.Log.Info("provisioned", zap.String("namespace", pvc.Namespace), zap.String("pvc", pvc.Name), zap.String("pv", name), zap.String("class", class.Name), zap.String("path", dir))
	return nil
}

func (p *Provisioner) volumeFor(pvc *corev1.PersistentVolumeClaim, class *storagev1.StorageClass) *corev1.PersistentVolume {
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	dirType := corev1.HostPathDirectoryOrCreate
	name := VolumeName(pvc)
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: p.opt.Name},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(p.opt.BaseDir, name), Type: &dirType},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: hostnameLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{p.opt.Node},
				}}}},
			}},
		},
	}
}

func (p *Provisioner) reclaim(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Annotations[annProvisionedBy] != p.opt.Name || pv.DeletionTimestamp != nil {
		return nil
	}
	if pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	if pv.Spec.HostPath == nil {
		return nil
	}
	dir := filepath.Clean(pv.Spec.HostPath.Path)
	if filepath.Dir(dir) != filepath.Clean(p.opt.BaseDir) {
		return fmt.Errorf("refusing to delete %s: not directly under %s", dir, p.opt.BaseDir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove volume dir: %w", err)
	}
	err := p.opt.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete volume %s: %w", pv.Name, err)
	}
	p.opt.Log.Info("deleted", zap.String("pv", pv.Name), zap.String("path", dir))
	return nil
}
