package csihostpath

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

func TestRestoreAndCloneAreIdenticalCopies(t *testing.T) {
	d := newDriver(t, t.TempDir())
	source := createVolume(t, d, "source", nil)
	fillWithSampleData(t, d.store.volumeDir(source.VolumeId))
	want := digest(t, d.store.volumeDir(source.VolumeId))

	snap := createSnapshot(t, d, "snap", source.VolumeId)
	assert.True(t, snap.ReadyToUse)
	assert.EqualValues(t, len("hello\n")+len("nested\n")+8<<20, snap.SizeBytes, "size is the bytes of file data")

	fromSnapshot := createVolume(t, d, "restored", &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
		Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.SnapshotId}}})
	clone := createVolume(t, d, "clone", &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{
		Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: source.VolumeId}}})

	assert.Equal(t, snap.SnapshotId, fromSnapshot.GetContentSource().GetSnapshot().GetSnapshotId())
	assert.Equal(t, source.VolumeId, clone.GetContentSource().GetVolume().GetVolumeId())
	assert.Equal(t, want, digest(t, d.store.snapshotDir(snap.SnapshotId)), "snapshot")
	assert.Equal(t, want, digest(t, d.store.volumeDir(fromSnapshot.VolumeId)), "volume restored from the snapshot")
	assert.Equal(t, want, digest(t, d.store.volumeDir(clone.VolumeId)), "clone")
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(d.store.volumeDir(clone.VolumeId), "sparse"), &st))
	assert.Less(t, st.Blocks*512, int64(1<<20), "the clone of a sparse file is sparse")
}

func TestSnapshotKeepsItsContentWhenTheSourceChanges(t *testing.T) {
	d := newDriver(t, t.TempDir())
	source := createVolume(t, d, "source", nil)
	data := d.store.volumeDir(source.VolumeId)
	fillWithSampleData(t, data)
	before := digest(t, data)
	snap := createSnapshot(t, d, "snap", source.VolumeId)

	require.NoError(t, os.WriteFile(filepath.Join(data, "file"), []byte("changed\n"), 0o640))
	require.NoError(t, os.Remove(filepath.Join(data, "dir", "nested")))
	require.NoError(t, os.WriteFile(filepath.Join(data, "new"), []byte("new\n"), 0o644))
	require.NotEqual(t, before, digest(t, data))

	assert.Equal(t, before, digest(t, d.store.snapshotDir(snap.SnapshotId)))
	restored := createVolume(t, d, "restored", &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
		Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.SnapshotId}}})
	assert.Equal(t, before, digest(t, d.store.volumeDir(restored.VolumeId)))
}

func TestRestartedDriverKeepsVolumesAndSnapshots(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	first := newDriver(t, base)
	vol := createVolume(t, first, "vol", nil)
	fillWithSampleData(t, first.store.volumeDir(vol.VolumeId))
	snap := createSnapshot(t, first, "snap", vol.VolumeId)

	second := newDriver(t, base)
	again := createVolume(t, second, "vol", nil)
	assert.Equal(t, vol.VolumeId, again.VolumeId, "the same name gives the same volume after a restart")
	assert.Equal(t, vol.CapacityBytes, again.CapacityBytes)
	againSnap := createSnapshot(t, second, "snap", vol.VolumeId)
	assert.Equal(t, snap.SnapshotId, againSnap.SnapshotId)
	assert.True(t, snap.CreationTime.AsTime().Equal(againSnap.CreationTime.AsTime()), "creation time is kept")

	list, err := second.ListSnapshots(ctx, &csi.ListSnapshotsRequest{SourceVolumeId: vol.VolumeId})
	require.NoError(t, err)
	require.Len(t, list.Entries, 1)
	assert.Equal(t, snap.SnapshotId, list.Entries[0].Snapshot.SnapshotId)
	_, err = second.ValidateVolumeCapabilities(ctx, &csi.ValidateVolumeCapabilitiesRequest{
		VolumeId: vol.VolumeId, VolumeCapabilities: []*csi.VolumeCapability{mountCapability()}})
	require.NoError(t, err)
	restored := createVolume(t, second, "restored", &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
		Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.SnapshotId}}})
	assert.Equal(t, digest(t, first.store.volumeDir(vol.VolumeId)), digest(t, second.store.volumeDir(restored.VolumeId)))
}

