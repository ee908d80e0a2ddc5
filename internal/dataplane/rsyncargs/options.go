package rsyncargs

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrDisallowedOption marks an rsyncOptions entry that is not on the allow-list.
var ErrDisallowedOption = errors.New("rsync option not allowed")

// valueKind says whether an allowed option takes a value and how it is checked.
type valueKind int

const (
	noValue valueKind = iota
	intValue
	sizeValue
	choiceValue
	listValue
)

type allowedOption struct {
	kind    valueKind
	min     int64    // intValue
	max     int64    // intValue
	choices []string // choiceValue
}

// allowedOptions are the long options a user may add. Each one either tunes
// performance or narrows what is copied; none can reach outside the volume,
// change which program runs, read local files, or undo the flags that make the
// copy a resumable mirror (--partial, --inplace, --delete, --numeric-ids).
var allowedOptions = map[string]allowedOption{
	"checksum":         {kind: noValue},
	"whole-file":       {kind: noValue},
	"no-whole-file":    {kind: noValue},
	"one-file-system":  {kind: noValue},
	"size-only":        {kind: noValue},
	"ignore-times":     {kind: noValue},
	"fuzzy":            {kind: noValue},
	"omit-dir-times":   {kind: noValue},
	"omit-link-times":  {kind: noValue},
	"prune-empty-dirs": {kind: noValue},
	"no-acls":          {kind: noValue},
	"no-xattrs":        {kind: noValue},
	"no-hard-links":    {kind: noValue},
	"no-sparse":        {kind: noValue},
	"atimes":           {kind: noValue},
	"open-noatime":     {kind: noValue},
	"preallocate":      {kind: noValue},
	"compress":         {kind: noValue},
	"no-compress":      {kind: noValue},
	// The --delete-* timing variants change when deletions happen, not what
	// is deleted.
	"delete-before": {kind: noValue},
	"delete-during": {kind: noValue},
	"delete-delay":  {kind: noValue},
	"delete-after":  {kind: noValue},

	"compress-level":  {kind: intValue, min: 0, max: 22},
	"compress-choice": {kind: choiceValue, choices: []string{"zstd", "lz4", "zlibx", "zlib", "none"}},
	"checksum-choice": {kind: choiceValue, choices: []string{"xxh128", "xxh3", "xxh64", "md5", "md4", "sha1"}},
	"block-size":      {kind: intValue, min: 1, max: 128 << 10},
	"max-delete":      {kind: intValue, min: 0, max: 1 << 31},
	"modify-window":   {kind: intValue, min: -1, max: 1 << 20},
	"max-size":        {kind: sizeValue},
	"min-size":        {kind: sizeValue},
	"skip-compress":   {kind: listValue},
}

// shortOptions maps the allowed single-letter forms to their long names.
var shortOptions = map[string]string{
	"-c": "checksum",
	"-W": "whole-file",
	"-x": "one-file-system",
	"-I": "ignore-times",
	"-y": "fuzzy",
	"-O": "omit-dir-times",
	"-J": "omit-link-times",
	"-m": "prune-empty-dirs",
	"-U": "atimes",
	"-z": "compress",
}

