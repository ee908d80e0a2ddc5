package csihostpath

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// makeEmptyVolumeDir makes a new volume's data directory. It is world
// writable because pods of any user may write to it, as to a fresh disk.
func makeEmptyVolumeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil { // left by a create that crashed
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o777); err != nil {
		return fmt.Errorf("make volume directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // Mkdir is subject to the umask
		return fmt.Errorf("make volume directory %s writable: %w", dir, err)
	}
	return nil
}

// copyTree makes dst a copy of the directory src, the top directory's own
// mode, owner and times included. cp -a keeps modes, owners, symlinks, hard
// links and mtimes; --sparse=always keeps holes from filling disk.
//
// It deliberately takes no context: a copy that a timed-out caller abandoned
// still finishes, so the caller's retry finds the object made instead of
// starting the copy from scratch again.
func copyTree(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil { // left by a copy that crashed
		return fmt.Errorf("clear %s: %w", dst, err)
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return fmt.Errorf("make %s: %w", dst, err)
	}
	out, err := exec.Command("cp", "-a", "--sparse=always", src+"/.", dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy %s to %s: %v: %s", src, dst, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// treeSize is the number of bytes of data in the files under dir: what a
// volume restored from a copy of dir needs at least.
func treeSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure the data in %s: %w", dir, err)
	}
	return size, nil
}
