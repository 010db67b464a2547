package mtatest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths of the Debian postfix package.
const (
	postfixCmd       = "/usr/sbin/postfix"
	postqueueCmd     = "/usr/sbin/postqueue"
	postfixDaemonDir = "/usr/lib/postfix/sbin"
)

// PostfixOptions configures StartPostfix.
type PostfixOptions struct {
	// Milter is smtpd_milters, e.g. "unix:/tmp/x/sealtag.sock" or
	// "inet:127.0.0.1:10031"; "" runs without a milter.
	Milter string
	// DefaultAction is milter_default_action: "tempfail" (default),
	// "reject" or "accept".
	DefaultAction string
	// Extra main.cf settings, applied last so they override the harness's
	// (e.g. milter_protocol, milter_mail_macros, smtpd_milter_maps).
	Extra map[string]string
}

// Postfix is a private Postfix instance: its own config, queue and data
// directories under one temporary directory, listening on 127.0.0.1 only, no
// chroot (every service chroot=n), logging to maillog_file through the postlog
// service (there is no syslog), delivering every recipient of any domain with
// virtual(8) into one Maildir (virtual_mailbox_domains = static:all,
// virtual_mailbox_maps = static:Maildir/, uid/gid of nobody), and offering
// STARTTLS (smtpd_tls_security_level = may, smtpd_tls_received_header = yes)
// with a self-signed certificate for Hostname. It runs as "postfix -c DIR
// start-fg" in its own PID namespace (see StartPostfix), so that stopping it,
// or the test process dying, leaves no Postfix process behind.
type Postfix struct {
	dir     string // instance root
	confDir string
	maildir string
	logFile string
	addr    string
	lock    *portLock
	d       *daemon
	out     *LockedBuffer // master's stdout and stderr

	stopOnce sync.Once
}

