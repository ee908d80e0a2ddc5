package rsyncargs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrUnsafeExclude marks an excludePaths entry that does not name a path inside
// the volume.
var ErrUnsafeExclude = errors.New("exclude path must stay inside the volume")

const maxExcludeLen = 1024

// ExcludePattern validates one excludePaths entry and returns the rsync
// pattern for it.
//
// Entries are paths relative to the volume root ("cache", "logs/*.log",
// "**/*.tmp", "tmp/" for directories only). Each becomes a pattern anchored at
// the transfer root ("/cache"), so an entry never matches by accident deeper in
// the tree and rsync's filter-rule prefixes ("- ", "+ ", "!") cannot be
// smuggled in. Absolute paths, ".." or "." components, empty components,
// backslashes, control characters and patterns that would exclude the whole
// volume are rejected.
func ExcludePattern(path string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrUnsafeExclude, path, why)
	}
	switch {
	case path == "":
		return bad("empty")
	case len(path) > maxExcludeLen:
		return bad(fmt.Sprintf("longer than %d bytes", maxExcludeLen))
	case !utf8.ValidString(path):
		return bad("not valid UTF-8")
	case strings.HasPrefix(path, "/"):
		return bad("absolute paths are not allowed; give a path relative to the volume root")
	case strings.ContainsAny(path, "\\"):
		return bad("backslashes are not allowed")
	}
	for _, r := range path {
		if r < 0x20 || r == 0x7f {
			return bad("control characters are not allowed")
		}
	}
	body := strings.TrimSuffix(path, "/")
	parts := strings.Split(body, "/")
	for _, part := range parts {
		switch part {
		case "":
			return bad("empty path component")
		case ".":
			return bad(`"." components are not allowed`)
		case "..":
			return bad(`".." would escape the volume`)
		}
	}
	if len(parts) == 1 && strings.Trim(parts[0], "*") == "" {
		return bad("would exclude the whole volume")
	}
	return "/" + path, nil
}
