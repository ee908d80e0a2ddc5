package csihostpath

import (
	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// defaultCapacityBytes is the capacity of a volume whose request names none.
const defaultCapacityBytes = 1 << 30

// unsupported says why the driver cannot serve the capability c, or "" if it
// can. Every access mode is served: a lab cluster has one node, so the
// multi-node modes are single-node in practice.
func unsupported(c *csi.VolumeCapability) string {
	mode := c.GetAccessMode().GetMode()
	_, known := csi.VolumeCapability_AccessMode_Mode_name[int32(mode)]
	switch {
	case c == nil:
		return "a volume capability is empty"
	case c.GetBlock() != nil:
		return "block access is not supported: the volumes are directories; ask for a filesystem (mount) volume"
	case c.GetMount() == nil:
		return "a volume capability has no access type; ask for mount access"
	case mode == csi.VolumeCapability_AccessMode_UNKNOWN || !known:
		return "a volume capability has no known access mode"
	}
	return ""
}

// checkCapabilities returns InvalidArgument unless caps is non-empty and the
// driver serves every capability in it.
func checkCapabilities(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	for _, c := range caps {
		if why := unsupported(c); why != "" {
			return status.Error(codes.InvalidArgument, why)
		}
	}
	return nil
}

// readOnlyMode tells whether the access mode allows reading only.
func readOnlyMode(c *csi.VolumeCapability) bool {
	switch c.GetAccessMode().GetMode() {
	case csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY, csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY:
		return true
	}
	return false
}

// checkCapacityRange returns InvalidArgument for a range no volume can meet.
func checkCapacityRange(r *csi.CapacityRange) error {
	required, limit := r.GetRequiredBytes(), r.GetLimitBytes()
	if required < 0 || limit < 0 {
		return status.Errorf(codes.InvalidArgument, "capacity range %d..%d has a negative bound", required, limit)
	}
	if limit > 0 && required > limit {
		return status.Errorf(codes.InvalidArgument, "capacity range asks for at least %d bytes but at most %d", required, limit)
	}
	return nil
}

// capacityFor chooses the capacity of a new volume in the range r (checked
// by checkCapacityRange) that can hold minimum bytes from its source.
func capacityFor(r *csi.CapacityRange, minimum int64) (int64, error) {
	required, limit := r.GetRequiredBytes(), r.GetLimitBytes()
	want := required
	if want == 0 {
		want = defaultCapacityBytes
		if limit > 0 {
			want = min(want, limit)
		}
	}
	capacity := max(want, minimum)
	if limit > 0 && capacity > limit {
		return 0, status.Errorf(codes.OutOfRange,
			"the volume's source holds %d bytes, more than the limit of %d; ask for a larger volume", minimum, limit)
	}
	return capacity, nil
}

// fits tells whether an existing volume of the given capacity meets the
// range r.
func fits(capacity int64, r *csi.CapacityRange) bool {
	limit := r.GetLimitBytes()
	return capacity >= r.GetRequiredBytes() && (limit == 0 || capacity <= limit)
}
