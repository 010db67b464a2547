package milter

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"sealtag/internal/mtatest"
	"sealtag/policy"
)

// BenchmarkSession replays messages through the whole milter session —
// go-milter's client on one side, sealtag on the other, over a unix socket,
// one connection, an abort between messages as Postfix sends — to profile
// what sealtag adds to the protocol floor. The messages come from
// $SEALTAG_LOAD_CORPUS (testdata/load/gen.sh makes one) or testdata/messages.
func BenchmarkSession(b *testing.B) {
	b.Run("sealtag", func(b *testing.B) { benchSession(b, false) })
	b.Run("noop", func(b *testing.B) { benchSession(b, true) })
}

// benchSession runs the replay against sealtag, or against go-milter's
// no-op milter (the protocol floor) with noop.
func benchSession(b *testing.B, noop bool) {
	dir := os.Getenv("SEALTAG_LOAD_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "messages")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	type msg struct {
		headers [][2]string
		body    []byte
	}
	var msgs []msg
	var total int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil || len(raw) > 8<<20 {
			continue
		}
		s := strings.ReplaceAll(string(raw), "\r\n", "\n")
		head, body, _ := strings.Cut(s, "\n\n")
		var m msg
		for _, line := range strings.Split(strings.ReplaceAll(head, "\n\t", "\n "), "\n") {
			if strings.HasPrefix(line, " ") && len(m.headers) > 0 {
				m.headers[len(m.headers)-1][1] += "\n" + line
				continue
			}
			name, value, _ := strings.Cut(line, ":")
			m.headers = append(m.headers, [2]string{name, strings.TrimPrefix(value, " ")})
		}
		m.body = []byte(strings.ReplaceAll(body, "\n", "\r\n"))
		msgs = append(msgs, m)
		total += int64(len(raw))
	}
	if len(msgs) == 0 {
		b.Skip("no messages")
	}
	cfg, err := policy.Load(filepath.Join("..", "testdata", "sealtag.example.toml"))
	if err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(b.TempDir(), "b.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	if noop {
		floor := &gomilter.Server{
			NewMilter: func() gomilter.Milter { return gomilter.NoOpMilter{} },
			Protocol:  gomilter.OptNoUnknown | gomilter.OptNoData,
		}
		go floor.Serve(ln)
	} else {
		srv := NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		go srv.Serve(ln)
	}
	s := mtatest.MilterSession(b, sock, 30*time.Second)
	defer s.Close()
	s.Macros(gomilter.CodeConn, "j", "mx.example.org", "{daemon_name}", "smtpd")
	s.Conn("client.example", gomilter.FamilyInet, 40000, "192.0.2.1")
	s.Macros(gomilter.CodeHelo, "{tls_version}", "TLSv1.3", "{cipher}", "TLS_AES_256_GCM_SHA384", "{cipher_bits}", "256")
	s.Helo("client.example")
	b.SetBytes(total / int64(len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		s.Macros(gomilter.CodeMail, "i", "4XyZ1", "{tls_version}", "TLSv1.3")
		s.Mail("<alice@example.org>", nil)
		s.Rcpt("<support@example.com>", nil)
		for _, h := range m.headers {
			s.HeaderField(h[0], h[1])
		}
		s.HeaderEnd()
		for body := m.body; len(body) > 0; {
			k := min(len(body), gomilter.MaxBodyChunk)
			s.BodyChunk(body[:k])
			body = body[k:]
		}
		if _, _, err := s.End(); err != nil {
			b.Fatal(err)
		}
		s.Abort()
	}
}