// deniedReasons explains the refusals users are most likely to hit. Anything
// not in allowedOptions is refused; these only make the message useful.
var deniedReasons = map[string]string{
	"rsh":                 "runs an arbitrary program",
	"e":                   "runs an arbitrary program",
	"rsync-path":          "runs an arbitrary program on the remote side",
	"daemon":              "starts a daemon",
	"config":              "reads a local configuration file",
	"dparam":              "changes daemon parameters",
	"password-file":       "reads a local file; credentials are provided by the system",
	"files-from":          "reads a local file list",
	"include-from":        "reads a local file",
	"exclude-from":        "reads a local file",
	"filter":              "filter rules can re-include excluded paths; use excludePaths",
	"f":                   "filter rules can re-include excluded paths; use excludePaths",
	"include":             "use excludePaths",
	"exclude":             "use excludePaths",
	"log-file":            "writes a local file",
	"log-file-format":     "writes a local file",
	"write-batch":         "writes a local file",
	"only-write-batch":    "writes a local file",
	"read-batch":          "reads a local file",
	"remove-source-files": "deletes data on the source",
	"delete-excluded":     "deletes excluded paths from the DR copy",
	"delete-missing-args": "deletes arbitrary paths",
	"ignore-errors":       "deletes on the DR copy even after read errors on the source",
	"force":               "deletes non-empty directories in the way",
	"write-devices":       "writes through device files on the target node",
	"copy-devices":        "reads device contents",
	"copy-links":          "follows symlinks, possibly out of the volume",
	"L":                   "follows symlinks, possibly out of the volume",
	"copy-unsafe-links":   "follows symlinks that point out of the volume",
	"copy-dirlinks":       "follows symlinks to directories, possibly out of the volume",
	"k":                   "follows symlinks to directories, possibly out of the volume",
	"keep-dirlinks":       "follows symlinks on the target, possibly out of the volume",
	"K":                   "follows symlinks on the target, possibly out of the volume",
	"munge-links":         "changes symlink values in the copy",
	"append":              "silently skips same-size modified files; resume uses --partial --inplace",
	"append-verify":       "silently skips same-size modified files; resume uses --partial --inplace",
	"no-inplace":          "disables resume of interrupted transfers",
	"no-partial":          "disables resume of interrupted transfers",
	"no-delete":           "the DR copy must mirror the source",
	"bwlimit":             "use bandwidthLimit",
	"timeout":             "set by the system",
	"contimeout":          "set by the system",
	"info":                "changes the output the progress parser reads",
	"debug":               "changes the output the progress parser reads",
	"out-format":          "changes the output the progress parser reads",
	"verbose":             "changes the output the progress parser reads",
	"v":                   "changes the output the progress parser reads",
	"human-readable":      "changes the output the progress parser reads",
	"dry-run":             "the sync would copy nothing",
	"n":                   "the sync would copy nothing",
	"list-only":           "the sync would copy nothing",
	"backup":              "writes backups outside the mirror",
	"backup-dir":          "writes outside the destination",
	"temp-dir":            "writes outside the destination",
	"partial-dir":         "writes outside the destination",
	"link-dest":           "reads outside the destination",
	"copy-dest":           "reads outside the destination",
	"compare-dest":        "reads outside the destination",
	"chmod":               "the DR copy must keep the source permissions",
	"chown":               "the DR copy must keep the source ownership",
	"usermap":             "the DR copy must keep the source ownership",
	"groupmap":            "the DR copy must keep the source ownership",
	"super":               "changes privilege handling",
	"fake-super":          "changes privilege handling",
	"iconv":               "changes file names in the copy",
	"sockopts":            "changes socket handling",
	"address":             "changes socket handling",
	"port":                "changes the connection target",
	"existing":            "the DR copy would miss new files",
	"ignore-existing":     "the DR copy would keep stale files",
	"max-alloc":           "changes memory limits",
	"stop-after":          "ends the sync early",
	"stop-at":             "ends the sync early",
}

var (
	sizePattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([KMGTPkmgtp][iI]?[bB]?)?([+-]1)?$`)
	listPattern = regexp.MustCompile(`^[A-Za-z0-9/]+$`)
)

// CheckOption validates one rsyncOptions entry. Long options must be written
// "--name" or "--name=value" (never with the value as a separate word, which
// could be mistaken for a path), short ones as a single flag ("-c").
func CheckOption(opt string) error {
	deny := func(why string) error {
		return fmt.Errorf("%w: %q: %s", ErrDisallowedOption, opt, why)
	}
	if strings.ContainsAny(opt, "\x00\n\r") {
		return deny("control characters")
	}
	if long, ok := shortOptions[opt]; ok {
		return CheckOption("--" + long)
	}
	if !strings.HasPrefix(opt, "--") {
		if strings.HasPrefix(opt, "-") && len(opt) >= 2 {
			if why, ok := deniedReasons[opt[1:2]]; ok {
				return deny(why)
			}
			if len(opt) > 2 {
				return deny("combined short options are not accepted; write each as its own entry")
			}
		}
		return deny("not on the allow-list of safe rsync options")
	}
	name, value, hasValue := strings.Cut(opt[2:], "=")
	spec, ok := allowedOptions[name]
	if !ok {
		if why, denied := deniedReasons[name]; denied {
			return deny(why)
		}
		if strings.HasPrefix(name, "delete") {
			return deny("only --delete-before/during/delay/after are allowed")
		}
		return deny("not on the allow-list of safe rsync options")
	}
	if spec.kind == noValue {
		if hasValue {
			return deny("takes no value")
		}
		return nil
	}
	if !hasValue || value == "" {
		return deny("needs a value: write --" + name + "=VALUE")
	}
	switch spec.kind {
	case intValue:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < spec.min || n > spec.max {
			return deny(fmt.Sprintf("value must be an integer in [%d, %d]", spec.min, spec.max))
		}
	case sizeValue:
		if !sizePattern.MatchString(value) {
			return deny("value must be a size such as 100M or 1.5GiB")
		}
	case choiceValue:
		for _, c := range spec.choices {
			if value == c {
				return nil
			}
		}
		return deny("value must be one of " + strings.Join(spec.choices, ", "))
	case listValue:
		if !listPattern.MatchString(value) {
			return deny("value must be a /-separated list of suffixes")
		}
	}
	return nil
}