// postfixMasterCf is master.cf for an instance: the services of Debian's
// master.cf that a private instance needs, every one with chroot = n, the smtp
// listener on 127.0.0.1:PORT and the postlog service that maillog_file needs.
const postfixMasterCf = `# master.cf written by sealtag/internal/mtatest
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:%d inet n     -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// StartPostfix starts a private Postfix instance and registers its Stop (and,
// if the test failed, a dump of its log) with t.Cleanup. It skips the test —
// or fails it under SEALTAG_REQUIRE_PEERS=1 — when Postfix is not installed
// or the test does not run as root.
func StartPostfix(t testing.TB, opts PostfixOptions) *Postfix {
	t.Helper()
	for _, p := range []string{postfixCmd, postqueueCmd, filepath.Join(postfixDaemonDir, "master")} {
		if _, err := os.Stat(p); err != nil {
			MissingPeer(t, "Postfix ("+p+")", "run scripts/test-deps.sh (apt-get install postfix, with debconf main_mailer_type 'No configuration')")
		}
	}
	requireRoot(t, "Postfix")
	action, err := normalizeAction(opts.DefaultAction)
	if err != nil {
		t.Fatalf("mtatest: StartPostfix: %v", err)
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("mtatest: StartPostfix: %v", err)
	}
	pf, err := user.Lookup("postfix")
	if err != nil {
		MissingPeer(t, "user postfix", "run scripts/test-deps.sh (apt-get install postfix)")
	}
	pfUID, _ := strconv.Atoi(pf.Uid)
	pfGID, _ := strconv.Atoi(pf.Gid)

	p := &Postfix{dir: privateDir(t, "postfix"), out: &LockedBuffer{}}
	p.confDir = filepath.Join(p.dir, "etc")
	p.maildir = filepath.Join(p.dir, "mail", "Maildir")
	p.logFile = filepath.Join(p.dir, "maillog")
	queueDir := filepath.Join(p.dir, "spool")
	dataDir := filepath.Join(p.dir, "data")
	mailBase := filepath.Join(p.dir, "mail")

	for _, d := range []string{p.confDir, queueDir, dataDir, mailBase} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("mtatest: %v", err)
		}
	}
	if err := makeQueueDirs(queueDir, pfUID, postdropGID(t)); err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	// data_directory belongs to mail_owner; the virtual_mailbox_base must be
	// writable by virtual_uid_maps' user, which creates the Maildir.
	nobodyUID, _ := strconv.Atoi(nobody.Uid)
	nobodyGID, _ := strconv.Atoi(nobody.Gid)
	if err := os.Chown(dataDir, pfUID, pfGID); err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	if err := os.Chown(mailBase, nobodyUID, nobodyGID); err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	certFile, keyFile, err := writeCert(p.confDir)
	if err != nil {
		t.Fatalf("mtatest: certificate: %v", err)
	}
	token := randomToken(6)

	mainCf := map[string]string{
		"compatibility_level":              "3.6",
		"config_directory":                 p.confDir,
		"queue_directory":                  queueDir,
		"data_directory":                   dataDir,
		"daemon_directory":                 postfixDaemonDir,
		"command_directory":                "/usr/sbin",
		"mail_owner":                       "postfix",
		"setgid_group":                     "postdrop",
		"myhostname":                       Hostname,
		"mydomain":                         "sealtag.test",
		"myorigin":                         "$myhostname",
		"mydestination":                    "",
		"inet_interfaces":                  "127.0.0.1",
		"inet_protocols":                   "ipv4",
		"mynetworks":                       "127.0.0.0/8",
		"smtpd_banner":                     "$myhostname ESMTP sealtag-mtatest-" + token,
		"smtpd_relay_restrictions":         "permit_mynetworks, reject_unauth_destination",
		"smtpd_peername_lookup":            "no",
		"smtpd_error_sleep_time":           "0",
		"smtpd_soft_error_limit":           "100",
		"smtpd_hard_error_limit":           "200",
		"in_flow_delay":                    "0",
		"alias_maps":                       "",
		"alias_database":                   "",
		"local_recipient_maps":             "",
		"biff":                             "no",
		"append_dot_mydomain":              "no",
		"relayhost":                        "",
		"disable_dns_lookups":              "yes",
		"smtp_dns_support_level":           "disabled",
		"virtual_mailbox_domains":          "static:all",
		"virtual_mailbox_base":             mailBase,
		"virtual_mailbox_maps":             "static:Maildir/",
		"virtual_uid_maps":                 "static:" + nobody.Uid,
		"virtual_gid_maps":                 "static:" + nobody.Gid,
		"virtual_minimum_uid":              "1",
		"maillog_file":                     p.logFile,
		"maillog_file_prefixes":            p.dir,
		"smtpd_tls_security_level":         "may",
		"smtpd_tls_cert_file":              certFile,
		"smtpd_tls_key_file":               keyFile,
		"smtpd_tls_received_header":        "yes",
		"smtpd_tls_loglevel":               "1",
		"smtp_tls_security_level":          "none",
		"milter_default_action":            action,
		"milter_connect_timeout":           "10s",
		"milter_command_timeout":           "30s",
		"milter_content_timeout":           "60s",
		"delay_warning_time":               "0",
		"maximal_queue_lifetime":           "1h",
		"bounce_queue_lifetime":            "1h",
		"queue_run_delay":                  "300s",
		"minimal_backoff_time":             "300s",
		"smtputf8_enable":                  "yes",
		"shlib_directory":                  "/usr/lib/postfix",
		"manpage_directory":                "/usr/share/man",
		"notify_classes":                   "resource, software",
		"smtpd_client_restrictions":        "",
		"smtpd_sender_restrictions":        "",
		"smtpd_helo_restrictions":          "",
		"smtpd_data_restrictions":          "",
		"smtpd_recipient_limit":            "1000",
		"message_size_limit":               "52428800",
		"virtual_mailbox_limit":            "0",
		"mailbox_size_limit":               "0",
		"smtpd_tls_session_cache_database": "",
	}
	if opts.Milter != "" {
		mainCf["smtpd_milters"] = opts.Milter
	}
	maps.Copy(mainCf, opts.Extra)
	var buf bytes.Buffer
	buf.WriteString("# main.cf written by sealtag/internal/mtatest\n")
	for _, k := range slices.Sorted(maps.Keys(mainCf)) {
		fmt.Fprintf(&buf, "%s = %s\n", k, mainCf[k])
	}
	if err := os.WriteFile(filepath.Join(p.confDir, "main.cf"), buf.Bytes(), 0o644); err != nil {
		t.Fatalf("mtatest: %v", err)
	}

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mtatest: postfix log (%s):\n%s", p.logFile, tail(p.Log(), 200))
		}
		p.Stop()
	})

	// Choose a port and start; if the port was taken between the check and
	// master's bind (another program, not another harness: those hold a lock),
	// master fails and we try another.
	var avoid []int
	for attempt := 1; ; attempt++ {
		lock, err := reservePort(avoid)
		if err != nil {
			t.Fatalf("mtatest: StartPostfix: %v", err)
		}
		if err := os.WriteFile(filepath.Join(p.confDir, "master.cf"), fmt.Appendf(nil, postfixMasterCf, lock.port), 0o644); err != nil {
			lock.release()
			t.Fatalf("mtatest: %v", err)
		}
		// The quick-start file skips postfix-script's check-fatal and
		// check-warn, which fork about a hundred processes (post-install
		// create-missing, find …) and cost 2-3 s; makeQueueDirs did their
		// work already.
		if err := os.WriteFile(filepath.Join(queueDir, "quick-start"), nil, 0o644); err != nil {
			lock.release()
			t.Fatalf("mtatest: %v", err)
		}
		// Postfix rereads a table file modified in the last second every
		// 300 ms until it is older ("pausing to let … finish update"):
		// 1.8 s per fresh main.cf for every postfix command. Backdate both.
		old := time.Now().Add(-time.Hour)
		for _, f := range []string{"main.cf", "master.cf"} {
			os.Chtimes(filepath.Join(p.confDir, f), old, old)
		}
		// postfix start-fg keeps master in the foreground, inside the
		// instance's PID namespace (see daemon).
		p.out.Reset()
		d, err := startDaemon(p.dir, os.Environ(), p.out, nil, postfixCmd+" -c "+p.confDir+" start-fg")
		if err == nil {
			err = d.waitListening(lock.port, 30*time.Second, p.Log)
		}
		if err == nil {
			p.d = d
			p.lock = lock
			p.addr = fmt.Sprintf("127.0.0.1:%d", lock.port)
			break
		}
		d.kill()
		lock.release()
		if attempt < 3 && errors.Is(err, errPortInUse) {
			avoid = append(avoid, lock.port)
			os.Remove(p.logFile)
			continue
		}
		t.Fatalf("mtatest: postfix -c %s start-fg: %v\n--- log ---\n%s", p.confDir, err, tail(p.Log(), 60))
	}
	return p
}

// Name returns "postfix".
func (p *Postfix) Name() string { return string(KindPostfix) }

// SMTPAddr returns the instance's SMTP address, "127.0.0.1:PORT".
func (p *Postfix) SMTPAddr() string { return p.addr }

// Dir returns the instance's root directory (etc/ holds main.cf and
// master.cf, spool/ the queue, mail/Maildir the deliveries).
func (p *Postfix) Dir() string { return p.dir }

// ConfigDir returns config_directory, for postconf -c or postqueue -c.
func (p *Postfix) ConfigDir() string { return p.confDir }

// Maildir returns the Maildir every accepted message is delivered into (it
// appears with the first delivery).
func (p *Postfix) Maildir() string { return p.maildir }

// Deliveries returns the messages delivered so far, oldest first.
func (p *Postfix) Deliveries(t testing.TB) []Delivered {
	t.Helper()
	ds, err := readMaildir(p.maildir)
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	return ds
}

// WaitDelivered waits until at least n messages (one file per recipient) are
// in the Maildir and returns all of them, oldest first. It fails the test,
// with the mail log, when timeout passes first.
func (p *Postfix) WaitDelivered(t testing.TB, n int, timeout time.Duration) []Delivered {
	t.Helper()
	return waitMaildir(t, "postfix", p.maildir, n, timeout, p.Log)
}

// Queued returns every message in the queue, from postqueue -j.
func (p *Postfix) Queued(t testing.TB) []QueueEntry {
	t.Helper()
	out, err := exec.Command(postqueueCmd, "-c", p.confDir, "-j").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("mtatest: postqueue -c %s -j: %v\n%s", p.confDir, err, stderr)
	}
	var entries []QueueEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var j struct {
			QueueName  string `json:"queue_name"`
			QueueID    string `json:"queue_id"`
			Sender     string `json:"sender"`
			Recipients []struct {
				Address string `json:"address"`
			} `json:"recipients"`
		}
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("mtatest: postqueue -j: %v: %q", err, sc.Text())
		}
		e := QueueEntry{Queue: j.QueueName, QueueID: j.QueueID, Sender: j.Sender}
		for _, r := range j.Recipients {
			e.Recipients = append(e.Recipients, r.Address)
		}
		entries = append(entries, e)
	}
	return entries
}

// HoldQueue returns the messages in the hold queue (a milter's quarantine
// puts them there).
func (p *Postfix) HoldQueue(t testing.TB) []QueueEntry {
	t.Helper()
	var held []QueueEntry
	for _, e := range p.Queued(t) {
		if e.Queue == "hold" {
			held = append(held, e)
		}
	}
	return held
}

// Log returns the content of the instance's maillog_file so far (postlogd
// writes it asynchronously: a line may appear a moment after the event).
func (p *Postfix) Log() string {
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		b = fmt.Appendf(nil, "(no postfix log: %v)\n", err)
	}
	if out := p.out.String(); out != "" {
		b = fmt.Appendf(b, "--- postfix stdout/stderr ---\n%s", out)
	}
	return string(b)
}

// WaitLog waits until the log contains substr and fails the test after
// timeout; it returns the log.
func (p *Postfix) WaitLog(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	return waitLog(t, "postfix", p.Log, substr, timeout)
}

// Stop stops the instance (postfix stop, then SIGKILL to master if it lingers)
// and frees its port. The directory is removed by the cleanup StartPostfix
// registered. Stop is safe to call more than once.
func (p *Postfix) Stop() {
	p.stopOnce.Do(func() {
		p.d.kill()
		p.lock.release()
	})
}

// waitLog polls logf until it contains substr.
func waitLog(t testing.TB, what string, logf func() string, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l := logf()
		if strings.Contains(l, substr) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("mtatest: %s log has no %q after %v:\n%s", what, substr, timeout, tail(l, 60))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// postfixQueueDirs are the queue subdirectories of Postfix 3.7's
// postfix-files: name, owned by mail_owner (else root), group setgid_group,
// mode.
var postfixQueueDirs = []struct {
	name     string
	owner    bool
	postdrop bool
	mode     os.FileMode
}{
	{"active", true, false, 0o700},
	{"bounce", true, false, 0o700},
	{"corrupt", true, false, 0o700},
	{"defer", true, false, 0o700},
	{"deferred", true, false, 0o700},
	{"flush", true, false, 0o700},
	{"hold", true, false, 0o700},
	{"incoming", true, false, 0o700},
	{"private", true, false, 0o700},
	{"maildrop", true, true, 0o730},
	{"public", true, true, 0o710},
	{"pid", false, false, 0o755},
	{"saved", true, false, 0o700},
	{"trace", true, false, 0o700},
}

// makeQueueDirs creates the queue subdirectories as post-install
// create-missing would.
func makeQueueDirs(queueDir string, ownerUID, postdropGID int) error {
	for _, d := range postfixQueueDirs {
		path := filepath.Join(queueDir, d.name)
		if err := os.Mkdir(path, d.mode); err != nil {
			return err
		}
		uid, gid := 0, 0
		if d.owner {
			uid = ownerUID
		}
		if d.postdrop {
			gid = postdropGID
		}
		if err := os.Chown(path, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(path, d.mode); err != nil { // Mkdir applies the umask
			return err
		}
	}
	return nil
}

// postdropGID looks up group postdrop (setgid_group).
func postdropGID(t testing.TB) int {
	t.Helper()
	g, err := user.LookupGroup("postdrop")
	if err != nil {
		MissingPeer(t, "group postdrop", "run scripts/test-deps.sh (apt-get install postfix)")
	}
	gid, _ := strconv.Atoi(g.Gid)
	return gid
}
