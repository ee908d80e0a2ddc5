package rsyncargs

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var baseTransfer = Transfer{Sources: []string{"rsync://op@127.0.0.1:9000/data/"}, Dest: "/data/"}

// copyOptions start both the copy's and the pre-flight's argv.
var copyOptions = []string{
	"--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids",
	"--sparse", "--partial", "--inplace", "--delete", "--modify-window=-1",
	"--8-bit-output", "--timeout=300", "--contimeout=30",
}

func TestBuildDefaults(t *testing.T) {
	for name, tt := range map[string]struct {
		build  func(Config, Transfer) ([]string, error)
		output []string
	}{
		"copy":       {Build, []string{"--info=progress2", "--out-format=xfer\t%n", "--stats"}},
		"pre-flight": {BuildPreflight, []string{"--dry-run", "--info=del1", "--stats", "--out-format=change\t%i\t%n"}},
	} {
		args, err := tt.build(Config{}, baseTransfer)
		require.NoError(t, err, name)
		want := slices.Concat(copyOptions, tt.output, []string{"rsync://op@127.0.0.1:9000/data/", "/data/"})
		assert.Equal(t, want, args, name)
	}
}

func limit(n int64) *int64 { return &n }

// TestBuild covers the copy's argv and the pre-flight's (build:
// BuildPreflight): the dry run selects what the copy selects (same excludes,
// same deletion options), never reads content and never writes progress.
// lastFlag is the option right before the endpoints: the guard's
// --max-delete must come after the user's options to win.
func TestBuild(t *testing.T) {
	withExcludes := Transfer{Sources: baseTransfer.Sources, Dest: "/d", StreamExcludes: []string{"/b"}}
	withLimit := func(n int64) Transfer {
		tr := baseTransfer
		tr.MaxDelete = limit(n)
		return tr
	}
	tests := []struct {
		name      string
		build     func(Config, Transfer) ([]string, error) // default Build
		cfg       Config
		transfer  Transfer
		contains  []string
		absent    []string
		lastFlag  string
		noLimitIn bool // no --max-delete at all
		err       error
	}{
		{name: "bandwidth limit", cfg: Config{BandwidthLimitKiB: 2048}, contains: []string{"--bwlimit=2048"}},
		{name: "no limit means no flag", cfg: Config{}, absent: []string{"--bwlimit=0"}},
		{name: "full verification checksums", cfg: Config{VerificationMode: VerifyFull}, contains: []string{"--checksum"}},
		{name: "sample verification does not", cfg: Config{VerificationMode: VerifySample, SamplePercent: 5}, absent: []string{"--checksum"}},
		{name: "io timeout rounds up", cfg: Config{IOTimeout: Duration(1500 * time.Millisecond)}, contains: []string{"--timeout=2"}},
		{name: "excludes are anchored", cfg: Config{ExcludePaths: []string{"cache", "logs/*.log", "**/*.tmp", "tmp dir/"}},
			contains: []string{"--exclude=/cache", "--exclude=/logs/*.log", "--exclude=/**/*.tmp", "--exclude=/tmp dir/"}},
		{name: "stream excludes pass through", transfer: withExcludes, contains: []string{"--exclude=/b"}},
		{name: "allowed options appended", cfg: Config{RsyncOptions: []string{"--whole-file", "-c", "--compress-level=3", "--max-size=1.5GiB"}},
			contains: []string{"--whole-file", "-c", "--compress-level=3", "--max-size=1.5GiB"}},
		{name: "never append", cfg: Config{}, absent: []string{"--append", "--append-verify", "--compress", "-z"}},
		{name: "escaping exclude rejected", cfg: Config{ExcludePaths: []string{"../etc"}}, err: ErrUnsafeExclude},
		{name: "disallowed option rejected", cfg: Config{RsyncOptions: []string{"--rsh=sh"}}, err: ErrDisallowedOption},
		{name: "bad verification mode", cfg: Config{VerificationMode: "some"}, err: ErrInvalidConfig},
		{name: "sample needs percent", cfg: Config{VerificationMode: VerifySample}, err: ErrInvalidConfig},
		{name: "too many streams", cfg: Config{ParallelStreams: 99}, err: ErrInvalidConfig},
		{name: "negative bandwidth", cfg: Config{BandwidthLimitKiB: -1}, err: ErrInvalidConfig},
		{name: "no source", transfer: Transfer{Dest: "/d"}, err: ErrInvalidTransfer},
		{name: "dest looks like an option", transfer: Transfer{Sources: baseTransfer.Sources, Dest: "--daemon"}, err: ErrInvalidTransfer},
		{name: "unanchored stream exclude", transfer: Transfer{Sources: baseTransfer.Sources, Dest: "/d", StreamExcludes: []string{"b"}}, err: ErrInvalidTransfer},
		{name: "preflight keeps user excludes and options", build: BuildPreflight,
			cfg:      Config{ExcludePaths: []string{"cache"}, RsyncOptions: []string{"--whole-file", "--delete-after"}, BandwidthLimitKiB: 10},
			contains: []string{"--exclude=/cache", "--whole-file", "--delete-after", "--bwlimit=10", "--delete", "--dry-run"}},
		{name: "preflight prints no progress or file lines", build: BuildPreflight,
			absent: []string{"--info=progress2", "--out-format=xfer\t%n"}, noLimitIn: true},
		{name: "preflight drops full verification checksum", build: BuildPreflight,
			cfg: Config{VerificationMode: VerifyFull}, absent: []string{"--checksum"}},
		{name: "preflight drops user checksum options", build: BuildPreflight,
			cfg:      Config{RsyncOptions: []string{"-c", "--checksum", "--checksum-choice=xxh3"}},
			contains: []string{"--checksum-choice=xxh3"}, absent: []string{"-c", "--checksum"}},
		{name: "preflight keeps user max-delete", build: BuildPreflight,
			cfg: Config{RsyncOptions: []string{"--max-delete=7"}}, contains: []string{"--max-delete=7"}},
		{name: "preflight keeps stream excludes", build: BuildPreflight, transfer: withExcludes,
			contains: []string{"--exclude=/b"}},
		{name: "copy without guard limit", noLimitIn: true},
		{name: "copy with guard limit", transfer: withLimit(42), lastFlag: "--max-delete=42"},
		{name: "zero means delete nothing", transfer: withLimit(0), lastFlag: "--max-delete=0"},
		{name: "user limit lower wins", cfg: Config{RsyncOptions: []string{"--max-delete=5", "--whole-file"}},
			transfer: withLimit(42), lastFlag: "--max-delete=5"},
		{name: "guard limit lower wins over user", cfg: Config{RsyncOptions: []string{"--max-delete=500"}},
			transfer: withLimit(42), lastFlag: "--max-delete=42"},
		{name: "last user limit counts", cfg: Config{RsyncOptions: []string{"--max-delete=1", "--max-delete=100"}},
			transfer: withLimit(42), lastFlag: "--max-delete=42"},
		{name: "negative limit rejected", transfer: withLimit(-1), err: ErrInvalidTransfer},
		{name: "preflight validates config", build: BuildPreflight, cfg: Config{RsyncOptions: []string{"--rsh=sh"}}, err: ErrDisallowedOption},
		{name: "preflight validates transfer", build: BuildPreflight, transfer: Transfer{Dest: "/d"}, err: ErrInvalidTransfer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.transfer
			if tr.Dest == "" && len(tr.Sources) == 0 && tt.err != ErrInvalidTransfer {
				tr = baseTransfer
			}
			build := tt.build
			if build == nil {
				build = Build
			}
			args, err := build(tt.cfg, tr)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			for _, c := range tt.contains {
				assert.Contains(t, args, c)
			}
			for _, a := range tt.absent {
				assert.NotContains(t, args, a)
			}
			if tt.lastFlag != "" {
				assert.Equal(t, tt.lastFlag, args[len(args)-len(tr.Sources)-2])
			}
			if tt.noLimitIn {
				assert.False(t, slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--max-delete") }))
			}
			// Endpoints always come last, after every option.
			assert.Equal(t, tr.Dest, args[len(args)-1])
		})
	}
}

