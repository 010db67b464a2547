package inspect

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOwnTestdata checks the project's generated messages against the
// hand-decided expectations in testdata/messages/EXPECT.tsv: the first
// tokens of the encryption, relay and thread headers and the scope. The
// full header output of each is compared with its .golden file by the
// command's tests (main_test.go).
func TestOwnTestdata(t *testing.T) {
	dir := filepath.Join("..", "testdata", "messages")
	f, err := os.Open(filepath.Join(dir, "EXPECT.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	seen := map[string]bool{}
	classes := map[Class]bool{}
	for n := 0; sc.Scan(); n++ {
		if n == 0 || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 5 {
			t.Fatalf("EXPECT.tsv line %d: %d columns", n+1, len(c))
		}
		file, enc, scope, relay, thread := c[0], c[1], c[2], c[3], c[4]
		seen[file] = true
		t.Run(file, func(t *testing.T) {
			res := classifyFile(t, filepath.Join(dir, file), "")
			classes[res.Encryption.Class] = true
			if got := string(res.Encryption.Class); got != enc {
				t.Errorf("encryption = %q, want %q; findings %+v", got, enc, res.Encryption.Findings)
			}
			if scope != "-" && string(res.Encryption.Scope) != scope {
				t.Errorf("scope = %q, want %q", res.Encryption.Scope, scope)
			}
			if res.Relay.Provider != relay {
				t.Errorf("relay = %q, want %q", res.Relay.Value(), relay)
			}
			if res.Thread.State != thread {
				t.Errorf("thread = %q, want %q", res.Thread.Value(), thread)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	emls, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	for _, e := range emls {
		if !seen[filepath.Base(e)] {
			t.Errorf("%s has no row in EXPECT.tsv", filepath.Base(e))
		}
	}
	// The project's own testdata must cover every class on its own, for
	// clones without the shared corpus.
	for _, c := range Classes() {
		if !classes[c] {
			t.Errorf("no test message is classified %s", c)
		}
	}
}
