package mtatest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// SendmailMilterMC is the reusable part of the Sendmail configuration: the
// INPUT_MAIL_FILTER line and the confMILTER_MACROS_* lists an administrator
// pastes into sendmail.mc (file sendmail/sealtag-milter.mc in this package,
// meant for contrib/sendmail/). Every Sendmail instance the harness starts
// with a milter includes this exact text, with SEALTAG_SOCKET and
// SEALTAG_FAILMODE defined before it.
//
//go:embed sendmail/sealtag-milter.mc
var SendmailMilterMC string

// SendmailMCTemplate is the text/template of the whole sendmail.mc of a test
// instance (file sendmail/sendmail.mc.tmpl in this package).
//
//go:embed sendmail/sendmail.mc.tmpl
var SendmailMCTemplate string

var sendmailMC = template.Must(template.New("sendmail.mc").Parse(SendmailMCTemplate))

// sendmailDeliver is the local mailer of a Sendmail instance: sendmail runs
// it once per recipient as "deliver MAILDIR user" with the message on stdin;
// it writes one Maildir file, through tmp/ so a reader never sees half a file.
const sendmailDeliver = `#!/bin/sh
# Sendmail local mailer of a sealtag/internal/mtatest instance.
set -e
umask 022
dir="$1"
name="$(date +%s.%N).P$$.sealtag"
cat > "$dir/tmp/$name"
mv "$dir/tmp/$name" "$dir/new/$name"
`

// sendmailDebs are the packages StartSendmail unpacks (dpkg -x) into a
// private root; scripts/test-deps.sh downloads them with apt-get download.
var sendmailDebs = []string{"sendmail-bin", "sendmail-cf", "sendmail-base", "m4", "libwrap0"}

// SendmailOptions configures StartSendmail.
type SendmailOptions struct {
	// Milter is the milter's address: "unix:/path" or "inet:127.0.0.1:PORT"
	// as for Postfix, or Sendmail's own "local:/path" / "inet:PORT@HOST";
	// "" runs without a milter.
	Milter string
	// DefaultAction is what Sendmail does when the milter is unreachable or
	// fails (the F= flag): "tempfail" (default, F=T), "reject" (F=R) or
	// "accept" (no flag).
	DefaultAction string
	// Defines are extra m4 define()s, written after the milter lines so they
	// override them (e.g. confMILTER_MACROS_HELO, confMILTER_LOG_LEVEL).
	Defines map[string]string
	// ExtraMC is raw sendmail.mc text inserted after Defines (FEATURE()s…).
	ExtraMC string
	// MilterMC, if set, replaces SendmailMilterMC: the sendmail.mc lines
	// that declare the milter, e.g. the shipped contrib/sendmail/sealtag.mc,
	// to test that file as shipped. The S= and F= values of its
	// INPUT_MAIL_FILTER line are replaced with Milter's address and
	// DefaultAction's flag; everything else is used verbatim.
	MilterMC string
}

// Sendmail is a private Sendmail 8.17 daemon (sendmail -bD) built from the
// cached Debian packages — unpacked with dpkg -x once into DebsDir()/root-KEY
// and shared read-only; each instance runs its own copy of the binary without
// the setgid bit — configured from SendmailMCTemplate with the packages' m4
// and cf/ (the result is Dir()/sendmail.cf), listening on 127.0.0.1 only,
// STARTTLS with the harness's self-signed certificate, every envelope
// recipient of any domain delivered by a local-mailer script into one Maildir
// (one file per recipient).
//
// It runs under unshare in its own UTS namespace (hostname Hostname: an
// unqualified host name makes Sendmail sleep 60 s), mount namespace (a private
// /dev whose /dev/log is a datagram socket the harness reads, so Sendmail's
// syslog lines become Log()) and PID namespace (killing it kills every
// Sendmail child, queue runners and mailers included).
type Sendmail struct {
	dir     string
	root    string // the unpacked packages (shared cache, read-only)
	maildir string
	addr    string
	lock    *portLock

	d        *daemon
	syslog   *net.UnixConn
	readDone chan struct{}

	mu  sync.Mutex
	log bytes.Buffer

	stopOnce sync.Once
}

