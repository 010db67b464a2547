package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files from the current output")

// defaultsConf is an empty configuration, so that a configuration installed
// on the machine (/etc/sealtag/sealtag.toml) does not change test results.
var defaultsConf = filepath.Join("testdata", "defaults.toml")

// runCmd runs the command line in process and returns its exit status and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestClassifyGolden runs `sealtag classify` over every test message and
// compares the output (the header lines and the verdict) with its .golden
// file; `go test -run TestClassifyGolden -update` rewrites them.
func TestClassifyGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "messages", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test messages: %v", err)
	}
	for _, f := range files {
		golden := strings.TrimSuffix(f, ".eml") + ".golden"
		code, out, errOut := runCmd(t, "classify", "-config", defaultsConf, f)
		if code != 0 {
			t.Errorf("classify %s: exit %d: %s", f, code, errOut)
			continue
		}
		if *update {
			if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Errorf("%s: %v (run go test -run TestClassifyGolden -update)", f, err)
			continue
		}
		if out != string(want) {
			t.Errorf("classify %s:\n%s\nwant (%s):\n%s", f, out, golden, want)
		}
	}
}

func TestClassifyFlags(t *testing.T) {
	msg := filepath.Join("testdata", "messages", "neg-plain.eml")
	code, out, _ := runCmd(t, "classify", "-config", defaultsConf, "-tls-version", "TLSv1.3", "-tls-cipher", "TLS_AES_256_GCM_SHA384", "-tls-bits", "256", msg)
	if code != 0 || !strings.Contains(out, "X-Sealtag-TLS: TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256\n") {
		t.Errorf("classify -tls-version: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "classify", "-config", defaultsConf, "-tls-version", "none", msg)
	if code != 0 || !strings.Contains(out, "X-Sealtag-TLS: none\n") {
		t.Errorf("classify -tls-version none: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "classify", "-config", defaultsConf, "-from", "SRS0=AbCd=XY=example.com=bob@fwd.example.net", msg)
	if code != 0 || !strings.Contains(out, "X-Sealtag-Relay: srs; field=envelope\n") {
		t.Errorf("classify -from: %d\n%s", code, out)
	}
	if !strings.HasSuffix(out, "verdict: accept rule=default\n") {
		t.Errorf("classify: no verdict line last:\n%s", out)
	}
	code, out, _ = runCmd(t, "classify", "-config", defaultsConf, "-json", msg)
	var v struct {
		Headers []struct{ Name, Value string }
		Verdict struct{ Action, Rule string }
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || len(v.Headers) != 5 || v.Verdict.Action != "accept" {
		t.Errorf("classify -json: %d %v\n%s", code, err, out)
	}
	if code, _, _ := runCmd(t, "classify", "/nonexistent.eml"); code != 1 {
		t.Errorf("classify of a missing file: exit %d, want 1", code)
	}
	if code, _, _ := runCmd(t, "bogus"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// TestClassifyArchive surveys a Maildir and an mbox made of test messages.
func TestClassifyArchive(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o755)
	}
	var mbox strings.Builder
	files := []string{"neg-plain.eml", "smime-encrypted-openssl-cms.eml", "pgp-inline-encrypted-7bit.eml", "relay-firefox-premium.eml", "thread-broken-aw.eml"}
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", "messages", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(md, "new", strconv.Itoa(i)+".host"), b, 0o644)
		mbox.WriteString("From sender@example.org Wed Nov 25 10:00:00 2026\n")
		mbox.Write(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
		mbox.WriteString("\n")
	}
	mboxPath := filepath.Join(dir, "support.mbox")
	os.WriteFile(mboxPath, []byte(mbox.String()), 0o644)

	for _, path := range []string{md, mboxPath} {
		code, out, errOut := runCmd(t, "classify", "-v", "-config", filepath.Join("testdata", "sealtag.example.toml"), "-rcpt", "support@example.com", path)
		if code != 0 {
			t.Fatalf("classify %s: %d %s", path, code, errOut)
		}
		table := strings.Join(strings.Fields(out), " ") // column widths vary
		for _, want := range []string{
			"5 messages",
			"no-encrypted-mail-to-support reject 2",
			"broken-relay-threads accept 0",
		} {
			if !strings.Contains(table, want) {
				t.Errorf("classify %s: table lacks %q:\n%s", path, want, out)
			}
		}
		for _, want := range []string{
			"smime-encrypted; scope=outer\tunknown\tnone\tnew\treject rule=no-encrypted-mail-to-support",
			"firefox; field=reply-to; role=reply",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("classify %s: output lacks %q:\n%s", path, want, out)
			}
		}
	}
	code, out, _ := runCmd(t, "classify", "-config", defaultsConf, "-json", mboxPath)
	var v struct {
		Survey struct {
			Messages   int
			Encryption map[string]int
			Rules      []struct {
				Rule  string
				Count int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Survey.Messages != 5 || v.Survey.Encryption["pgp-inline-encrypted"] != 1 {
		t.Errorf("classify -json of an mbox: %d %v %+v", code, err, v)
	}
}

// TestClassifyLeaksNothing: classify's output, also -json and -v, never
// repeats an address a relay hides or message content.
func TestClassifyLeaksNothing(t *testing.T) {
	msg := filepath.Join(t.TempDir(), "m.eml")
	os.WriteFile(msg, []byte("From: No-reply_at_real_person_hidden_example_ab12_cd34@icloud.com\nX-ICLOUD-HME: p=Tk9ORQ; f=real.person@hidden.example\nSubject: Re: SECRET-SUBJECT\n\nCONFIDENTIAL-BODY\n"), 0o644)
	var out strings.Builder
	for _, args := range [][]string{
		{"classify", "-config", defaultsConf, "-from", "SRS0=AbCd=XY=hidden.example=real.person@fwd.example.net", msg},
		{"classify", "-config", defaultsConf, "-json", "-from", "SRS0=AbCd=XY=hidden.example=real.person@fwd.example.net", msg},
		{"classify", "-config", defaultsConf, "-v", "-json", filepath.Dir(msg)},
	} {
		_, o, e := runCmd(t, args...)
		out.WriteString(o + e)
	}
	if !strings.Contains(out.String(), "apple; field=from; role=reply") {
		t.Fatalf("not classified:\n%s", out.String())
	}
	for _, s := range []string{"real.person", "real_person", "hidden.example", "hidden_example", "CONFIDENTIAL-BODY", "SECRET-SUBJECT", "Tk9ORQ"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("classify output carries %q:\n%s", s, out.String())
		}
	}
}
