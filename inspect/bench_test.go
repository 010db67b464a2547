package inspect

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkClassifyCorpus classifies every sample message (the project's
// testdata and, when present, the public corpus; or the load corpus of
// testdata/load/gen.sh in $SEALTAG_LOAD_CORPUS) in 64 KiB pieces, as the
// milter receives them, with one reused Scanner. MB/s is over the message
// bytes.
func BenchmarkClassifyCorpus(b *testing.B) {
	var msgs [][]byte
	var total int64
	files := sampleMessages(b)
	if dir := os.Getenv("SEALTAG_LOAD_CORPUS"); dir != "" {
		files, _ = filepath.Glob(filepath.Join(dir, "*.eml"))
	}
	for _, f := range files {
		m, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, m)
		total += int64(len(m))
	}
	if len(msgs) == 0 {
		b.Skip("no sample messages")
	}
	b.SetBytes(total)
	b.ReportAllocs()
	s := NewScanner(Options{Providers: DefaultProviders()})
	for b.Loop() {
		for _, m := range msgs {
			classifyChunked(s, m)
		}
	}
	b.ReportMetric(float64(len(msgs)), "msgs/op")
}

// BenchmarkClassifyAttachment classifies a message with a 2 MiB base64
// attachment of the given kind: one that needs only its first bytes
// (random data) and one that must be read to the end (PDF).
func BenchmarkClassifyAttachment(b *testing.B) {
	for _, kind := range []struct{ name, ctype, head string }{
		{"octet-stream", "application/octet-stream", ""},
		{"pdf", "application/pdf", "%PDF-1.7\n"},
		{"zip", "application/zip", "PK\x03\x04\x14\x00\x00\x00"},
	} {
		payload := make([]byte, 2<<20)
		rand.Read(payload)
		copy(payload, kind.head)
		var m bytes.Buffer
		m.WriteString("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n")
		m.WriteString("Content-Type: " + kind.ctype + "\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(payload)
		for len(enc) > 76 {
			m.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		m.WriteString(enc + "\r\n--b--\r\n")
		msg := m.Bytes()
		b.Run(kind.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			s := NewScanner(Options{Providers: DefaultProviders()})
			for b.Loop() {
				classifyChunked(s, msg)
			}
		})
	}
}

// classifyChunked classifies msg with s, written in the 65535-byte chunks
// an MTA sends a milter the body in.
func classifyChunked(s *Scanner, msg []byte) {
	s.Reset()
	for rest := msg; len(rest) > 0; {
		k := min(len(rest), 65535)
		s.Write(rest[:k])
		rest = rest[k:]
	}
	s.Finish(Envelope{})
}