func TestExcludePattern(t *testing.T) {
	good := map[string]string{
		"cache":          "/cache",
		"a/b/c":          "/a/b/c",
		"dir/":           "/dir/",
		"*.log":          "/*.log",
		"**/*.tmp":       "/**/*.tmp",
		"- starts dash":  "/- starts dash",
		"ünïcode naïve":  "/ünïcode naïve",
		"logs/**":        "/logs/**",
		"a/..b/c..":      "/a/..b/c..",
		"+ plus is name": "/+ plus is name",
	}
	for in, want := range good {
		got, err := ExcludePattern(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	bad := []string{
		"", "/etc", "/", "..", "../x", "a/../../x", "a/..", "./a", "a/./b", "a//b",
		"a\\b", "a\nb", "a\x00b", "*", "**", "**/", string([]byte{0xff}), strings.Repeat("a", 2000),
	}
	for _, in := range bad {
		_, err := ExcludePattern(in)
		require.ErrorIs(t, err, ErrUnsafeExclude, "%q", in)
	}
}

func TestCheckOption(t *testing.T) {
	allowed := []string{
		"--checksum", "-c", "--whole-file", "-W", "--no-whole-file", "--one-file-system", "-x",
		"--delete-after", "--delete-delay", "--compress", "--compress-level=0", "--compress-choice=zstd",
		"--checksum-choice=xxh128", "--block-size=131072", "--max-size=100M", "--min-size=1k",
		"--max-size=2GiB+1", "--modify-window=-1", "--skip-compress=gz/jpg", "--no-acls", "--no-xattrs",
	}
	for _, o := range allowed {
		assert.NoError(t, CheckOption(o), o)
	}
	denied := []string{
		"--rsh=ssh", "-e", "-essh", "--rsync-path=/bin/sh", "--remove-source-files",
		"--delete-excluded", "--delete-missing-args", "--deletex", "--ignore-errors", "--write-devices",
		"--copy-links", "-L", "--copy-unsafe-links", "--copy-dirlinks", "-k", "--keep-dirlinks",
		"--log-file=/tmp/x", "--password-file=/etc/shadow", "--files-from=/etc/passwd", "--daemon",
		"--config=/x", "--append", "--append-verify", "--bwlimit=1", "--exclude=x", "--filter=+ x",
		"--info=all", "-v", "-avz", "-a", "--checksum=yes", "--compress-level", "--compress-level=99",
		"--compress-level=x", "--checksum-choice=none", "--max-size=lots", "--skip-compress=a;b",
		"--no-inplace", "--chmod=777", "--link-dest=/", "--temp-dir=/tmp", "checksum", "",
		"--checksum\n--daemon", "--port=1",
	}
	for _, o := range denied {
		assert.ErrorIs(t, CheckOption(o), ErrDisallowedOption, "%q", o)
	}
}

func TestBuildVerifyAndList(t *testing.T) {
	v, err := BuildVerify(Config{}, "rsync://u@h:1/data/", "/dst/", "/tmp/list")
	require.NoError(t, err)
	assert.Contains(t, v, "--checksum")
	assert.Contains(t, v, "--dry-run")
	assert.Contains(t, v, "--files-from=/tmp/list")
	assert.Equal(t, []string{"rsync://u@h:1/data/", "/dst/"}, v[len(v)-2:])
	_, err = BuildVerify(Config{}, "rsync://u@h:1/data/", "/dst/", "")
	require.ErrorIs(t, err, ErrInvalidTransfer)

	// The re-copy writes (no --dry-run), by checksum, only the listed files,
	// never deleting, within the user's bandwidth.
	r, err := BuildRecopy(Config{BandwidthLimitKiB: 50}, "rsync://u@h:1/data/", "/dst/", "/tmp/list")
	require.NoError(t, err)
	assert.NotContains(t, r, "--dry-run")
	assert.Contains(t, r, "--checksum")
	assert.Contains(t, r, "--files-from=/tmp/list")
	assert.Contains(t, r, "--bwlimit=50")
	for _, a := range r {
		assert.NotContains(t, a, "--delete")
	}
	assert.Equal(t, []string{"rsync://u@h:1/data/", "/dst/"}, r[len(r)-2:])
	_, err = BuildRecopy(Config{}, "rsync://u@h:1/data/", "/dst/", "-x")
	require.ErrorIs(t, err, ErrInvalidTransfer)

	l, err := BuildListTop(Config{}, "rsync://u@h:1/data/")
	require.NoError(t, err)
	assert.Equal(t, "--list-only", l[0])
	_, err = BuildListTop(Config{}, "rsync://u@h:1/data")
	require.ErrorIs(t, err, ErrInvalidTransfer)
}

// FuzzBuild checks the builder's invariants for arbitrary user input: it
// either rejects the config or produces an argv where every user-supplied word
// is an allowed option or an anchored, escape-free exclude, the endpoints come
// last, and the resume/mirror flags are present and never undone.
func FuzzBuild(f *testing.F) {
	f.Add("cache", "--whole-file", int64(0), "none", 0)
	f.Add("../etc", "--rsh=sh", int64(-5), "full", 3)
	f.Add("**/*.tmp", "-c", int64(1024), "sample", 10)
	f.Add("a/./b", "--delete-excluded", int64(1), "bogus", 17)
	f.Add("/abs", "--compress-level=9", int64(77), "", 1)
	f.Add("ok dir/", "--max-size=1.5G", int64(9), "sample", 0)
	f.Fuzz(func(t *testing.T, exclude, option string, bw int64, mode string, streams int) {
		cfg := Config{
			BandwidthLimitKiB: bw,
			ExcludePaths:      []string{exclude},
			RsyncOptions:      []string{option},
			VerificationMode:  VerificationMode(mode),
			SamplePercent:     50,
			ParallelStreams:   streams,
		}
		args, err := Build(cfg, baseTransfer)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error does not wrap ErrInvalidConfig: %v", err)
			}
			return
		}
		for _, must := range []string{"--partial", "--inplace", "--delete", "--numeric-ids"} {
			if !slices.Contains(args, must) {
				t.Fatalf("missing %s in %q", must, args)
			}
		}
		if args[len(args)-1] != baseTransfer.Dest || args[len(args)-2] != baseTransfer.Sources[0] {
			t.Fatalf("endpoints not last: %q", args)
		}
		for _, a := range args[:len(args)-2] {
			if !strings.HasPrefix(a, "-") {
				t.Fatalf("non-option word %q before the endpoints", a)
			}
			if strings.HasPrefix(a, "--append") || a == "--no-inplace" || a == "--no-partial" || a == "--rsh" {
				t.Fatalf("forbidden flag %q", a)
			}
			if p, ok := strings.CutPrefix(a, "--exclude="); ok {
				if !strings.HasPrefix(p, "/") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
					t.Fatalf("unsafe exclude %q", p)
				}
			}
		}
	})
}

