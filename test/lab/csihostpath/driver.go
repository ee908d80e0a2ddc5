// Package csihostpath is the lab's CSI driver: it serves volumes that are
// plain directories on the one node of a lab cluster, so that the real
// csi-provisioner, csi-snapshotter and snapshot-controller can provision
// volumes, take snapshots and clone volumes in the lab.
//
// Everything lives under one base directory, so a restarted driver finds its
// volumes and snapshots again:
//
//	<base>/volumes/<volume id>/          the data a pod sees
//	<base>/snapshots/<snapshot id>/      a full copy of a volume's data
//	<base>/meta/volumes/<volume id>.json      name, capacity, content source
//	<base>/meta/snapshots/<snapshot id>.json  name, source volume, size, time
//
// A metadata file is the commit point of a create: it is written (atomically)
// only after the data is complete, and a volume or snapshot without one does
// not exist.
//
// A snapshot is a copy of the source volume's directory (cp -a, which keeps
// modes, owners, symlinks and mtimes). The copy takes time and writers keep
// writing meanwhile, so a snapshot is point-in-time only when the writers are
// quiesced while it is taken — the product's freeze hook does that — exactly
// as with the upstream hostpath driver's tar-based snapshots.
//
// The driver is for the single-node lab clusters only: capacity is recorded
// but not enforced, and the multi-node access modes are accepted because all
// pods share one node.
package csihostpath

import (
	"context"
	"fmt"
	"sync"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// DefaultName is the driver name the lab's StorageClasses and
// VolumeSnapshotClasses use.
const DefaultName = "hostpath.csi.lab.dr-syncer.io"

// VendorVersion is what GetPluginInfo reports as the driver's version.
const VendorVersion = "0.1.0"

// Options configure a Driver.
type Options struct {
	Name    string // CSI driver name; DefaultName if empty
	NodeID  string // the node the driver runs on, reported by NodeGetInfo
	BaseDir string // volumes, snapshots and their metadata live here

	// Endpoint is the path of the unix socket the CSI services are served on.
	Endpoint string
	// RegistrationSocket is the path of the unix socket, inside the kubelet's
	// plugins_registry directory, that announces the driver to the kubelet;
	// empty means the driver does not register with a kubelet.
	RegistrationSocket string

	Log *zap.Logger
}

// Driver implements the CSI Identity, Controller and Node services.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	opt   Options
	store store

	// mu serialises every operation that reads or changes the state on disk
	// or the node's mounts, so the handlers need not reason about races.
	// A copy for a snapshot or clone holds it throughout, which is fine for
	// the lab's small volumes.
	mu sync.Mutex
}

// New returns a Driver whose state lives in opt.BaseDir, making the
// directories it needs; call Run to serve it.
func New(opt Options) (*Driver, error) {
	if opt.Name == "" {
		opt.Name = DefaultName
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	if opt.NodeID == "" || opt.BaseDir == "" {
		return nil, fmt.Errorf("csihostpath: the node ID and the base directory are required")
	}
	s := store{base: opt.BaseDir}
	if err := s.init(); err != nil {
		return nil, err
	}
	return &Driver{opt: opt, store: s}, nil
}

// Run serves the CSI services on opt.Endpoint and, if opt.RegistrationSocket
// is set, the kubelet plugin-registration API, until ctx is done; it then
// stops both servers and removes their sockets.
func (d *Driver) Run(ctx context.Context) error {
	if d.opt.Endpoint == "" {
		return fmt.Errorf("csihostpath: the CSI endpoint socket path is required")
	}
	csiServer := grpc.NewServer(grpc.UnaryInterceptor(logFailures(d.opt.Log)))
	csi.RegisterIdentityServer(csiServer, d)
	csi.RegisterControllerServer(csiServer, d)
	csi.RegisterNodeServer(csiServer, d)
	servers := []*unixServer{{path: d.opt.Endpoint, grpc: csiServer}}

	// The registration socket comes second: once it appears the kubelet
	// calls NodeGetInfo on the endpoint, which must already be listening.
	if d.opt.RegistrationSocket != "" {
		regServer := grpc.NewServer()
		registerapi.RegisterRegistrationServer(regServer, newRegistration(d.opt.Name, d.opt.Endpoint, d.opt.Log))
		servers = append(servers, &unixServer{path: d.opt.RegistrationSocket, grpc: regServer})
	}
	for i := range servers {
		if err := servers[i].listen(); err != nil {
			for _, started := range servers[:i] {
				started.stop()
			}
			return err
		}
	}
	d.opt.Log.Info("CSI driver serving", zap.String("name", d.opt.Name), zap.String("node", d.opt.NodeID),
		zap.String("endpoint", d.opt.Endpoint), zap.String("registrationSocket", d.opt.RegistrationSocket))

	g, gctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		g.Go(s.serve)
	}
	g.Go(func() error {
		<-gctx.Done()
		// Registration goes first so the kubelet stops using the driver
		// before the endpoint disappears.
		for i := len(servers) - 1; i >= 0; i-- {
			servers[i].stop()
		}
		return nil
	})
	err := g.Wait()
	d.opt.Log.Info("CSI driver stopped", zap.Error(err))
	return err
}

// logFailures logs every failed call: the sidecars retry quietly, so the
// driver's log is where a lab user finds out why a volume does not appear.
func logFailures(log *zap.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			log.Warn("CSI call failed", zap.String("method", info.FullMethod), zap.Error(err))
		}
		return resp, err
	}
}