// DebsDir returns the directory holding the cached Sendmail packages:
// $SEALTAG_TEST_DEBS or DefaultDebsDir.
func DebsDir() string {
	if d := os.Getenv(DebsEnv); d != "" {
		return d
	}
	return DefaultDebsDir
}

// findDebs returns the cached .deb of each package (the lexically last if
// several versions are cached), or what is missing.
func findDebs(dir string) (debs []string, missing []string) {
	for _, pkg := range sendmailDebs {
		matches, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
		if len(matches) == 0 {
			missing = append(missing, pkg)
			continue
		}
		slices.Sort(matches)
		debs = append(debs, matches[len(matches)-1])
	}
	return debs, missing
}

// StartSendmail starts a private Sendmail instance and registers its Stop
// (and, if the test failed, a dump of its log) with t.Cleanup. It skips the
// test — or fails it under SEALTAG_REQUIRE_PEERS=1 — when the cached packages,
// a library or root are missing.
func StartSendmail(t testing.TB, opts SendmailOptions) *Sendmail {
	t.Helper()
	requireRoot(t, "Sendmail")
	for _, tool := range []string{"unshare", "mount", "hostname", "dpkg-deb", "ldd"} {
		if _, err := exec.LookPath(tool); err != nil {
			MissingPeer(t, tool, "install util-linux, mount, hostname, dpkg and libc-bin (part of every Debian system)")
		}
	}
	debs, missing := findDebs(DebsDir())
	if len(missing) > 0 {
		MissingPeer(t, fmt.Sprintf("Sendmail packages %s in %s", strings.Join(missing, ", "), DebsDir()),
			"run scripts/test-deps.sh (apt-get download "+strings.Join(sendmailDebs, " ")+"), or point "+DebsEnv+" at such a directory")
	}
	failMode := ""
	switch action, err := normalizeAction(opts.DefaultAction); {
	case err != nil:
		t.Fatalf("mtatest: StartSendmail: %v", err)
	case action == "tempfail":
		failMode = "T"
	case action == "reject":
		failMode = "R"
	}
	socket, err := sendmailSocket(opts.Milter)
	if err != nil {
		t.Fatalf("mtatest: StartSendmail: %v", err)
	}

	s := &Sendmail{dir: privateDir(t, "sendmail")}
	s.maildir = filepath.Join(s.dir, "Maildir")
	s.root, err = unpackedRoot(debs)
	if err != nil {
		// No shared cache (read-only DebsDir?): unpack into the instance.
		t.Logf("mtatest: %v; unpacking into the instance directory", err)
		s.root = filepath.Join(s.dir, "root")
		if err := unpack(debs, s.root); err != nil {
			t.Fatalf("mtatest: unpacking Sendmail: %v", err)
		}
	}
	libDir := filepath.Join(s.root, "usr/lib/x86_64-linux-gnu")
	if matches, _ := filepath.Glob(filepath.Join(s.root, "usr/lib/*-linux-gnu")); len(matches) > 0 {
		libDir = matches[0]
	}
	// The packaged binary is setgid (group smmsp): the loader ignores
	// LD_LIBRARY_PATH, needed for the unpacked libwrap, in setgid programs.
	// The instance runs its own copy, mode 0755.
	bin := filepath.Join(s.dir, "sendmail")
	if err := copyFile(filepath.Join(s.root, "usr/libexec/sendmail/sendmail"), bin, 0o755); err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	env := append(os.Environ(), "LD_LIBRARY_PATH="+libDir)
	ldd := exec.Command("ldd", bin)
	ldd.Env = env
	if out, err := ldd.CombinedOutput(); err != nil || bytes.Contains(out, []byte("not found")) {
		var libs []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "not found") {
				libs = append(libs, strings.TrimSpace(strings.Split(l, "=>")[0]))
			}
		}
		MissingPeer(t, "libraries of Sendmail "+strings.Join(libs, ", "),
			fmt.Sprintf("run scripts/test-deps.sh (it installs libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2 libssl3); ldd: %v\n%s", err, out))
	}

	// Instance files.
	for _, d := range []string{"mqueue", "Maildir", "Maildir/tmp", "Maildir/new", "Maildir/cur", "dev"} {
		mode := os.FileMode(0o755)
		if d == "mqueue" {
			mode = 0o700
		}
		if err := os.Mkdir(filepath.Join(s.dir, d), mode); err != nil {
			t.Fatalf("mtatest: %v", err)
		}
	}
	files := map[string]struct {
		content string
		mode    os.FileMode
	}{
		"deliver":           {sendmailDeliver, 0o755},
		"statistics":        {"", 0o600},
		"service.switch":    {"hosts\tfiles\naliases\tfiles\n", 0o644},
		"sealtag-milter.mc": {milterMC(opts.MilterMC, socket, failMode), 0o644},
	}
	for name, f := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(f.content), f.mode); err != nil {
			t.Fatalf("mtatest: %v", err)
		}
	}
	certFile, keyFile, err := writeCert(s.dir)
	if err != nil {
		t.Fatalf("mtatest: certificate: %v", err)
	}
	// The private /dev: empty files the namespace bind-mounts the real
	// devices onto, and the log socket.
	for _, dev := range []string{"null", "zero", "random", "urandom", "full"} {
		if err := os.WriteFile(filepath.Join(s.dir, "dev", dev), nil, 0o644); err != nil {
			t.Fatalf("mtatest: %v", err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(s.dir, "dev", name)); err != nil {
			t.Fatalf("mtatest: %v", err)
		}
	}
	logSock := filepath.Join(s.dir, "dev", "log")
	s.syslog, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: logSock, Net: "unixgram"})
	if err != nil {
		t.Fatalf("mtatest: syslog socket: %v", err)
	}
	os.Chmod(logSock, 0o666)
	s.readDone = make(chan struct{})
	go s.readSyslog()

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mtatest: sendmail log:\n%s", tail(s.Log(), 200))
		}
		s.Stop()
	})

	token := randomToken(6)
	var avoid []int
	for attempt := 1; ; attempt++ {
		lock, err := reservePort(avoid)
		if err != nil {
			t.Fatalf("mtatest: StartSendmail: %v", err)
		}
		cf, err := s.buildCf(mcData{
			Hostname: Hostname, Dir: s.dir, Port: lock.port, Token: token,
			Socket: socket, FailMode: failMode, Snippet: filepath.Join(s.dir, "sealtag-milter.mc"),
			CertFile: certFile, KeyFile: keyFile,
			Deliver: filepath.Join(s.dir, "deliver"), Maildir: s.maildir,
			Defines: sortedKV(opts.Defines), ExtraMC: opts.ExtraMC,
		})
		if err != nil {
			lock.release()
			t.Fatalf("mtatest: building sendmail.cf: %v", err)
		}
		err = s.startDaemon(bin, cf, env, lock.port)
		if err == nil {
			s.lock = lock
			s.addr = fmt.Sprintf("127.0.0.1:%d", lock.port)
			break
		}
		s.d.kill()
		s.d = nil
		lock.release()
		if attempt < 3 && errors.Is(err, errPortInUse) {
			avoid = append(avoid, lock.port)
			continue
		}
		t.Fatalf("mtatest: starting sendmail: %v\n--- log ---\n%s", err, tail(s.Log(), 60))
	}
	return s
}

