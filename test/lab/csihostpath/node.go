package csihostpath

import (
	"context"
	"errors"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// NodeGetCapabilities reports none: a volume is a directory already on the
// node, so there is no staging step before the per-pod bind mount.
func (d *Driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// NodeGetInfo reports the node the driver runs on.
func (d *Driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.opt.NodeID}, nil
}

// NodePublishVolume bind-mounts the volume's directory on the target path,
// read-only if the request or the access mode says so.
func (d *Driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	switch {
	case id == "":
		return nil, status.Error(codes.InvalidArgument, "a volume ID is required")
	case target == "":
		return nil, status.Error(codes.InvalidArgument, "a target path is required")
	case req.GetVolumeCapability() == nil:
		return nil, status.Error(codes.InvalidArgument, "a volume capability is required")
	}
	if why := unsupported(req.GetVolumeCapability()); why != "" {
		return nil, status.Error(codes.InvalidArgument, why)
	}
	readOnly := req.GetReadonly() || readOnlyMode(req.GetVolumeCapability())

	d.mu.Lock()
	defer d.mu.Unlock()
	_, found, err := d.store.volume(id)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "volume %q does not exist", id)
	}
	err = bindMount(d.store.volumeDir(id), target, readOnly)
	if errors.Is(err, errMountedDifferently) {
		return nil, status.Errorf(codes.AlreadyExists, "volume %q: %v; unpublish it first", id, err)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	d.opt.Log.Info("volume published", zap.String("id", id), zap.String("target", target), zap.Bool("readOnly", readOnly))
	return &csi.NodePublishVolumeResponse{}, nil
}

// NodeUnpublishVolume unmounts the target path and removes it. It does not
// look the volume up: a target must be cleaned even after its volume is gone.
func (d *Driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	switch {
	case id == "":
		return nil, status.Error(codes.InvalidArgument, "a volume ID is required")
	case target == "":
		return nil, status.Error(codes.InvalidArgument, "a target path is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := unmountAndRemove(target); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	d.opt.Log.Info("volume unpublished", zap.String("id", id), zap.String("target", target))
	return &csi.NodeUnpublishVolumeResponse{}, nil
}
