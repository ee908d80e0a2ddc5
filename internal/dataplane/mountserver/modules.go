package mountserver

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Module is one directory the daemon serves as an rsync module: a batch's
// mount pod serves each of its source volumes as a module of its own, all
// behind the same credentials and the same read-only settings.
type Module struct {
	// Name is what a client asks for (rsync://user@host/NAME/).
	Name string
	// Path is the served directory, absolute and clean.
	Path string
}

var moduleNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ParseModule reads a "NAME=PATH" flag value, splitting at the first "=";
// the name cannot hold one, a path can.
func ParseModule(s string) (Module, error) {
	name, path, ok := strings.Cut(s, "=")
	if !ok || name == "" || path == "" {
		return Module{}, invalid("module %q must be NAME=PATH", s)
	}
	m := Module{Name: name, Path: path}
	if err := m.validate(); err != nil {
		return Module{}, err
	}
	return m, nil
}

// ValidateModules checks every module and that no two share a name or a
// path, and that no module's path lies inside another's: that module would
// serve the other's volume too.
func ValidateModules(modules []Module) error {
	if len(modules) == 0 {
		return invalid("no module to serve")
	}
	for i, m := range modules {
		if err := m.validate(); err != nil {
			return err
		}
		for _, other := range modules[:i] {
			// rsyncd matches section names without regard to case, so
			// "Data" would extend "data" rather than be a module of its own.
			if strings.EqualFold(m.Name, other.Name) {
				return invalid("module name %q is given twice", m.Name)
			}
			if m.Path == other.Path {
				return invalid("modules %q and %q serve the same path %s", other.Name, m.Name, m.Path)
			}
			for _, pair := range [][2]Module{{m, other}, {other, m}} {
				if within(pair[0].Path, pair[1].Path) {
					return invalid("module %q's path %s lies inside module %q's path %s",
						pair[0].Name, pair[0].Path, pair[1].Name, pair[1].Path)
				}
			}
		}
	}
	return nil
}

func (m Module) validate() error {
	// rsyncd.conf has no quoting: a newline or a leading/trailing space in a
	// value would inject or corrupt parameters.
	if err := plainValue("module path", m.Path); err != nil {
		return err
	}
	if !filepath.IsAbs(m.Path) || filepath.Clean(m.Path) != m.Path {
		return invalid("module path %q must be absolute and clean", m.Path)
	}
	if strings.Contains(m.Path, "/./") || strings.ContainsAny(m.Path, "%") {
		return invalid("module path %q must not contain a chroot divider or %%-escapes", m.Path)
	}
	if !moduleNameRe.MatchString(m.Name) {
		return invalid("module name %q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", m.Name)
	}
	// A [global] section holds daemon-wide parameters, not a module.
	if strings.EqualFold(m.Name, "global") {
		return invalid("module name %q is reserved by rsyncd", m.Name)
	}
	return nil
}

// within reports whether path lies strictly inside dir; both are clean and
// absolute.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// servedModules are the modules Start serves: Modules, or else ModulePath
// as Module (DefaultModule when unset), today's single-volume mount pod.
// Relative paths are made absolute, and every path must be a directory.
func (o Options) servedModules() ([]Module, error) {
	modules := slices.Clone(o.Modules)
	switch {
	case len(modules) > 0 && (o.ModulePath != "" || o.Module != ""):
		return nil, invalid("give Modules, or ModulePath and Module, not both")
	case len(modules) == 0:
		name := o.Module
		if name == "" {
			name = DefaultModule
		}
		modules = []Module{{Name: name, Path: o.ModulePath}}
	}
	for i, m := range modules {
		if m.Path == "" {
			return nil, invalid("module %q has no path", m.Name)
		}
		abs, err := filepath.Abs(m.Path)
		if err != nil {
			return nil, fmt.Errorf("mount server: module %q path: %w", m.Name, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, invalid("module %q path %s is not a directory (%v)", m.Name, abs, err)
		}
		modules[i].Path = abs
	}
	if err := ValidateModules(modules); err != nil {
		return nil, err
	}
	return modules, nil
}