// unpackedRoot returns a directory holding the packages debs unpacked, shared
// (read-only) by every instance and every test process: DebsDir()/root-KEY,
// KEY naming the exact set of .deb files. Unpacking five packages costs about
// half a second; a cached root makes an instance start in about 0.1 s. The
// first process to need it unpacks into a temporary directory and renames it
// into place, so concurrent processes never see half a tree.
func unpackedRoot(debs []string) (string, error) {
	h := sha256.New()
	for _, deb := range debs {
		info, err := os.Stat(deb)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %d\n", filepath.Base(deb), info.Size(), info.ModTime().UnixNano())
	}
	dir := filepath.Dir(debs[0])
	root := filepath.Join(dir, "root-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(root, ".complete")); err == nil {
		return root, nil
	}
	tmp, err := os.MkdirTemp(dir, ".unpacking-")
	if err != nil {
		return "", fmt.Errorf("caching the unpacked Sendmail: %v", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename, nothing is left
	if err := unpack(debs, tmp); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	os.Chmod(tmp, 0o755)
	if err := os.Rename(tmp, root); err != nil {
		if _, err2 := os.Stat(filepath.Join(root, ".complete")); err2 == nil {
			return root, nil // another process was quicker
		}
		return "", err
	}
	// Roots of other package versions are stale.
	old, _ := filepath.Glob(filepath.Join(dir, "root-*"))
	for _, o := range old {
		if o != root {
			os.RemoveAll(o)
		}
	}
	return root, nil
}

// unpack runs dpkg-deb -x for each package into dir.
func unpack(debs []string, dir string) error {
	for _, deb := range debs {
		if err := run("dpkg-deb", "-x", deb, dir); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies src to dst with mode.
func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode) // WriteFile applies the umask
}

var (
	mcSocket   = regexp.MustCompile(`\bS=[^,']*`)
	mcFailMode = regexp.MustCompile(`\bF=[^,']*`)
)

// milterMC returns the milter lines of an instance: SendmailMilterMC (which
// reads SEALTAG_SOCKET and SEALTAG_FAILMODE, defined by the template), or
// custom with the socket and fail mode of its INPUT_MAIL_FILTER line
// replaced.
func milterMC(custom, socket, failMode string) string {
	if custom == "" {
		return SendmailMilterMC
	}
	lines := strings.Split(custom, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "INPUT_MAIL_FILTER(") {
			l = mcSocket.ReplaceAllLiteralString(l, "S="+socket)
			lines[i] = mcFailMode.ReplaceAllLiteralString(l, "F="+failMode)
		}
	}
	return strings.Join(lines, "\n")
}

// mcData fills SendmailMCTemplate.
type mcData struct {
	Hostname, Dir, Token      string
	Port                      int
	Socket, FailMode, Snippet string
	CertFile, KeyFile         string
	Deliver, Maildir          string
	Defines                   []kv
	ExtraMC                   string
}

type kv struct{ K, V string }

func sortedKV(m map[string]string) []kv {
	var out []kv
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kv{k, m[k]})
	}
	return out
}