func TestConfigJSONRoundTrip(t *testing.T) {
	in := Config{BandwidthLimitKiB: 10, ExcludePaths: []string{"cache"}, VerificationMode: VerifySample,
		SamplePercent: 5, ParallelStreams: 2, Timeout: Duration(90 * time.Minute), IOTimeout: Duration(time.Minute)}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"timeout":"1h30m0s"`)
	var out Config
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)
	require.Error(t, json.Unmarshal([]byte(`{"timeout":"soon"}`), &out))
}

// Workflow histories recorded before Config travelled through the workflow
// carry the Replication's dataSyncConfig JSON; it must still decode.
func TestConfigDecodesTheAPIShape(t *testing.T) {
	var c Config
	require.NoError(t, json.Unmarshal([]byte(`{"concurrentSyncs":2,"excludePaths":["cache"],"rsyncOptions":["--whole-file"],`+
		`"bandwidthLimit":100,"timeout":"2h","verificationMode":"sample","samplePercent":10,"parallelStreams":3}`), &c))
	assert.Equal(t, Config{BandwidthLimitKiB: 100, ExcludePaths: []string{"cache"}, RsyncOptions: []string{"--whole-file"},
		VerificationMode: VerifySample, SamplePercent: 10, ParallelStreams: 3, Timeout: Duration(2 * time.Hour)}, c)
}

// The pre-flight leaves out --checksum, so only without it does a dry run
// that saw no change prove the copy needless.
func TestPreflightComparesAsCopy(t *testing.T) {
	assert.True(t, PreflightComparesAsCopy(Config{}))
	assert.True(t, PreflightComparesAsCopy(Config{VerificationMode: VerifySample, SamplePercent: 10}))
	assert.True(t, PreflightComparesAsCopy(Config{RsyncOptions: []string{"--whole-file"}}))
	assert.False(t, PreflightComparesAsCopy(Config{VerificationMode: VerifyFull}))
	assert.False(t, PreflightComparesAsCopy(Config{RsyncOptions: []string{"--checksum"}}))
	assert.False(t, PreflightComparesAsCopy(Config{RsyncOptions: []string{"--whole-file", "-c"}}))
}
