package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files from the current output")

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
		code, out, errOut := runCmd(t, "classify", f)
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
	code, out, _ := runCmd(t, "classify", "-tls-version", "TLSv1.3", "-tls-cipher", "TLS_AES_256_GCM_SHA384", "-tls-bits", "256", msg)
	if code != 0 || !strings.Contains(out, "X-Sealtag-TLS: TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256\n") {
		t.Errorf("classify -tls-version: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "classify", "-tls-version", "none", msg)
	if code != 0 || !strings.Contains(out, "X-Sealtag-TLS: none\n") {
		t.Errorf("classify -tls-version none: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "classify", "-from", "SRS0=AbCd=XY=example.com=bob@fwd.example.net", msg)
	if code != 0 || !strings.Contains(out, "X-Sealtag-Relay: srs; field=envelope\n") {
		t.Errorf("classify -from: %d\n%s", code, out)
	}
	if !strings.HasSuffix(out, "verdict: accept rule=default\n") {
		t.Errorf("classify: no verdict line last:\n%s", out)
	}
	code, out, _ = runCmd(t, "classify", "-json", msg)
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
