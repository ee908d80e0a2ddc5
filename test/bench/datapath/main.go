// Command datapath is the data-path benchmark of issue 4 (make
// bench-datapath). On loopback, with the same data and a warm page cache, it
// times
//
//   - project: mover → agent (separate process) → mount server (rsync daemon),
//   - openssh: rsync over OpenSSH (-c aes128-gcm@openssh.com) to a throwaway sshd,
//   - daemon:  rsync straight to a plain rsync daemon (no crypto),
//
// on data sets A (one 1 GiB file), B (20,000 × 4 KiB files in nested dirs)
// and C (resync of A+B after 1% of the files changed and A grew), all with
// the same rsync flags (rsyncargs.Build). Targets live on a freshly
// formatted, loop-mounted ext4 image. It also reports the agent's CPU
// seconds per GiB forwarded, read from the agent process's /proc stat.
//
// It needs root (mkfs, losetup, mount, sshd) and is not part of go test.
//
//	sudo go run ./test/bench/datapath            # from the repository root
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

type benchFlags struct {
	workdir   string
	keep      bool
	sizeA     int64
	filesB    int
	parallel  bool
	verify    bool
	imageSize int64
	repeat    int
}

func main() {
	var f benchFlags
	flag.StringVar(&f.workdir, "workdir", "", "scratch directory (default: a new dir under /var/tmp)")
	flag.BoolVar(&f.keep, "keep", false, "keep the scratch directory")
	flag.Int64Var(&f.sizeA, "size-a", 1<<30, "size of data set A's file in bytes")
	flag.IntVar(&f.filesB, "files-b", 20000, "number of 4 KiB files in data set B")
	flag.BoolVar(&f.parallel, "with-parallel", true, "also time the project path with parallelStreams=2")
	flag.BoolVar(&f.verify, "verify", true, "compare every copy with the source after C (sha256 + lstat)")
	flag.Int64Var(&f.imageSize, "image-size", 0, "ext4 image size in bytes (default: enough for all copies)")
	flag.IntVar(&f.repeat, "repeat", 1, "runs per data set and method, in rotated method order; the table shows the fastest (each C run resyncs a fresh 1% change)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "datapath: benchmark of the dr-syncer data path against rsync over OpenSSH and a plain rsync daemon.\n\nUsage: sudo go run ./test/bench/datapath [flags]   (from the repository root)\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench-datapath:", err)
		os.Exit(1)
	}
}

// cleanup runs registered undo steps in reverse, also on SIGINT/SIGTERM.
type cleanup struct {
	mu    sync.Mutex
	steps []func()
}

func (c *cleanup) add(f func()) { c.mu.Lock(); c.steps = append(c.steps, f); c.mu.Unlock() }

func (c *cleanup) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.steps) - 1; i >= 0; i-- {
		c.steps[i]()
	}
	c.steps = nil
}

type bench struct {
	f       benchFlags
	work    string
	bin     string
	src     string
	mnt     string
	undo    *cleanup
	flags   []string                              // rsync options shared by every method
	results map[string]map[string]time.Duration   // fastest run
	runs    map[string]map[string][]time.Duration // every run, for the median
	agent   *agentProc
	cpu     map[string]agentUsage
}

