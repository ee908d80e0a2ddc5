// Package pipe joins two byte streams (an SSH channel and a TCP connection)
// in both directions, passing half-closes through and counting bytes.
package pipe

import (
	"errors"
	"io"
	"net"
	"sync"
)

// BufferSize is the copy buffer per direction. Larger than io.Copy's 32 KiB
// so that draining an SSH channel's buffered packets, or reading a TCP socket
// that has a window's worth queued, takes fewer syscalls and lock
// round-trips per GiB forwarded.
const BufferSize = 256 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

// Counts are the bytes copied each way.
type Counts struct {
	AToB int64
	BToA int64
}

type closeWriter interface{ CloseWrite() error }

// Join copies a→b and b→a until both directions are finished, then closes
// both. EOF on one side is passed on as a half-close (CloseWrite) when the
// other side supports it, so protocols that signal "done sending" keep
// working. A real error in either direction closes both ends at once.
func Join(a, b io.ReadWriteCloser) Counts {
	var c Counts
	var wg sync.WaitGroup
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			_ = a.Close()
			_ = b.Close()
		})
	}
	copyOne := func(dst, src io.ReadWriteCloser, n *int64) {
		defer wg.Done()
		bufp := buffers.Get().(*[]byte)
		defer buffers.Put(bufp)
		// Hide ReaderFrom/WriterTo: net.TCPConn's fallbacks would copy with a
		// 32 KiB buffer instead of ours.
		written, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bufp)
		*n = written
		if err != nil && !errors.Is(err, net.ErrClosed) {
			closeBoth()
			return
		}
		if cw, ok := dst.(closeWriter); ok {
			if cw.CloseWrite() == nil {
				return
			}
		}
		closeBoth()
	}
	wg.Add(2)
	go copyOne(b, a, &c.AToB)
	go copyOne(a, b, &c.BToA)
	wg.Wait()
	closeBoth()
	return c
}
