package csihostpath

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
)

// maxSocketPath is the longest path a unix socket takes: sun_path is 108
// bytes, NUL included.
const maxSocketPath = 107

// unixServer is one gRPC server on one unix socket.
type unixServer struct {
	path     string
	grpc     *grpc.Server
	listener net.Listener
}

// listen makes the socket. A socket left behind by a driver that was killed
// is removed first, or the listen would fail with "address already in use".
func (s *unixServer) listen() error {
	if len(s.path) > maxSocketPath {
		return fmt.Errorf("socket path %s is %d bytes, over the %d a unix socket takes; choose a shorter path",
			s.path, len(s.path), maxSocketPath)
	}
	if err := removeSocket(s.path); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("make the directory of socket %s: %w", s.path, err)
	}
	l, err := net.Listen("unix", s.path)
	if err != nil {
		return fmt.Errorf("listen on socket %s: %w", s.path, err)
	}
	s.listener = l
	return nil
}

// serve blocks until stop is called.
func (s *unixServer) serve() error {
	// ErrServerStopped means stop came first, as on a shutdown right after
	// the start.
	if err := s.grpc.Serve(s.listener); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve on socket %s: %w", s.path, err)
	}
	return nil
}

// stop lets running calls finish, then closes and removes the socket.
func (s *unixServer) stop() {
	s.grpc.GracefulStop()
	_ = s.listener.Close() // already closed if serve ran; needed if it did not
	_ = removeSocket(s.path)
}

// removeSocket removes the unix socket at path if there is one, and refuses
// to remove anything else there.
func removeSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check for a stale socket at %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s is in the way of the socket and is not a socket; remove it or choose another path", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the stale socket %s: %w", path, err)
	}
	return nil
}