func run(f benchFlags) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (mkfs.ext4, losetup, mount, sshd)")
	}
	for _, tool := range []string{"rsync", "ssh", "/usr/sbin/sshd", "mkfs.ext4", "losetup", "mount", "umount", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: run `make deps` (hack/deps.sh): %w", tool, err)
		}
	}
	b := &bench{f: f, undo: &cleanup{}, results: map[string]map[string]time.Duration{},
		runs: map[string]map[string][]time.Duration{}, cpu: map[string]agentUsage{}}
	defer b.undo.run()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		b.undo.run()
		os.Exit(130)
	}()

	var err error
	if b.work = f.workdir; b.work == "" {
		if b.work, err = os.MkdirTemp("/var/tmp", "bench-datapath-"); err != nil {
			return err
		}
	}
	if !f.keep {
		b.undo.add(func() { _ = os.RemoveAll(b.work) })
	}
	step("scratch directory %s", b.work)
	b.bin, b.src, b.mnt = filepath.Join(b.work, "bin"), filepath.Join(b.work, "src"), filepath.Join(b.work, "mnt")

	step("building agent, mountserver and mover")
	if out, err := exec.Command("go", "build", "-o", b.bin+"/", "./cmd/agent", "./cmd/mountserver", "./cmd/mover").CombinedOutput(); err != nil {
		return fmt.Errorf("go build (run from the repository root): %v\n%s", err, out)
	}
	step("generating data sets A (%d MiB) and B (%d × 4 KiB)", f.sizeA>>20, f.filesB)
	if err := b.generate(); err != nil {
		return err
	}
	if err := b.mountTarget(); err != nil {
		return err
	}
	args, err := rsyncargs.Build(rsyncargs.Config{}, rsyncargs.Transfer{Sources: []string{"SRC"}, Dest: "DST"})
	if err != nil {
		return err
	}
	b.flags = args[:len(args)-2]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.undo.add(cancel)
	methods, err := b.startServers(ctx)
	if err != nil {
		return err
	}

	repeat := max(f.repeat, 1)
	for _, ds := range []string{"A", "B"} {
		for r := range repeat {
			for _, m := range rotate(methods, r) {
				if r > 0 {
					// A fresh copy again: empty the target first (not timed).
					if err := os.RemoveAll(b.destPath(m.name, ds)); err != nil {
						return err
					}
				}
				if err := b.measure(m, ds); err != nil {
					return err
				}
			}
		}
	}
	for r := range repeat {
		step("changing 1%% of B's files and appending %d MiB to A", appendSize(f.sizeA)>>20)
		if err := b.mutate(uint8(r)); err != nil {
			return err
		}
		for _, m := range rotate(methods, r) {
			if err := b.measure(m, "C"); err != nil {
				return err
			}
		}
	}
	if f.verify {
		for _, m := range methods {
			step("verifying %s copy", m.name)
			opts := testtree.Options{}
			if m.name != "project" {
				opts.IgnoreRootMtime = true // only the full-volume C run owns the root
			}
			diffs, err := testtree.Compare(b.src, filepath.Join(b.mnt, m.name), opts)
			if err != nil {
				return err
			}
			if len(diffs) > 0 {
				return fmt.Errorf("%s copy differs from the source: %q", m.name, diffs[:min(len(diffs), 5)])
			}
		}
	}
	b.report(methods)
	return nil
}

func step(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "== "+format+"\n", a...)
}

func appendSize(sizeA int64) int64 { return max(sizeA/100, 1<<20) }

// generate writes A (one random file) and B (nested 4 KiB files) and reads
// them once so every method starts from a warm page cache.
func (b *bench) generate() error {
	rng := rand.New(rand.NewChaCha8([32]byte{1, 2, 3}))
	if err := os.MkdirAll(filepath.Join(b.src, "A"), 0o755); err != nil {
		return err
	}
	if err := writeRandom(filepath.Join(b.src, "A", "big.bin"), b.f.sizeA, rng, false); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for i := range b.f.filesB {
		dir := filepath.Join(b.src, "B", fmt.Sprintf("d%02d", i%20), fmt.Sprintf("s%02d", (i/20)%25))
		if i < 500 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		fillRandom(buf, rng)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), buf, 0o644); err != nil {
			return err
		}
	}
	return warm(b.src)
}

func fillRandom(buf []byte, rng *rand.Rand) {
	for i := 0; i+8 <= len(buf); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
}

func writeRandom(path string, n int64, rng *rand.Rand, appendTo bool) error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for n > 0 {
		fillRandom(buf, rng)
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		n -= k
	}
	return f.Close()
}

func warm(root string) error {
	return filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	})
}

// rotate returns methods starting at index r, so no method always runs
// first (or right after the same neighbour).
func rotate(methods []method, r int) []method {
	r %= len(methods)
	return append(append([]method{}, methods[r:]...), methods[:r]...)
}

