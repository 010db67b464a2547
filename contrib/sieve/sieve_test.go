// Package sieve holds the Sieve script of contrib/ and its test: the script
// is compiled with Dovecot Pigeonhole's sievec and run with sieve-test over
// messages that carry the headers sealtag writes.
package sieve

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sealtag/inspect"
	"sealtag/internal/mtatest"
)

// tagged returns a test message with the X-Sealtag-* headers sealtag adds.
func tagged(t *testing.T, name string) []byte {
	t.Helper()
	msg, err := os.ReadFile(filepath.Join("..", "..", "testdata", "messages", name))
	if err != nil {
		t.Fatal(err)
	}
	s := inspect.NewScanner(inspect.Options{})
	s.Write(msg)
	res := s.Finish(inspect.Envelope{From: s.ReturnPath(), TLS: inspect.TLS{Version: "none"}})
	var head strings.Builder
	for _, f := range res.Fields(inspect.DefaultPrefix) {
		head.WriteString(f.Name + ": " + f.Value + "\n")
	}
	head.WriteString("X-Sealtag-Policy: accept; rule=default\n")
	return append([]byte(head.String()), msg...)
}

func TestSieveScript(t *testing.T) {
	sievec := mtatest.RequireTool(t, "sievec", "dovecot-sieve")
	sieveTest := mtatest.RequireTool(t, "sieve-test", "dovecot-sieve")
	// sieve-test drops to an unprivileged user: give it a directory it can
	// reach (t.TempDir's parent is 0700)
	dir, err := os.MkdirTemp("", "sealtag-sieve-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	script := filepath.Join(dir, "sealtag.sieve")
	b, err := os.ReadFile("sealtag.sieve")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(script, b, 0o644)
	if out, err := exec.Command(sievec, script, filepath.Join(dir, "sealtag.svbin")).CombinedOutput(); err != nil {
		t.Fatalf("sievec: %v\n%s", err, out)
	}
	os.Chmod(filepath.Join(dir, "sealtag.svbin"), 0o644)
	cases := []struct{ message, want, notWant string }{
		{"smime-encrypted-openssl-cms.eml", "store message in folder: Encrypted", ""},
		{"pgp-inline-encrypted-7bit.eml", "store message in folder: Encrypted", ""},
		{"encrypted-attachment-pdf-aes-256.eml", "store message in folder: Encrypted", ""},
		{"relay-firefox-premium.eml", "store message in folder: Private relay", "Encrypted"},
		{"thread-broken-firefox-relay.eml", "$BrokenThread", "Encrypted"},
		{"pgp-signed-detached.eml", "Implicit keep:\n\n * store message in folder: INBOX", "Encrypted"},
		{"neg-plain.eml", "Implicit keep:\n\n * store message in folder: INBOX", "Private relay"},
	}
	for _, c := range cases {
		t.Run(c.message, func(t *testing.T) {
			msgFile := filepath.Join(dir, c.message)
			os.WriteFile(msgFile, tagged(t, c.message), 0o644)
			cmd := exec.Command(sieveTest, "-o", "mail_uid=65534", "-o", "mail_gid=65534", "-o", "first_valid_uid=0", script, msgFile)
			cmd.Env = append(os.Environ(), "HOME="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("sieve-test: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), c.want) || (c.notWant != "" && strings.Contains(string(out), c.notWant)) {
				t.Errorf("sieve-test %s: want %q (and not %q):\n%s", c.message, c.want, c.notWant, out)
			}
		})
	}
}
