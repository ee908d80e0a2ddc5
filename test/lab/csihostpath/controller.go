package csihostpath

import (
	"context"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ControllerGetCapabilities reports volumes, snapshots (listable, for the
// csi-snapshotter) and clones.
func (d *Driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{
			Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: c}},
		})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// CreateVolume makes a volume: empty, or a copy of a snapshot or of another
// volume. Asking again for the same name returns the same volume, provided
// the capacity range and the source still match it.
func (d *Driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	name := req.GetName()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "a volume name is required")
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	if err := checkCapacityRange(req.GetCapacityRange()); err != nil {
		return nil, err
	}
	src, err := sourceOf(req.GetVolumeContentSource())
	if err != nil {
		return nil, err
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	id := idFor(volumeIDPrefix, name)
	existing, found, err := d.store.volume(id)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if found {
		// Checked before the source: a retry must get the volume even if
		// its source snapshot was deleted since.
		if !fits(existing.CapacityBytes, req.GetCapacityRange()) || existing.Source != src {
			return nil, status.Errorf(codes.AlreadyExists,
				"volume %q exists (ID %s, %d bytes, source %+v) and does not match this request; use another name or delete it",
				name, id, existing.CapacityBytes, existing.Source)
		}
		return &csi.CreateVolumeResponse{Volume: volumeOf(existing)}, nil
	}

	minimum, err := d.sourceSize(name, src)
	if err != nil {
		return nil, err
	}
	capacity, err := capacityFor(req.GetCapacityRange(), minimum)
	if err != nil {
		return nil, err
	}
	rec := volumeRecord{ID: id, Name: name, CapacityBytes: capacity, Source: src, CreatedAt: time.Now().UTC()}
	if err := d.fillVolume(rec); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := d.store.saveVolume(rec); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	d.opt.Log.Info("volume created", zap.String("name", name), zap.String("id", id),
		zap.Int64("capacityBytes", capacity), zap.Any("source", src))
	return &csi.CreateVolumeResponse{Volume: volumeOf(rec)}, nil
}

// sourceSize is the least capacity a volume copied from src needs; NotFound
// if src names no snapshot or volume.
func (d *Driver) sourceSize(name string, src source) (int64, error) {
	switch {
	case src.SnapshotID != "":
		snap, found, err := d.store.snapshot(src.SnapshotID)
		if err != nil {
			return 0, status.Error(codes.Internal, err.Error())
		}
		if !found {
			return 0, status.Errorf(codes.NotFound, "snapshot %q to restore volume %q from does not exist", src.SnapshotID, name)
		}
		return snap.SizeBytes, nil
	case src.VolumeID != "":
		vol, found, err := d.store.volume(src.VolumeID)
		if err != nil {
			return 0, status.Error(codes.Internal, err.Error())
		}
		if !found {
			return 0, status.Errorf(codes.NotFound, "volume %q to clone volume %q from does not exist", src.VolumeID, name)
		}
		return vol.CapacityBytes, nil
	}
	return 0, nil
}

// fillVolume makes the data directory of the new volume rec.
func (d *Driver) fillVolume(rec volumeRecord) error {
	dir := d.store.volumeDir(rec.ID)
	switch {
	case rec.Source.SnapshotID != "":
		return copyTree(d.store.snapshotDir(rec.Source.SnapshotID), dir)
	case rec.Source.VolumeID != "":
		return copyTree(d.store.volumeDir(rec.Source.VolumeID), dir)
	}
	return makeEmptyVolumeDir(dir)
}

// DeleteVolume removes a volume and its data; an unknown ID is already gone.
// Snapshots of the volume are copies and stay.
func (d *Driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "a volume ID is required")
	}
	if !isID(volumeIDPrefix, id) {
		return &csi.DeleteVolumeResponse{}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.store.deleteVolume(id); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	d.opt.Log.Info("volume deleted", zap.String("id", id))
	return &csi.DeleteVolumeResponse{}, nil
}

// ValidateVolumeCapabilities confirms the capabilities if the driver serves
// them all, and otherwise says which one it does not.
func (d *Driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "a volume ID is required")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	d.mu.Lock()
	_, found, err := d.store.volume(id)
	d.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "volume %q does not exist", id)
	}
	for _, c := range req.GetVolumeCapabilities() {
		if why := unsupported(c); why != "" {
			return &csi.ValidateVolumeCapabilitiesResponse{Message: why}, nil
		}
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

// sourceOf reads a request's content source; InvalidArgument if it names
// nothing.
func sourceOf(cs *csi.VolumeContentSource) (source, error) {
	switch {
	case cs == nil:
		return source{}, nil
	case cs.GetSnapshot() != nil:
		if id := cs.GetSnapshot().GetSnapshotId(); id != "" {
			return source{SnapshotID: id}, nil
		}
	case cs.GetVolume() != nil:
		if id := cs.GetVolume().GetVolumeId(); id != "" {
			return source{VolumeID: id}, nil
		}
	}
	return source{}, status.Error(codes.InvalidArgument, "the volume content source names no snapshot or volume ID")
}

// volumeOf is the CSI view of a volume. The content source is echoed, as the
// spec asks of a volume made from one.
func volumeOf(rec volumeRecord) *csi.Volume {
	v := &csi.Volume{VolumeId: rec.ID, CapacityBytes: rec.CapacityBytes}
	switch {
	case rec.Source.SnapshotID != "":
		v.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
			Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: rec.Source.SnapshotID},
		}}
	case rec.Source.VolumeID != "":
		v.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{
			Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: rec.Source.VolumeID},
		}}
	}
	return v
}
