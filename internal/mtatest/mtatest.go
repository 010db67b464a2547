// Package mtatest starts private, throw-away MTA instances — a real Postfix
// and a real Sendmail 8.17 — for integration tests of the sealtag milter, and
// carries a small SMTP client (Send, SendMany) to drive them.
//
//	sock := mtatest.SocketPath(t, "sealtag.sock") // serve the milter here, mode 0666
//	mta := mtatest.StartMTA(t, mtatest.KindPostfix, mtatest.MilterOptions{Milter: "unix:" + sock})
//	r, err := mtatest.Send(ctx, mta.SMTPAddr(), mtatest.Mail{From: "a@example.org", To: []string{"b@example.net"}, Data: msg, StartTLS: true})
//	d := mta.WaitDelivered(t, 1, 10*time.Second)[0] // d.Header.Get("X-Sealtag-…")
//
// Each instance lives in its own temporary directory, listens on 127.0.0.1 at
// a free port in 10025-10099 chosen at run time (an flock per port keeps
// concurrent test processes apart), offers STARTTLS with a self-signed
// certificate, delivers every accepted message into one Maildir (one file
// per recipient) and writes its own mail log (there is no syslog on the
// machines this runs on). Nothing of the system MTA configuration is read or
// changed. t.Cleanup stops the daemons and removes the directories, also
// when the test fails; on failure the instance's log is written to the test
// log first. Each MTA runs in its own PID namespace, so that stopping it — or
// the test process being killed by -timeout — leaves no process behind; the
// directories of a killed test process are removed by the next one.
//
// Both MTAs need root (the daemons switch users; the namespaces need
// CAP_SYS_ADMIN). When a peer — root, Postfix, the cached Sendmail packages,
// a library, a tool such as swaks — is missing, the test is skipped with a
// message that says what to install, or fails when SEALTAG_REQUIRE_PEERS=1 is
// set, so that CI never passes by skipping. scripts/test-deps.sh installs
// everything.
//
// The milter a test starts must be reachable by the MTA: Postfix's smtpd and
// cleanup connect as user postfix, so put the socket in a directory from
// SocketPath (mode 0755, short path) and make the socket mode 0666 (or group
// postfix).
package mtatest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequirePeersEnv names the environment variable that turns a missing peer
// (root, Postfix, Sendmail packages, swaks, …) from a skipped test into a
// failed one. CI sets it to 1.
const RequirePeersEnv = "SEALTAG_REQUIRE_PEERS"

// DebsEnv names the environment variable that overrides DefaultDebsDir, the
// directory where scripts/test-deps.sh caches the Sendmail .deb files.
const DebsEnv = "SEALTAG_TEST_DEBS"

// DefaultDebsDir is where scripts/test-deps.sh caches the Sendmail packages
// (sendmail-bin, sendmail-cf, sendmail-base, m4, libwrap0) unless DebsEnv is set.
const DefaultDebsDir = "/var/cache/sealtag-test/debs"

// Hostname is the fully qualified name both MTAs use for themselves
// (myhostname, $j); it is also the subject of their TLS certificate.
const Hostname = "mta.sealtag.test"

// portMin and portMax bound the ports the harness listens on.
const (
	portMin = 10025
	portMax = 10099
)

// RequirePeers reports whether SEALTAG_REQUIRE_PEERS asks for missing peers to
// fail tests instead of skipping them.
func RequirePeers() bool {
	v := os.Getenv(RequirePeersEnv)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// MissingPeer ends the test because a peer is missing: t.Fatalf when
// SEALTAG_REQUIRE_PEERS=1, t.Skipf otherwise. what says what is missing, hint
// what to do about it.
func MissingPeer(t testing.TB, what, hint string) {
	t.Helper()
	if RequirePeers() {
		t.Fatalf("mtatest: missing %s, and %s=1 forbids skipping: %s", what, RequirePeersEnv, hint)
	}
	t.Skipf("mtatest: skipping, missing %s: %s (set %s=1 to make this a failure)", what, hint, RequirePeersEnv)
}

// RequireTool returns the path of the command name, or ends the test through
// MissingPeer naming the Debian package pkg that provides it. Use it for
// peers the test drives itself, such as swaks or miltertest.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		MissingPeer(t, name, fmt.Sprintf("apt-get install %s, or run scripts/test-deps.sh", pkg))
	}
	return p
}

// requireRoot ends the test through MissingPeer unless it runs as root.
func requireRoot(t testing.TB, mta string) {
	t.Helper()
	if os.Geteuid() != 0 {
		MissingPeer(t, "root", mta+" instances need root (the daemons switch users); run the tests as root, as CI does")
	}
}

// SocketPath returns a path for a unix socket named name inside a fresh
// directory of mode 0755 (so that Postfix's processes, which run as user
// postfix, can reach it) with a short path (sun_path holds 108 bytes, and
// t.TempDir paths grow with the test name). The directory is removed when the
// test ends. Make the socket itself mode 0666 or group postfix.
func SocketPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(privateDir(t, "sock"), name)
	if len(p) > 100 { // sun_path is 108 bytes with the NUL; Sendmail allows less
		t.Fatalf("mtatest: socket path %q is too long for a unix socket; set TMPDIR to a short directory", p)
	}
	return p
}