// mutate changes 1% of B's files in place (same size) and appends to A;
// round picks a different set of content each time.
func (b *bench) mutate(round uint8) error {
	rng := rand.New(rand.NewChaCha8([32]byte{9, round}))
	buf := make([]byte, 4096)
	for i := 0; i < b.f.filesB; i += 100 {
		dir := filepath.Join(b.src, "B", fmt.Sprintf("d%02d", i%20), fmt.Sprintf("s%02d", (i/20)%25))
		fillRandom(buf, rng)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), buf, 0o644); err != nil {
			return err
		}
	}
	if err := writeRandom(filepath.Join(b.src, "A", "big.bin"), appendSize(b.f.sizeA), rng, true); err != nil {
		return err
	}
	return warm(b.src)
}

// mountTarget formats a fresh ext4 image and loop-mounts it at b.mnt.
func (b *bench) mountTarget() error {
	size := b.f.imageSize
	if size == 0 {
		grown := b.f.sizeA + appendSize(b.f.sizeA)*int64(max(b.f.repeat, 1))
		size = 4*(grown+int64(b.f.filesB)*8192) + 1<<30
	}
	img := filepath.Join(b.work, "target.img")
	step("formatting %d MiB ext4 image and loop-mounting it", size>>20)
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		return err
	}
	b.undo.add(func() { _ = os.Remove(img) })
	if err := os.Truncate(img, size); err != nil {
		return err
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", img).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %v: %s", err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		return fmt.Errorf("losetup: %w", err)
	}
	dev := strings.TrimSpace(string(out))
	b.undo.add(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	if err := os.MkdirAll(b.mnt, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("mount", dev, b.mnt).CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s: %v: %s", dev, err, out)
	}
	b.undo.add(func() {
		_ = exec.Command("sync").Run()
		if err := exec.Command("umount", b.mnt).Run(); err != nil {
			_ = exec.Command("umount", "-l", b.mnt).Run()
		}
	})
	return nil
}

// method is one way of running rsync; run copies data set ds into dst.
type method struct {
	name string
	run  func(ds, dst string) error
}

// modulePath maps data set names to source sub-trees (C is the whole source).
func (b *bench) modulePath(ds string) string {
	switch ds {
	case "A", "B":
		return filepath.Join(b.src, ds)
	}
	return b.src
}

func (b *bench) destPath(m, ds string) string {
	if ds == "C" {
		return filepath.Join(b.mnt, m) + "/"
	}
	return filepath.Join(b.mnt, m, ds) + "/"
}

func (b *bench) measure(m method, ds string) error {
	dst := b.destPath(m.name, ds)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	// Flush the previous run's dirty pages so its writeback is not billed here.
	_ = exec.Command("sync").Run()
	var before agentUsage
	if strings.HasPrefix(m.name, "project") {
		before = b.agent.usage()
	}
	start := time.Now()
	if err := m.run(ds, dst); err != nil {
		return fmt.Errorf("%s on %s: %w", m.name, ds, err)
	}
	took := time.Since(start)
	if b.results[ds] == nil {
		b.results[ds] = map[string]time.Duration{}
	}
	if b.runs[ds] == nil {
		b.runs[ds] = map[string][]time.Duration{}
	}
	b.runs[ds][m.name] = append(b.runs[ds][m.name], took)
	best, seen := b.results[ds][m.name]
	if !seen || took < best {
		b.results[ds][m.name] = took
	}
	msg := ""
	if strings.HasPrefix(m.name, "project") {
		after := b.agent.waitUsage(before)
		u := after.sub(before)
		if prev, ok := b.cpu[ds+"/"+m.name]; !ok || u.cpuSeconds < prev.cpuSeconds {
			b.cpu[ds+"/"+m.name] = u
		}
		msg = fmt.Sprintf(" (agent %.2f CPU-s for %.2f GiB)", u.cpuSeconds, float64(u.bytes)/(1<<30))
	}
	step("%-10s %s: %.2fs%s", m.name, ds, took.Seconds(), msg)
	return nil
}