// sendmailSocket turns a Postfix-style milter address into Sendmail's.
func sendmailSocket(addr string) (string, error) {
	switch {
	case addr == "":
		return "", nil
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "local:"):
		return addr, nil
	case strings.HasPrefix(addr, "inet:"):
		rest := strings.TrimPrefix(addr, "inet:")
		if strings.Contains(rest, "@") {
			return addr, nil
		}
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return "", fmt.Errorf("milter address %q: %v", addr, err)
		}
		return "inet:" + port + "@" + host, nil
	}
	return "", fmt.Errorf("milter address %q: want unix:/path or inet:HOST:PORT", addr)
}

// buildCf renders the .mc and runs the unpacked m4 on it.
func (s *Sendmail) buildCf(d mcData) (string, error) {
	var mc bytes.Buffer
	if err := sendmailMC.Execute(&mc, d); err != nil {
		return "", err
	}
	mcFile := filepath.Join(s.dir, "sendmail.mc")
	if err := os.WriteFile(mcFile, mc.Bytes(), 0o644); err != nil {
		return "", err
	}
	cfDir := filepath.Join(s.root, "usr/share/sendmail/cf")
	m4 := exec.Command(filepath.Join(s.root, "usr/bin/m4"), "-D_CF_DIR_="+cfDir+"/", filepath.Join(cfDir, "m4/cf.m4"), mcFile)
	var stderr bytes.Buffer
	m4.Stderr = &stderr
	out, err := m4.Output()
	if err != nil || stderr.Len() > 0 {
		return "", fmt.Errorf("m4 %s: %v\n%s", mcFile, err, stderr.String())
	}
	cfFile := filepath.Join(s.dir, "sendmail.cf")
	return cfFile, os.WriteFile(cfFile, out, 0o644)
}

// startDaemon runs sendmail -bD in its namespaces (UTS: hostname Hostname;
// mount: the private /dev with the log socket; PID: see daemon) and waits
// until it listens.
func (s *Sendmail) startDaemon(bin, cf string, env []string, port int) error {
	script := fmt.Sprintf(`set -e
hostname %[1]s
for f in null zero random urandom full; do mount --bind /dev/$f %[2]s/dev/$f; done
mount --rbind %[2]s/dev /dev
%[3]s -C %[4]s -bD`, Hostname, s.dir, bin, cf)
	d, err := startDaemon(s.dir, env, logWriter{s, "output: "}, []string{"--uts", "--mount"}, script)
	if err != nil {
		return err
	}
	s.d = d
	return d.waitListening(port, 30*time.Second, s.Log)
}

