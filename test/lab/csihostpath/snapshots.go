package csihostpath

import (
	"context"
	"sort"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// CreateSnapshot copies a volume's data into a new snapshot, ready to use
// when the call returns. Asking again for the same name and source returns
// the same snapshot. See the package doc for when the copy is point-in-time.
func (d *Driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	name, volumeID := req.GetName(), req.GetSourceVolumeId()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "a snapshot name is required")
	}
	if volumeID == "" {
		return nil, status.Error(codes.InvalidArgument, "a source volume ID is required")
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	id := idFor(snapshotIDPrefix, name)
	existing, found, err := d.store.snapshot(id)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if found {
		if existing.SourceVolumeID != volumeID {
			return nil, status.Errorf(codes.AlreadyExists,
				"snapshot %q exists (ID %s) of volume %s, not of volume %s; use another name or delete it",
				name, id, existing.SourceVolumeID, volumeID)
		}
		return &csi.CreateSnapshotResponse{Snapshot: snapshotOf(existing)}, nil
	}
	_, found, err = d.store.volume(volumeID)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "volume %q to snapshot as %q does not exist", volumeID, name)
	}

	// The time is taken before the copy starts: the snapshot holds no
	// write made after it.
	rec := snapshotRecord{ID: id, Name: name, SourceVolumeID: volumeID, CreatedAt: time.Now().UTC()}
	dir := d.store.snapshotDir(id)
	if err := copyTree(d.store.volumeDir(volumeID), dir); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if rec.SizeBytes, err = treeSize(dir); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := d.store.saveSnapshot(rec); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	d.opt.Log.Info("snapshot created", zap.String("name", name), zap.String("id", id),
		zap.String("sourceVolumeID", volumeID), zap.Int64("sizeBytes", rec.SizeBytes))
	return &csi.CreateSnapshotResponse{Snapshot: snapshotOf(rec)}, nil
}

// DeleteSnapshot removes a snapshot and its data; an unknown ID is already
// gone. Volumes restored from it are copies and stay.
func (d *Driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	id := req.GetSnapshotId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "a snapshot ID is required")
	}
	if !isID(snapshotIDPrefix, id) {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.store.deleteSnapshot(id); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	d.opt.Log.Info("snapshot deleted", zap.String("id", id))
	return &csi.DeleteSnapshotResponse{}, nil
}

// ListSnapshots lists the snapshots in ID order, optionally only the one
// with a given ID or those of a given volume, a page at a time. A page's
// next token is the ID of the first snapshot of the next page, so a token
// stays good while snapshots come and go.
func (d *Driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	if req.GetMaxEntries() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "max_entries %d is negative", req.GetMaxEntries())
	}
	token := req.GetStartingToken()
	if token != "" && !isID(snapshotIDPrefix, token) {
		return nil, status.Errorf(codes.Aborted, "starting token %q is not one this driver gave out; list again from the start", token)
	}

	d.mu.Lock()
	all, err := d.store.snapshots()
	d.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	var matching []snapshotRecord
	for _, rec := range all {
		if (req.GetSnapshotId() == "" || rec.ID == req.GetSnapshotId()) &&
			(req.GetSourceVolumeId() == "" || rec.SourceVolumeID == req.GetSourceVolumeId()) {
			matching = append(matching, rec)
		}
	}
	first := sort.Search(len(matching), func(i int) bool { return matching[i].ID >= token })
	page := matching[first:]
	resp := &csi.ListSnapshotsResponse{}
	if limit := int(req.GetMaxEntries()); limit > 0 && len(page) > limit {
		resp.NextToken = page[limit].ID
		page = page[:limit]
	}
	for _, rec := range page {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: snapshotOf(rec)})
	}
	return resp, nil
}

func snapshotOf(rec snapshotRecord) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId:     rec.ID,
		SourceVolumeId: rec.SourceVolumeID,
		SizeBytes:      rec.SizeBytes,
		CreationTime:   timestamppb.New(rec.CreatedAt),
		ReadyToUse:     true,
	}
}