// privateDir makes a 0755 temporary directory removed on cleanup. t.TempDir
// is not used: it and its parent are 0700, which the unprivileged daemon
// processes (tlsmgr, virtual, smtpd connecting to the milter) cannot traverse.
// The directory holds an flock on its .lock file while in use, so that
// sweepStale can remove what a killed test process left behind.
func privateDir(t testing.TB, kind string) string {
	t.Helper()
	sweepOnce.Do(sweepStale)
	dir, err := os.MkdirTemp("", dirPrefix+kind+"-")
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("mtatest: removing %s: %v", dir, err)
		}
		if lock != nil {
			lock.Close()
		}
	})
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	return dir
}

const dirPrefix = "sealtag-mt-"

var sweepOnce sync.Once

// sweepStale removes instance directories of earlier test processes that
// died without cleanup (go test -timeout): those whose .lock nobody holds.
// Their daemons are already gone (see daemon). Directories younger than a
// minute are left alone: their creator may not hold the lock yet.
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*-*"))
	for _, dir := range dirs {
		info, err := os.Lstat(dir)
		if err != nil || !info.IsDir() || time.Since(info.ModTime()) < time.Minute {
			continue
		}
		f, err := os.Open(filepath.Join(dir, ".lock"))
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// portLock holds a port reserved for one instance: an flock on a file in the
// system temp directory keeps concurrent test processes (go test runs packages
// in parallel) from choosing the same port.
type portLock struct {
	port int
	f    *os.File
}

func (l *portLock) release() {
	if l != nil && l.f != nil {
		l.f.Close() // drops the flock
		l.f = nil
	}
}

// FreePort returns a free loopback port in 10025-10099 for a listener the
// test starts itself (a metrics endpoint, say). The port stays reserved
// against other harness processes until the test ends.
func FreePort(t testing.TB) int {
	t.Helper()
	lock, err := reservePort(nil)
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	t.Cleanup(lock.release)
	return lock.port
}

// reservePort picks a free loopback port in 10025-10099, in random order,
// skipping ports another harness process holds and ports something else
// listens on. The caller releases the lock when the instance stops.
func reservePort(avoid []int) (*portLock, error) {
	lockDir := filepath.Join(os.TempDir(), "sealtag-mtatest-ports")
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, err
	}
	ports := make([]int, 0, portMax-portMin+1)
	for p := portMin; p <= portMax; p++ {
		if !slices.Contains(avoid, p) {
			ports = append(ports, p)
		}
	}
	for i := len(ports) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return nil, err
		}
		ports[i], ports[j.Int64()] = ports[j.Int64()], ports[i]
	}
	for _, p := range ports {
		f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(p)+".lock"), os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			f.Close()
			continue
		}
		ln.Close()
		return &portLock{port: p, f: f}, nil
	}
	return nil, fmt.Errorf("no free port in %d-%d", portMin, portMax)
}

// listening reports whether something listens on 127.0.0.1:port, read from
// /proc/net/tcp (a TCP probe would open an SMTP session, and with it a milter
// connection the test did not ask for).
func listening(port int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == want && f[3] == "0A" { // 0A = TCP_LISTEN
			return true
		}
	}
	return false
}

// randomToken returns n random bytes in hex; it marks an instance's banner.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

var (
	certOnce sync.Once
	certPEM  []byte
	keyPEM   []byte
	certErr  error
)

// writeCert writes a self-signed RSA certificate for Hostname and its key
// (mode 0600) into dir and returns their paths. The pair is generated once
// per test process with crypto/x509 — no openssl command is needed — and
// is valid for two days.
func writeCert(dir string) (certFile, keyFile string, err error) {
	certOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(time.Now().UnixNano()),
			Subject:               pkix.Name{CommonName: Hostname, Organization: []string{"sealtag mtatest"}},
			DNSNames:              []string{Hostname, "localhost"},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(48 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	})
	if certErr != nil {
		return "", "", certErr
	}
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// Delivered is one message file found in an instance's Maildir. Both MTAs
// write one file per recipient.
type Delivered struct {
	Path   string      // file name under Maildir/new or Maildir/cur
	Raw    []byte      // the file as written by the MTA (LF line ends)
	Header mail.Header // parsed header; Header.Get("X-Test"), Header["Received"]
	Body   []byte      // everything after the header's blank line
}

