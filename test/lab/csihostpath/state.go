package csihostpath

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// volumeRecord is a volume's metadata file.
type volumeRecord struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	CapacityBytes int64     `json:"capacityBytes"`
	Source        source    `json:"source,omitzero"`
	CreatedAt     time.Time `json:"createdAt"`
}

// source is where a volume's first content came from; zero for an empty
// volume.
type source struct {
	SnapshotID string `json:"snapshotID,omitempty"`
	VolumeID   string `json:"volumeID,omitempty"`
}

// snapshotRecord is a snapshot's metadata file.
type snapshotRecord struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	SourceVolumeID string    `json:"sourceVolumeID"`
	SizeBytes      int64     `json:"sizeBytes"`
	CreatedAt      time.Time `json:"createdAt"`
}

// IDs are derived from names, so a create retried after a crash finds the
// half-made object at the same place, and no name-to-ID index is needed.
const (
	volumeIDPrefix   = "vol-"
	snapshotIDPrefix = "snap-"
	idHexLen         = 32
)

func idFor(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + hex.EncodeToString(sum[:idHexLen/2])
}

// isID tells whether id has the form of our IDs. Every ID from a request is
// checked before it becomes part of a path, so an ID like "../x" can never
// reach outside the base directory.
func isID(prefix, id string) bool {
	h, ok := strings.CutPrefix(id, prefix)
	if !ok || len(h) != idHexLen {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && h == strings.ToLower(h)
}

// store is the driver's state on disk; see the package doc for the layout.
type store struct{ base string }

func (s store) volumeDir(id string) string   { return filepath.Join(s.base, "volumes", id) }
func (s store) snapshotDir(id string) string { return filepath.Join(s.base, "snapshots", id) }
func (s store) volumeMeta(id string) string {
	return filepath.Join(s.base, "meta", "volumes", id+".json")
}
func (s store) snapshotMeta(id string) string {
	return filepath.Join(s.base, "meta", "snapshots", id+".json")
}

func (s store) init() error {
	for _, dir := range []string{"volumes", "snapshots", "meta/volumes", "meta/snapshots"} {
		if err := os.MkdirAll(filepath.Join(s.base, dir), 0o755); err != nil {
			return fmt.Errorf("make the driver's directory %s: %w", filepath.Join(s.base, dir), err)
		}
	}
	return nil
}

// volume returns the volume with the given ID; found is false for an ID that
// is not of our form or names no volume.
func (s store) volume(id string) (rec volumeRecord, found bool, err error) {
	if !isID(volumeIDPrefix, id) {
		return rec, false, nil
	}
	return readRecord[volumeRecord](s.volumeMeta(id))
}

func (s store) snapshot(id string) (rec snapshotRecord, found bool, err error) {
	if !isID(snapshotIDPrefix, id) {
		return rec, false, nil
	}
	return readRecord[snapshotRecord](s.snapshotMeta(id))
}

func (s store) saveVolume(rec volumeRecord) error { return writeRecord(s.volumeMeta(rec.ID), rec) }
func (s store) saveSnapshot(rec snapshotRecord) error {
	return writeRecord(s.snapshotMeta(rec.ID), rec)
}

// deleteVolume removes the metadata first, so the volume stops existing at
// once, then the data; a retry after a failure removes what is left.
func (s store) deleteVolume(id string) error {
	return removeAll(s.volumeMeta(id), s.volumeDir(id))
}

func (s store) deleteSnapshot(id string) error {
	return removeAll(s.snapshotMeta(id), s.snapshotDir(id))
}

// snapshots returns every snapshot, ordered by ID.
func (s store) snapshots() ([]snapshotRecord, error) {
	dir := filepath.Join(s.base, "meta", "snapshots")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list the snapshot metadata in %s: %w", dir, err)
	}
	var recs []snapshotRecord
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !isID(snapshotIDPrefix, id) {
			continue // a temporary file of a write in progress
		}
		rec, found, err := s.snapshot(id)
		if err != nil {
			return nil, err
		}
		if found {
			recs = append(recs, rec)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	return recs, nil
}

func readRecord[T any](path string) (rec T, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("read metadata %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, false, fmt.Errorf("metadata %s is damaged (%v); fix or remove it", path, err)
	}
	return rec, true, nil
}

// writeRecord replaces the file at path in one step (write aside, rename),
// so a crash leaves either the old record or the new one, never half of one.
func writeRecord(path string, rec any) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".write-*")
	if err != nil {
		return fmt.Errorf("write metadata %s: %w", path, err)
	}
	defer os.Remove(f.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := f.Write(b); err != nil {
		f.Close() //nolint:errcheck
		return fmt.Errorf("write metadata %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close() //nolint:errcheck
		return fmt.Errorf("write metadata %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write metadata %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write metadata %s: %w", path, err)
	}
	return nil
}

func removeAll(paths ...string) error {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}