func (b *bench) report(methods []method) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "dataset\t"
	for _, m := range methods {
		header += m.name + "_s\t"
	}
	header += "ratio_vs_openssh\tratio_vs_daemon\tagent_cpu_s\tagent_GiB\tagent_cpu_s_per_GiB\t"
	if b.f.parallel {
		header += "project_p2_vs_openssh\t"
	}
	fmt.Fprintln(w, header)
	var ratios, medianRatios []string
	var totalCPU float64
	var totalBytes int64
	for _, ds := range []string{"A", "B", "C"} {
		r := b.results[ds]
		row := ds + "\t"
		for _, m := range methods {
			row += fmt.Sprintf("%.2f\t", r[m.name].Seconds())
		}
		ro := r["project"].Seconds() / r["openssh"].Seconds()
		rd := r["project"].Seconds() / r["daemon"].Seconds()
		u := b.cpu[ds+"/project"]
		totalCPU += u.cpuSeconds
		totalBytes += u.bytes
		perGiB := 0.0
		if u.bytes > 0 {
			perGiB = u.cpuSeconds / (float64(u.bytes) / (1 << 30))
		}
		row += fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.3f\t%.2f\t", ro, rd, u.cpuSeconds, float64(u.bytes)/(1<<30), perGiB)
		if b.f.parallel {
			row += fmt.Sprintf("%.2f\t", r["project_p2"].Seconds()/r["openssh"].Seconds())
		}
		fmt.Fprintln(w, row)
		ratios = append(ratios, fmt.Sprintf("%s=%.2f", ds, ro))
		if openssh := median(b.runs[ds]["openssh"]); openssh > 0 {
			medianRatios = append(medianRatios, fmt.Sprintf("%s=%.2f", ds, median(b.runs[ds]["project"]).Seconds()/openssh.Seconds()))
		}
	}
	_ = w.Flush()
	if totalBytes > 0 {
		fmt.Printf("agent_cpu_s_per_GiB (single stream, all data sets) = %.2f\n", totalCPU/(float64(totalBytes)/(1<<30)))
	}
	fmt.Printf("ratio_vs_openssh %s\n", strings.Join(ratios, " "))
	if b.f.repeat > 1 {
		fmt.Printf("(medians of %d runs: ratio_vs_openssh %s)\n", b.f.repeat, strings.Join(medianRatios, " "))
	}
}