func TestReadOnlyPublish(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	d := newDriver(t, t.TempDir())
	vol := createVolume(t, d, "vol", nil)
	target := filepath.Join(t.TempDir(), "pod", "mount")
	publish := func(readOnly bool) error {
		_, err := d.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
			VolumeId: vol.VolumeId, TargetPath: target, VolumeCapability: mountCapability(), Readonly: readOnly})
		return err
	}

	require.NoError(t, publish(true))
	require.NoError(t, publish(true), "publishing again is a no-op")
	err := os.WriteFile(filepath.Join(target, "f"), nil, 0o644)
	assert.ErrorIs(t, err, syscall.EROFS)
	assert.Equal(t, codes.AlreadyExists, status.Code(publish(false)), "the other read-only setting conflicts")

	_, err = d.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: vol.VolumeId, TargetPath: target})
	require.NoError(t, err)
	assert.NoDirExists(t, target)
}

func TestRegistrationGetInfo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	endpoint := filepath.Join(dir, "csi.sock")
	registrationSocket := filepath.Join(dir, "plugins_registry", "reg.sock")
	startDriver(t, filepath.Join(dir, "base"), endpoint, registrationSocket)

	reg := registerapi.NewRegistrationClient(dial(t, registrationSocket))
	info, err := reg.GetInfo(ctx, &registerapi.InfoRequest{})
	require.NoError(t, err)
	assert.Equal(t, registerapi.CSIPlugin, info.Type)
	assert.Equal(t, DefaultName, info.Name)
	assert.Equal(t, endpoint, info.Endpoint)
	assert.Equal(t, []string{"1.0.0"}, info.SupportedVersions)
	_, err = reg.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: true})
	require.NoError(t, err)

	// What the kubelet does next: ask the endpoint for the node ID.
	node, err := csi.NewNodeClient(dial(t, info.Endpoint)).NodeGetInfo(ctx, &csi.NodeGetInfoRequest{})
	require.NoError(t, err)
	assert.Equal(t, "lab-node", node.NodeId)
}

func newDriver(t *testing.T, base string) *Driver {
	t.Helper()
	d, err := New(Options{NodeID: "lab-node", BaseDir: base})
	require.NoError(t, err)
	return d
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts and needs root; run go test as root")
	}
}

func mountCapability() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
}

func createVolume(t *testing.T, d *Driver, name string, src *csi.VolumeContentSource) *csi.Volume {
	t.Helper()
	resp, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{
		Name: name, VolumeCapabilities: []*csi.VolumeCapability{mountCapability()}, VolumeContentSource: src})
	require.NoError(t, err)
	return resp.Volume
}

func createSnapshot(t *testing.T, d *Driver, name, volumeID string) *csi.Snapshot {
	t.Helper()
	resp, err := d.CreateSnapshot(context.Background(), &csi.CreateSnapshotRequest{Name: name, SourceVolumeId: volumeID})
	require.NoError(t, err)
	return resp.Snapshot
}

func dial(t *testing.T, socket string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() }) //nolint:errcheck
	return conn
}

// fillWithSampleData puts into dir what a copy could get wrong: modes, an
// owner other than root (when run as root), a symlink, a nested directory,
// old mtimes and a sparse file.
func fillWithSampleData(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), []byte("hello\n"), 0o640))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "dir"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dir", "nested"), []byte("nested\n"), 0o600))
	require.NoError(t, os.Symlink("../file", filepath.Join(dir, "dir", "link")))
	sparse, err := os.Create(filepath.Join(dir, "sparse"))
	require.NoError(t, err)
	require.NoError(t, sparse.Truncate(8<<20))
	require.NoError(t, sparse.Close())
	if os.Geteuid() == 0 {
		require.NoError(t, os.Lchown(filepath.Join(dir, "dir", "nested"), 1234, 5678))
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"file", "dir/nested", "sparse", "dir"} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, p), old, old))
	}
}

// digest describes every entry under dir: mode, owner, mtime and content
// (or link target), by path relative to dir.
func digest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		var content string
		switch {
		case fi.Mode().Type() == fs.ModeSymlink:
			content, err = os.Readlink(path)
		case fi.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(path)
			sum := sha256.Sum256(b)
			content = hex.EncodeToString(sum[:])
		}
		out[rel] = fmt.Sprintf("%v %d:%d %v %s", fi.Mode(), st.Uid, st.Gid, fi.ModTime().UTC(), content)
		return err
	})
	require.NoError(t, err)
	return out
}
