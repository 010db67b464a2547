package inspect

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleMessages returns the project's own test messages and, when present,
// the shared public corpus.
func sampleMessages(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "messages", "*.eml"))
	dir := os.Getenv("SEALTAG_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus", "public")
	}
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*.eml"))
	return append(files, more...)
}

// classifyChunks feeds msg in pieces of n bytes.
func classifyChunks(msg []byte, n int) Result {
	s := NewScanner(Options{})
	for len(msg) > 0 {
		k := min(n, len(msg))
		s.Write(msg[:k])
		msg = msg[k:]
	}
	return s.Finish(Envelope{From: s.ReturnPath()})
}

// TestStreamingInvariance: the verdict must not depend on how the message
// is cut into pieces (the milter gets 64 KiB chunks, a pipe gives 4 KiB).
func TestStreamingInvariance(t *testing.T) {
	files := sampleMessages(t)
	if len(files) == 0 {
		t.Skip("no sample messages")
	}
	for _, f := range files {
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		whole := classifyChunks(msg, len(msg)+1)
		for _, n := range []int{1, 3, 77, 4096} {
			if got := classifyChunks(msg, n); !reflect.DeepEqual(got, whole) {
				t.Errorf("%s: in %d-byte pieces: %+v\nwhole: %+v", f, n, got.Encryption, whole.Encryption)
			}
		}
	}
}

// TestScannerReuse: Reset must leave nothing of the previous message behind.
func TestScannerReuse(t *testing.T) {
	files := sampleMessages(t)
	if len(files) < 2 {
		t.Skip("no sample messages")
	}
	s := NewScanner(Options{})
	for _, f := range files {
		msg, _ := os.ReadFile(f)
		s.Reset()
		s.Write(msg)
		got := s.Finish(Envelope{From: s.ReturnPath()})
		if want := classifyChunks(msg, len(msg)+1); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: reused scanner says %+v, a new one %+v", f, got.Encryption, want.Encryption)
		}
	}
}

// TestBounds: past the depth and part bounds the walk stops, keeps what it
// found and says partial=yes.
func TestBounds(t *testing.T) {
	deep := func(levels int, inner string) []byte {
		var b bytes.Buffer
		b.WriteString("From: a@example.org\r\nSubject: deep\r\n")
		for i := 0; i < levels; i++ {
			b.WriteString("Content-Type: message/rfc822\r\n\r\n")
		}
		b.WriteString(inner)
		return b.Bytes()
	}
	enc := "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\r\n"
	r := classifyChunks(deep(5, enc), 1<<20)
	if r.Encryption.Value() != "smime-encrypted; scope=nested" {
		t.Errorf("5 levels: %q", r.Encryption.Value())
	}
	r = classifyChunks(deep(100, enc), 1<<20)
	if r.Encryption.Value() != "none; partial=yes" {
		t.Errorf("100 levels: %q, want none; partial=yes", r.Encryption.Value())
	}

	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := 0; i < 3000; i++ {
		b.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	b.WriteString("--b\r\n" + enc + "--b--\r\n")
	r = classifyChunks(b.Bytes(), 1<<20)
	if !r.Encryption.Partial {
		t.Errorf("3000 parts: partial not set: %q", r.Encryption.Value())
	}

	// A 5 000-deep multipart: bounded stack, no recursion.
	b.Reset()
	for i := 0; i < 5000; i++ {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + strings.Repeat("x", i%50) + "\r\n\r\n--b" + strings.Repeat("x", i%50) + "\r\n")
	}
	r = classifyChunks(b.Bytes(), 1<<20)
	if !r.Encryption.Partial || r.Encryption.Class != ClassNone {
		t.Errorf("5000-deep multipart: %q", r.Encryption.Value())
	}
}