// Maildir files are read from new/ and cur/ (nothing here moves them, but a
// test may).
func readMaildir(dir string) ([]Delivered, error) {
	type entry struct {
		path string
		mod  time.Time
	}
	var entries []entry
	for _, sub := range []string{"new", "cur"} {
		des, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		for _, de := range des {
			if !de.Type().IsRegular() {
				continue
			}
			info, err := de.Info()
			if err != nil {
				continue // vanished
			}
			entries = append(entries, entry{filepath.Join(dir, sub, de.Name()), info.ModTime()})
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if !entries[i].mod.Equal(entries[j].mod) {
			return entries[i].mod.Before(entries[j].mod)
		}
		return entries[i].path < entries[j].path
	})
	out := make([]Delivered, 0, len(entries))
	for _, e := range entries {
		raw, err := os.ReadFile(e.path)
		if err != nil {
			return nil, err
		}
		d := Delivered{Path: e.path, Raw: raw}
		if m, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
			d.Header = m.Header
			if i := indexBody(raw); i >= 0 {
				d.Body = raw[i:]
			}
		} else {
			return nil, fmt.Errorf("%s: %v", e.path, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// indexBody returns the offset of the body (after the first empty line).
func indexBody(raw []byte) int {
	s := string(raw)
	if strings.HasPrefix(s, "\n") {
		return 1
	}
	if strings.HasPrefix(s, "\r\n") {
		return 2
	}
	if i := strings.Index(s, "\n\n"); i >= 0 {
		return i + 2
	}
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return i + 4
	}
	return -1
}

// waitMaildir polls dir until at least n messages are there.
func waitMaildir(t testing.TB, what, dir string, n int, timeout time.Duration, logf func() string) []Delivered {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ds, err := readMaildir(dir)
		if err != nil {
			t.Fatalf("mtatest: %s: reading %s: %v", what, dir, err)
		}
		if len(ds) >= n {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("mtatest: %s: %d message(s) delivered after %v, want %d\n--- log ---\n%s", what, len(ds), timeout, n, tail(logf(), 60))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d earlier lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// QueueEntry is one message waiting in an MTA's queue.
type QueueEntry struct {
	Queue      string   // Postfix: "hold", "incoming", "active", "deferred", "maildrop"; Sendmail: "quarantine" or "queue"
	QueueID    string   // Postfix queue id, or Sendmail's envelope id (the qf/hf file name without its prefix)
	Sender     string   // envelope sender, without angle brackets ("" for the null sender)
	Recipients []string // envelope recipients
	Reason     string   // Sendmail quarantine reason (from the milter); empty for Postfix
}

// MTA is what both Postfix and Sendmail offer, for tests that run one case
// against each.
type MTA interface {
	// Name is "postfix" or "sendmail".
	Name() string
	// SMTPAddr is the instance's SMTP listener, "127.0.0.1:PORT".
	SMTPAddr() string
	// Maildir is the directory every accepted message is delivered into.
	Maildir() string
	// Deliveries returns what has been delivered so far, oldest first.
	Deliveries(t testing.TB) []Delivered
	// WaitDelivered waits until at least n messages are delivered and
	// returns all of them, oldest first; it fails the test on timeout.
	WaitDelivered(t testing.TB, n int, timeout time.Duration) []Delivered
	// Queued returns every message still in the MTA's queue (held,
	// quarantined, deferred, not yet delivered).
	Queued(t testing.TB) []QueueEntry
	// Log returns the instance's mail log so far.
	Log() string
	// Stop stops the instance; it is safe to call more than once.
	Stop()
}

// MTAKind names an MTA StartMTA can start.
type MTAKind string

// The MTAs StartMTA knows.
const (
	KindPostfix  MTAKind = "postfix"
	KindSendmail MTAKind = "sendmail"
)

// Kinds lists every MTAKind, for table-driven tests.
var Kinds = []MTAKind{KindPostfix, KindSendmail}

// MilterOptions is what StartMTA passes to either MTA.
type MilterOptions struct {
	// Milter is the milter's address in Postfix syntax: "unix:/path" or
	// "inet:127.0.0.1:PORT" ("" for none). Sendmail's "inet:PORT@HOST" is
	// accepted too.
	Milter string
	// DefaultAction is what the MTA does when the milter is unreachable or
	// misbehaves: "tempfail" (the default), "reject" or "accept".
	DefaultAction string
}

// StartMTA starts a Postfix or a Sendmail instance with one milter.
func StartMTA(t testing.TB, kind MTAKind, opts MilterOptions) MTA {
	t.Helper()
	switch kind {
	case KindPostfix:
		return StartPostfix(t, PostfixOptions{Milter: opts.Milter, DefaultAction: opts.DefaultAction})
	case KindSendmail:
		return StartSendmail(t, SendmailOptions{Milter: opts.Milter, DefaultAction: opts.DefaultAction})
	}
	t.Fatalf("mtatest: unknown MTA kind %q", kind)
	return nil
}

// normalizeAction checks a DefaultAction value and applies the default.
func normalizeAction(a string) (string, error) {
	switch a {
	case "":
		return "tempfail", nil
	case "tempfail", "reject", "accept":
		return a, nil
	}
	return "", fmt.Errorf("DefaultAction %q: want tempfail, reject or accept", a)
}

// run runs a command and returns its combined output in the error.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
