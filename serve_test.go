package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"sealtag/internal/mtatest"
)

// TestMain lets the test binary stand in for sealtag itself: with
// SEALTAG_BE_MAIN=1 it runs the command line and exits, so serve can be
// tested as a process (signals, exit status) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("SEALTAG_BE_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// daemon is `sealtag serve` running as a child process.
type daemon struct {
	cmd    *exec.Cmd
	stderr *mtatest.LockedBuffer
	sock   string
	conf   string
	exited chan error
}

func startDaemon(t *testing.T, conf string) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{sock: filepath.Join(dir, "s.sock"), conf: filepath.Join(dir, "sealtag.toml"), stderr: &mtatest.LockedBuffer{}, exited: make(chan error, 1)}
	d.writeConfig(t, conf)
	d.cmd = exec.Command(os.Args[0], "serve", "-config", d.conf)
	d.cmd.Env = append(os.Environ(), "SEALTAG_BE_MAIN=1")
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("sealtag stderr:\n%s", d.stderr)
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", d.sock); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatalf("sealtag did not start:\n%s", d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d
}

func (d *daemon) writeConfig(t *testing.T, conf string) {
	t.Helper()
	if err := os.WriteFile(d.conf, []byte("listen = \"unix:"+d.sock+"\"\nsocket_mode = \"0600\"\nshutdown_timeout = \"5s\"\n"+conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits for a text in the daemon's stderr.
func (d *daemon) waitLog(t *testing.T, text string) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if strings.Contains(d.stderr.String(), text) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("sealtag never logged %q:\n%s", text, d.stderr)
}

// session opens a milter session up to the end of the header of a message.
func (d *daemon) session(t *testing.T) *gomilter.ClientSession {
	t.Helper()
	s := mtatest.MilterSession(t, d.sock, 10*time.Second)
	s.Macros(gomilter.CodeConn, "j", "mx")
	s.Conn("h", gomilter.FamilyInet, 1, "192.0.2.1")
	s.Helo("h")
	return s
}

// policyOf runs one message and returns its X-Sealtag-Policy value.
func policyOf(t *testing.T, s *gomilter.ClientSession) string {
	t.Helper()
	if _, err := s.Mail("<a@example.org>", nil); err != nil {
		t.Fatal(err)
	}
	s.Rcpt("<support@example.com>", nil)
	s.HeaderField("Subject", "hi")
	s.HeaderEnd()
	s.BodyChunk([]byte("hello\r\n"))
	mods, act, err := s.End()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if m.Code == gomilter.ActAddHeader && m.HeaderName == "X-Sealtag-Policy" {
			return m.HeaderValue
		}
	}
	return "(none, action " + string(rune(act.Code)) + ")"
}

const catchAll = "[[policy.rules]]\nname = \"everything\"\naction = \"accept\"\n"

func TestServeReload(t *testing.T) {
	d := startDaemon(t, "")
	s := d.session(t)
	defer s.Close()
	if got := policyOf(t, s); got != "accept; rule=default" {
		t.Fatalf("before reload: %q", got)
	}

	// A broken file: refused whole, every problem logged, the old one stays.
	d.writeConfig(t, "[policy]\nmode = \"monitr\"\n[[policy.rules]]\nname = \"x\"\naction = \"rejct\"\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "reload refused")
	d.waitLog(t, "sealtag.toml:5: policy.mode")
	d.waitLog(t, "sealtag.toml:8: rule")
	if got := policyOf(t, s); got != "accept; rule=default" {
		t.Errorf("after a broken reload: %q, want the old configuration", got)
	}

	// A good file takes effect for the next message.
	d.writeConfig(t, "[policy]\nmode = \"monitor\"\n"+catchAll)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "configuration reloaded")
	if got := policyOf(t, s); got != "accept; rule=everything; mode=monitor" {
		t.Errorf("after reload: %q", got)
	}
}

func TestServeTermWaitsForMessagesInFlight(t *testing.T) {
	d := startDaemon(t, "")
	idle := d.session(t) // connected, no message: closed at once on SIGTERM
	defer idle.Close()
	s := d.session(t)
	defer s.Close()
	s.Mail("<a@example.org>", nil)
	s.Rcpt("<b@example.org>", nil)
	s.HeaderField("Subject", "in flight")
	s.HeaderEnd()

	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitLog(t, "shutting down")
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-d.exited:
		t.Fatalf("sealtag exited with a message in flight: %v", err)
	default:
	}
	// the message in flight finishes normally
	s.BodyChunk([]byte("body\r\n"))
	mods, act, err := s.End()
	if err != nil || act.Code != gomilter.ActContinue || len(mods) == 0 {
		t.Fatalf("message in flight: %v %+v %v", mods, act, err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			t.Errorf("exit: %v, want status 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("sealtag did not exit after the last message")
	}
	if _, err := os.Stat(d.sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	if !strings.Contains(d.stderr.String(), "sealtag stopped") {
		t.Errorf("no stop line:\n%s", d.stderr)
	}
	if os.Geteuid() == 0 && !strings.Contains(d.stderr.String(), "running as root") {
		t.Errorf("running as root without a warning:\n%s", d.stderr)
	}
}

func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sealtag.toml")
	os.WriteFile(conf, []byte("listen = \"tcp:1\"\n"), 0o644)
	code, _, errOut := runCmd(t, "serve", "-config", conf)
	if code != 1 || !strings.Contains(errOut, "sealtag.toml:1: listen") {
		t.Errorf("serve with a broken file: %d %q", code, errOut)
	}
	code, out, errOut := runCmd(t, "check", "-config", conf)
	if code != 1 || out != "" || !strings.Contains(errOut, "sealtag.toml:1:") {
		t.Errorf("check with a broken file: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "check", "-config", filepath.Join("testdata", "sealtag.example.toml"))
	if code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("check of the example: %d %q", code, out)
	}
}

func TestServeMetrics(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(mtatest.FreePort(t))
	d := startDaemon(t, "metrics_listen = \""+addr+"\"\n")
	s := d.session(t)
	policyOf(t, s)
	s.Close()
	d.writeConfig(t, "metrics_listen = \""+addr+"\"\n[policy]\nmode = \"bogus\"\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "reload refused")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`sealtag_messages_total{action="accept",decided="accept",mode="enforce",rule="default"} 1`,
		`sealtag_config_reloads_total{result="refused"} 1`,
		`sealtag_build_info{version="dev"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
