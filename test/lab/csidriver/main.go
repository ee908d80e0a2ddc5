// Command csidriver runs the lab's hostpath CSI driver (package csihostpath)
// on one lab node, registering it with that node's kubelet. The lab starts
// one per cluster as a host process, beside the real CSI sidecars.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/test/lab/csihostpath"
)

func main() {
	name := flag.String("name", csihostpath.DefaultName, "CSI driver name (StorageClass.provisioner, VolumeSnapshotClass.driver)")
	node := flag.String("node", "", "node ID the driver reports (the lab node's name)")
	dir := flag.String("dir", "", "base directory that holds the volumes, snapshots and their metadata")
	endpoint := flag.String("endpoint", "", "path of the unix socket to serve the CSI services on")
	registration := flag.String("registration-socket", "",
		"path of the unix socket, in the kubelet's plugins_registry directory, to register with the kubelet on; empty: do not register")
	flag.Parse()
	log, _ := zap.NewProduction()
	defer log.Sync() //nolint:errcheck
	opt := csihostpath.Options{
		Name: *name, NodeID: *node, BaseDir: *dir,
		Endpoint: *endpoint, RegistrationSocket: *registration, Log: log,
	}
	if err := run(opt); err != nil {
		log.Error("CSI driver failed", zap.Error(err))
		os.Exit(1)
	}
}

func run(opt csihostpath.Options) error {
	if opt.NodeID == "" || opt.BaseDir == "" || opt.Endpoint == "" {
		return fmt.Errorf("-node, -dir and -endpoint are required")
	}
	d, err := csihostpath.New(opt)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return d.Run(ctx)
}
