// Package allowlist is the agent's Kubernetes adapter: its Kubernetes-backed
// allow-list. A direct-tcpip channel may reach the rsync port of a dr-syncer
// mount pod running on the agent's own node, and nothing else. It watches
// pods with a field selector on the node, so each agent sees only its node's
// pods. It is kept in its own package so that the agent server itself
// (package agent) stays free of client-go; cmd/agent wires the two together.
package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// RoleMount is the dr-syncer.io/role of the source-side mount pods.
const RoleMount = "mount"

// Options configure an AllowList.
type Options struct {
	// Client reads pods. It needs get/list/watch on pods cluster-wide.
	Client kubernetes.Interface
	// Node is the agent's node name (spec.nodeName of the pods it allows).
	Node string
	// Port is the one port allowed on a mount pod; default kube.MountServerPort.
	Port uint16
	// Resync re-lists periodically; 0 relies on the watch alone.
	Resync time.Duration
	// OnChange (optional) is told the number of allowed targets when it
	// changes, for logs.
	OnChange func(targets int)
}

// AllowList allows <podIP>:<Port> of every mount pod on Node that exists and
// has not finished. Until the first list completes it allows nothing.
type AllowList struct {
	node     string
	port     uint16
	informer cache.SharedIndexInformer
	factory  informers.SharedInformerFactory
}

// New builds an AllowList; Start begins watching.
func New(o Options) (*AllowList, error) {
	if o.Client == nil {
		return nil, errors.New("agent allow-list: no Kubernetes client")
	}
	if o.Node == "" {
		return nil, errors.New("agent allow-list: node name is required (set NODE_NAME from spec.nodeName)")
	}
	if o.Port == 0 {
		o.Port = kube.MountServerPort
	}
	selector := labels.SelectorFromSet(labels.Set{kube.LabelManagedBy: kube.ManagedBy, kube.LabelRole: RoleMount}).String()
	factory := informers.NewSharedInformerFactoryWithOptions(o.Client, o.Resync,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.LabelSelector = selector
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", o.Node).String()
		}))
	informer := factory.Core().V1().Pods().Informer()
	l := &AllowList{node: o.Node, port: o.Port, informer: informer, factory: factory}
	if o.OnChange != nil {
		var last atomic.Int64
		last.Store(-1)
		notify := func(any) {
			if n := len(l.Targets()); last.Swap(int64(n)) != int64(n) {
				o.OnChange(n)
			}
		}
		if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    notify,
			UpdateFunc: func(_, obj any) { notify(obj) },
			DeleteFunc: notify,
		}); err != nil {
			return nil, fmt.Errorf("agent allow-list: %w", err)
		}
	}
	return l, nil
}

// Start watches pods until ctx ends.
func (l *AllowList) Start(ctx context.Context) { l.factory.Start(ctx.Done()) }

// WaitSynced waits for the first list, so the agent does not refuse a
// channel for a mount pod that already exists; ctx bounds the wait only.
func (l *AllowList) WaitSynced(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), l.informer.HasSynced) {
		return fmt.Errorf("agent allow-list: pods on node %s not listed: %w", l.node, context.Cause(ctx))
	}
	return nil
}

// Allowed implements agent.AllowList.
func (l *AllowList) Allowed(host string, port uint32) bool {
	if port != uint32(l.port) || !l.informer.HasSynced() {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return false
	}
	addr = addr.Unmap()
	for _, obj := range l.informer.GetStore().List() {
		pod, ok := obj.(*corev1.Pod)
		if !ok || !l.serves(pod) {
			continue
		}
		for _, ip := range podIPs(pod) {
			if ip == addr {
				return true
			}
		}
	}
	return false
}

// LookupTarget implements agent.NamedTargets: host is a mount pod's
// "<namespace>/<pod>" (kube.MountTarget), and resolves to the pod's IP only
// while the pod is one this list allows. The watch sees only mount pods on
// this node, so "pending" tells a client nothing about other pods.
func (l *AllowList) LookupTarget(host string) (addr netip.Addr, ok, pending bool) {
	namespace, name, wellFormed := kube.ParseMountTargetHost(host)
	if !wellFormed {
		return netip.Addr{}, false, false
	}
	if !l.informer.HasSynced() {
		return netip.Addr{}, false, true
	}
	obj, exists, err := l.informer.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return netip.Addr{}, false, true
	}
	pod, isPod := obj.(*corev1.Pod)
	if !isPod || !l.serves(pod) {
		return netip.Addr{}, false, false
	}
	ips := podIPs(pod)
	if len(ips) == 0 {
		return netip.Addr{}, false, true
	}
	return ips[0], true, false
}

// Targets lists the allowed ip:port targets, for logs and tests.
func (l *AllowList) Targets() []netip.AddrPort {
	var out []netip.AddrPort
	for _, obj := range l.informer.GetStore().List() {
		pod, ok := obj.(*corev1.Pod)
		if !ok || !l.serves(pod) {
			continue
		}
		for _, ip := range podIPs(pod) {
			out = append(out, netip.AddrPortFrom(ip, l.port))
		}
	}
	return out
}

// serves re-checks what the server-side selectors already filtered, so a
// client that ignores them (or a pod relabelled since) is still judged
// right, and leaves out finished pods and host-network pods, whose IP is
// the node's own.
func (l *AllowList) serves(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == l.node &&
		pod.Labels[kube.LabelManagedBy] == kube.ManagedBy &&
		pod.Labels[kube.LabelRole] == RoleMount &&
		!pod.Spec.HostNetwork &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func podIPs(pod *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			for _, have := range out {
				if have == a {
					return
				}
			}
			out = append(out, a)
		}
	}
	add(pod.Status.PodIP)
	for _, ip := range pod.Status.PodIPs {
		add(ip.IP)
	}
	return out
}
