package csihostpath

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errMountedDifferently is returned for a target already mounted with the
// other read-only setting.
var errMountedDifferently = errors.New("already mounted with the other read-only setting")

// bindMount makes the directory source visible at target, read-only if
// asked, creating target if needed. A target already mounted the same way is
// left as it is, so a repeated publish is a no-op.
func bindMount(source, target string, readOnly bool) error {
	if err := os.MkdirAll(target, 0o750); err != nil {
		return fmt.Errorf("make mount target %s: %w", target, err)
	}
	mounted, mountedReadOnly, err := mountState(target)
	if err != nil {
		return err
	}
	if mounted {
		if mountedReadOnly != readOnly {
			return fmt.Errorf("%s: %w", target, errMountedDifferently)
		}
		return nil
	}
	if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s on %s: %w", source, target, err)
	}
	if readOnly {
		// The kernel ignores MS_RDONLY on the bind itself; only a remount of
		// the bind mount makes it read-only.
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(target, 0)
			return fmt.Errorf("make the bind mount on %s read-only: %w", target, err)
		}
	}
	return nil
}

// unmountAndRemove unmounts everything mounted on target, then removes the
// target itself, as the CSI spec asks of NodeUnpublishVolume. A target that
// does not exist is fine.
func unmountAndRemove(target string) error {
	for {
		mounted, _, err := mountState(target)
		if err != nil {
			return err
		}
		if !mounted {
			break
		}
		if err := unix.Unmount(target, 0); err != nil {
			return fmt.Errorf("unmount %s (is a process still using it?): %w", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove mount target %s: %w", target, err)
	}
	return nil
}

// mountState tells whether path is a mount point, and whether the mount on
// top is read-only, from /proc/self/mountinfo. (Comparing device numbers with
// the parent would not do: a bind mount has the device of its source.)
func mountState(path string) (mounted, readOnly bool, err error) {
	resolved, err := filepath.EvalSymlinks(path) // mountinfo shows resolved paths
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("resolve %s: %w", path, err)
	}
	resolved, err = filepath.Abs(resolved)
	if err != nil {
		return false, false, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, false, fmt.Errorf("read the mount table: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		// Fields: mount ID, parent ID, major:minor, root, mount point,
		// mount options, ... Later lines are mounted on top of earlier ones.
		fields := strings.Fields(lines.Text())
		if len(fields) < 6 || unescapeMountPath(fields[4]) != resolved {
			continue
		}
		mounted = true
		readOnly = slices.Contains(strings.Split(fields[5], ","), "ro")
	}
	if err := lines.Err(); err != nil {
		return false, false, fmt.Errorf("read the mount table: %w", err)
	}
	return mounted, readOnly, nil
}

// unescapeMountPath undoes the kernel's octal escapes (\040 for a space and
// so on) in a mountinfo path.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