type logWriter struct {
	s      *Sendmail
	prefix string
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.s.appendLog(w.prefix + l)
	}
	return len(p), nil
}

func (s *Sendmail) appendLog(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.WriteString(line)
	s.log.WriteByte('\n')
}

var syslogPri = regexp.MustCompile(`^<\d+>`)

// readSyslog turns datagrams on the private /dev/log into log lines,
// dropping the <PRI> prefix.
func (s *Sendmail) readSyslog() {
	defer close(s.readDone)
	buf := make([]byte, 64*1024)
	for {
		n, err := s.syslog.Read(buf)
		if err != nil {
			return
		}
		s.appendLog(strings.TrimRight(syslogPri.ReplaceAllString(string(buf[:n]), ""), "\n\x00"))
	}
}

// Name returns "sendmail".
func (s *Sendmail) Name() string { return string(KindSendmail) }

// SMTPAddr returns the instance's SMTP address, "127.0.0.1:PORT".
func (s *Sendmail) SMTPAddr() string { return s.addr }

// Dir returns the instance directory (sendmail.mc, sendmail.cf, mqueue/,
// Maildir/, root/ with the unpacked packages).
func (s *Sendmail) Dir() string { return s.dir }

// Maildir returns the Maildir every accepted message is delivered into.
func (s *Sendmail) Maildir() string { return s.maildir }

// Deliveries returns the messages delivered so far, oldest first.
func (s *Sendmail) Deliveries(t testing.TB) []Delivered {
	t.Helper()
	ds, err := readMaildir(s.maildir)
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	return ds
}

// WaitDelivered waits until at least n messages (one file per recipient) are
// in the Maildir and returns all of them, oldest first. It fails the test,
// with the log, when timeout passes first.
func (s *Sendmail) WaitDelivered(t testing.TB, n int, timeout time.Duration) []Delivered {
	t.Helper()
	return waitMaildir(t, "sendmail", s.maildir, n, timeout, s.Log)
}

// Queued returns the messages in the queue directory: "queue" for qf files
// (not yet delivered or deferred) and "quarantine" for hf files (a milter's
// quarantine), read from the queue files themselves.
func (s *Sendmail) Queued(t testing.TB) []QueueEntry {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(s.dir, "mqueue"))
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	var out []QueueEntry
	for _, de := range des {
		name := de.Name()
		var queue string
		switch {
		case strings.HasPrefix(name, "qf"):
			queue = "queue"
		case strings.HasPrefix(name, "hf"):
			queue = "quarantine"
		default:
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, "mqueue", name))
		if err != nil {
			continue // delivered meanwhile
		}
		e := QueueEntry{Queue: queue, QueueID: name[2:]}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "S"):
				e.Sender = strings.Trim(l[1:], "<>")
			case strings.HasPrefix(l, "R"):
				// R[flags]:address
				if _, addr, ok := strings.Cut(l, ":"); ok {
					e.Recipients = append(e.Recipients, strings.Trim(addr, "<>"))
				}
			case strings.HasPrefix(l, "q"):
				e.Reason = l[1:]
			}
		}
		out = append(out, e)
	}
	return out
}

// Log returns Sendmail's syslog lines (and anything it printed) so far.
func (s *Sendmail) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// WaitLog waits until the log contains substr and fails the test after
// timeout; it returns the log.
func (s *Sendmail) WaitLog(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	return waitLog(t, "sendmail", s.Log, substr, timeout)
}

// Stop kills the instance (its whole PID namespace) and frees its port. The
// directory is removed by the cleanup StartSendmail registered. Stop is safe
// to call more than once.
func (s *Sendmail) Stop() {
	s.stopOnce.Do(func() {
		s.d.kill()
		if s.syslog != nil {
			s.syslog.Close()
			<-s.readDone
		}
		s.lock.release()
	})
}