// median of the runs; the middle two averaged for an even count.
func median(runs []time.Duration) time.Duration {
	if len(runs) == 0 {
		return 0
	}
	sorted := slices.Clone(runs)
	slices.Sort(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 0 {
		return (sorted[mid-1] + sorted[mid]) / 2
	}
	return sorted[mid]
}

// startServers starts the agent, the mount servers, sshd and the plain rsync
// daemon, and returns the methods to time.
func (b *bench) startServers(ctx context.Context) ([]method, error) {
	keyDir := filepath.Join(b.work, "keys")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, err
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(keyDir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			panic(err)
		}
		return p
	}
	hostPriv, hostPub, err := keys.GenerateHostKey("bench-agent")
	if err != nil {
		return nil, err
	}
	client, err := keys.GenerateClusterPairKey("bench-client")
	if err != nil {
		return nil, err
	}
	creds, err := keys.NewRsyncCredentials()
	if err != nil {
		return nil, err
	}
	hostKeyFile := write("agent_host_key", hostPriv.Reveal())
	hostPubFile := write("agent_host_key.pub", hostPub)
	clientKeyFile := write("client_key", client.PrivateKey.Reveal())
	authFile := write("authorized_keys", client.AuthorizedKey)
	userFile := write(keys.RsyncUserFile, []byte(creds.User))
	passFile := write(keys.RsyncPasswordFile, creds.Password.Reveal())

	// Mount servers: one module per data set, as one mount pod per PVC.
	targets := map[string]string{}
	var allow []string
	for _, ds := range []string{"A", "B", "C"} {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(filepath.Join(b.bin, "mountserver"), "--address=127.0.0.1", "--port="+strconv.Itoa(port),
			"--path="+b.modulePath(ds), "--rsync-user-file="+userFile, "--rsync-password-file="+passFile, "--log-level=warn")
		if err := b.startProc(cmd, "mountserver-"+ds); err != nil {
			return nil, err
		}
		if err := waitPort(addr); err != nil {
			return nil, err
		}
		targets[ds] = addr
		allow = append(allow, addr)
	}
	allowFile := write("allow", []byte(strings.Join(allow, "\n")+"\n"))

	agentPort, err := freePort()
	if err != nil {
		return nil, err
	}
	agentAddr := "127.0.0.1:" + strconv.Itoa(agentPort)
	b.agent, err = b.startAgent(agentAddr, hostKeyFile, authFile, allowFile)
	if err != nil {
		return nil, err
	}

	project := func(name string, streams int) method {
		return method{name: name, run: func(ds, dst string) error {
			args := []string{"--agent-addr=" + agentAddr, "--agent-host-key-file=" + hostPubFile, "--client-key-file=" + clientKeyFile,
				"--target=" + targets[ds], "--rsync-user-file=" + userFile, "--rsync-password-file=" + passFile,
				"--dest=" + dst, "--termination-log=", "--log-level=warn", "--parallel-streams=" + strconv.Itoa(streams)}
			out, err := exec.CommandContext(ctx, filepath.Join(b.bin, "mover"), args...).Output()
			sum, perr := lastSummary(out)
			if perr != nil {
				return fmt.Errorf("mover: %v (%v)", perr, err)
			}
			if sum.Outcome.Class != rsyncargs.ClassSuccess {
				return fmt.Errorf("mover: %+v: %s", sum.Outcome, sum.Error)
			}
			return err
		}}
	}

	sshArgs, err := b.startSSHD(keyDir)
	if err != nil {
		return nil, err
	}
	var sshFlags []string
	for _, f := range b.flags {
		if !strings.HasPrefix(f, "--contimeout=") { // daemon connections only
			sshFlags = append(sshFlags, f)
		}
	}
	openssh := method{name: "openssh", run: func(ds, dst string) error {
		args := append(append([]string{}, sshFlags...), "-e", sshArgs, "root@127.0.0.1:"+b.modulePath(ds)+"/", dst)
		return runQuiet(ctx, "rsync", args, nil)
	}}

	daemonAddr, err := b.startPlainDaemon()
	if err != nil {
		return nil, err
	}
	daemon := method{name: "daemon", run: func(ds, dst string) error {
		args := append(append([]string{}, b.flags...), "rsync://"+daemonAddr+"/"+ds+"/", dst)
		return runQuiet(ctx, "rsync", args, nil)
	}}

	methods := []method{project("project", 1), openssh, daemon}
	if b.f.parallel {
		methods = append(methods, project("project_p2", 2))
	}
	return methods, nil
}

func lastSummary(out []byte) (progress.Summary, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	e, err := progress.DecodeEvent([]byte(lines[len(lines)-1]))
	if err != nil {
		return progress.Summary{}, err
	}
	if e.Summary == nil {
		return progress.Summary{}, errors.New("no summary line")
	}
	return *e.Summary, nil
}

func runQuiet(ctx context.Context, name string, args, env []string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"LC_ALL=C", "PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, env...)
	var stderr strings.Builder
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, stderr.String())
	}
	return nil
}

// startProc starts a long-running helper (output to logs/<what>.log) that
// is stopped at cleanup; not with CommandContext, whose SIGKILL would orphan
// the helpers' own children.
func (b *bench) startProc(cmd *exec.Cmd, what string) error {
	logDir := filepath.Join(b.work, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(logDir, what+".log"))
	if err != nil {
		return err
	}
	b.undo.add(func() { _ = log.Close() })
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", what, err)
	}
	b.undo.add(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return nil
}

