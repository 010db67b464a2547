package inspect

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir finds the shared public corpus beside the clone (CI puts it at
// ../shared/corpus/public), or where SEALTAG_CORPUS points.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SEALTAG_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus", "public")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		t.Skipf("public corpus not found at %s (set SEALTAG_CORPUS); the project's own testdata still covers every class", dir)
	}
	return dir
}

// manifestRow is one line of the corpus MANIFEST.tsv.
type manifestRow struct {
	file, category, encryption, notes, relay string
}

func readManifest(t testing.TB, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var cols map[string]int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range fields {
				cols[c] = i
			}
			continue
		}
		get := func(name string) string {
			if i, ok := cols[name]; ok && i < len(fields) {
				return fields[i]
			}
			return "-"
		}
		rows = append(rows, manifestRow{get("file"), get("category"), get("expected_encryption"), get("notes"), get("expected_relay")})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// nestedRows are the corpus messages whose class sits inside an enclosed
// message/rfc822 (their notes say so); every other classified row is outer.
var nestedRows = map[string]bool{
	"pgpmime-encrypted/kde-mimetreeparser__forward-openpgp-signed-encrypted.eml": true,
}

// TestPublicCorpus checks every row of the shared corpus whose expectation
// is decided: the first token of X-Sealtag-Encryption, its scope, and the
// relay token where given.
func TestPublicCorpus(t *testing.T) {
	dir := corpusDir(t)
	rows := readManifest(t, dir)
	if len(rows) < 100 {
		t.Fatalf("MANIFEST.tsv has %d rows, want the full corpus", len(rows))
	}
	for _, row := range rows {
		t.Run(row.file, func(t *testing.T) {
			res := classifyFile(t, filepath.Join(dir, row.file), "")
			if row.encryption != "unknown" && row.encryption != "-" {
				if got := string(res.Encryption.Class); got != row.encryption {
					t.Errorf("encryption = %q, want %q (%s)\nfindings: %+v", got, row.encryption, row.notes, res.Encryption.Findings)
				}
				if row.encryption != "none" {
					want := ScopeOuter
					if nestedRows[row.file] {
						want = ScopeNested
					}
					if res.Encryption.Scope != want {
						t.Errorf("scope = %q, want %q", res.Encryption.Scope, want)
					}
				}
			}
			if row.relay != "-" && row.relay != "" {
				if res.Relay.Provider != row.relay {
					t.Errorf("relay = %q, want %q", res.Relay.Provider, row.relay)
				}
			}
		})
	}
}

// classifyFile runs the scanner over a file as `sealtag classify` does:
// the envelope sender is from, else the message's Return-Path.
func classifyFile(t testing.TB, path, from string) Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewScanner(Options{})
	s.Write(b)
	if from == "" {
		from = s.ReturnPath()
	}
	return s.Finish(Envelope{From: from})
}