func (b *bench) startSSHD(keyDir string) (string, error) {
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
		// sshd's privilege-separation directory; created only for this run.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return "", err
		}
		b.undo.add(func() { _ = os.Remove("/run/sshd") })
	}
	hostPriv, hostPub, err := keys.GenerateHostKey("bench-sshd")
	if err != nil {
		return "", err
	}
	client, err := keys.GenerateClusterPairKey("bench-openssh-client")
	if err != nil {
		return "", err
	}
	hostKey := filepath.Join(keyDir, "sshd_host_key")
	clientKey := filepath.Join(keyDir, "openssh_client_key")
	authorized := filepath.Join(keyDir, "openssh_authorized_keys")
	knownHosts := filepath.Join(keyDir, "known_hosts")
	port, err := freePort()
	if err != nil {
		return "", err
	}
	for p, data := range map[string][]byte{
		hostKey: hostPriv.Reveal(), clientKey: client.PrivateKey.Reveal(), authorized: client.AuthorizedKey,
		knownHosts: append([]byte(fmt.Sprintf("[127.0.0.1]:%d ", port)), hostPub...),
	} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return "", err
		}
	}
	conf := filepath.Join(keyDir, "sshd_config")
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
Ciphers aes128-gcm@openssh.com,aes256-gcm@openssh.com
LogLevel ERROR
`, port, hostKey, authorized, filepath.Join(keyDir, "sshd.pid"))
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", conf)
	if err := b.startProc(cmd, "sshd"); err != nil {
		return "", err
	}
	if err := waitPort(fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		return "", err
	}
	return fmt.Sprintf("ssh -F none -p %d -i %s -c aes128-gcm@openssh.com -o Compression=no -o BatchMode=yes "+
		"-o GSSAPIAuthentication=no -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s", port, clientKey, knownHosts), nil
}

func (b *bench) startPlainDaemon() (string, error) {
	dir := filepath.Join(b.work, "rsyncd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "pid file = %s/pid\nlock file = %s/lock\nreverse lookup = no\nuse chroot = yes\nnumeric ids = yes\nuid = 0\ngid = 0\nread only = yes\n", dir, dir)
	for _, ds := range []string{"A", "B", "C"} {
		fmt.Fprintf(&conf, "[%s]\npath = %s\n", ds, b.modulePath(ds))
	}
	confPath := filepath.Join(dir, "rsyncd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command("rsync", "--daemon", "--no-detach", "--config="+confPath, "--address=127.0.0.1", "--port="+strconv.Itoa(port), "--log-file=/dev/null")
	if err := b.startProc(cmd, "rsyncd"); err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return addr, waitPort(addr)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitPort(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on %s", addr)
}

// agentProc is the agent running as its own process, so its CPU time can be
// read from /proc and its per-connection byte counts from its log.
type agentProc struct {
	pid    int
	mu     sync.Mutex
	closed int
	bytes  int64
}

type agentUsage struct {
	cpuSeconds float64
	bytes      int64
	closed     int
}

func (u agentUsage) sub(o agentUsage) agentUsage {
	return agentUsage{cpuSeconds: u.cpuSeconds - o.cpuSeconds, bytes: u.bytes - o.bytes, closed: u.closed - o.closed}
}

func (b *bench) startAgent(addr, hostKey, auth, allow string) (*agentProc, error) {
	cmd := exec.Command(filepath.Join(b.bin, "agent"), "--listen="+addr, "--host-key-file="+hostKey,
		"--authorized-keys-file="+auth, "--allow-list-file="+allow, "--log-format=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	b.undo.add(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	a := &agentProc{pid: cmd.Process.Pid}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg      string `json:"msg"`
				ToTarget int64  `json:"bytes_to_target"`
				ToClient int64  `json:"bytes_to_client"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "connection closed" {
				a.mu.Lock()
				a.closed++
				a.bytes += line.ToTarget + line.ToClient
				a.mu.Unlock()
			} else if !strings.Contains(sc.Text(), `"level":"info"`) {
				fmt.Fprintln(os.Stderr, "agent:", sc.Text())
			}
		}
	}()
	return a, waitPort(addr)
}

// usage reads the agent's CPU time (utime+stime from /proc/PID/stat) and its
// byte counters.
func (a *agentProc) usage() agentUsage {
	a.mu.Lock()
	u := agentUsage{bytes: a.bytes, closed: a.closed}
	a.mu.Unlock()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.pid))
	if err != nil {
		return u
	}
	// Fields after the ")" that ends the command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	u.cpuSeconds = (utime + stime) / clockTicks
	return u
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// waitUsage waits until the agent has logged the connection the mover just
// closed, then reads the counters.
func (a *agentProc) waitUsage(before agentUsage) agentUsage {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if u := a.usage(); u.closed > before.closed {
			return u
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a.usage()
}
