package milter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"sealtag/policy"
)

// pipeListener hands in-memory connections to a Server.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// dial opens an in-memory MTA connection to the server.
func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

// packet encodes one milter packet: length, command, data.
func packet(code byte, data []byte) []byte {
	b := make([]byte, 5, 5+len(data))
	binary.BigEndian.PutUint32(b, uint32(len(data)+1))
	b[4] = code
	return append(b, data...)
}

func cstrings(s ...string) []byte {
	var b []byte
	for _, x := range s {
		b = append(append(b, x...), 0)
	}
	return b
}

// sessionPackets is a whole, valid milter session for one message, as
// Postfix sends it; the fuzz seeds are built from it.
func sessionPackets(msg string) []byte {
	var b bytes.Buffer
	optneg := make([]byte, 12)
	binary.BigEndian.PutUint32(optneg, 6)
	binary.BigEndian.PutUint32(optneg[4:], 0x1ff)
	binary.BigEndian.PutUint32(optneg[8:], 0x1fffff)
	b.Write(packet('O', optneg))
	b.Write(packet('D', append([]byte{'C'}, cstrings("j", "mx", "{daemon_name}", "smtpd")...)))
	b.Write(packet('C', append(append(cstrings("client.example"), '4', 0x9c, 0x40), cstrings("192.0.2.1")...)))
	b.Write(packet('D', append([]byte{'H'}, cstrings("{tls_version}", "TLSv1.3", "{cipher}", "X")...)))
	b.Write(packet('H', cstrings("client.example")))
	b.Write(packet('D', append([]byte{'M'}, cstrings("i", "Q1")...)))
	b.Write(packet('M', cstrings("<a@example.org>")))
	b.Write(packet('R', cstrings("<support@example.com>")))
	head, body, _ := strings.Cut(msg, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		name, value, _ := strings.Cut(line, ":")
		b.Write(packet('L', cstrings(name, strings.TrimPrefix(value, " "))))
	}
	b.Write(packet('N', nil))
	for rest := []byte(strings.ReplaceAll(body, "\n", "\r\n")); len(rest) > 0; {
		k := min(len(rest), 65535) // as Postfix sends the body
		b.Write(packet('B', rest[:k]))
		rest = rest[k:]
	}
	b.Write(packet('E', nil))
	b.Write(packet('A', nil))
	b.Write(packet('Q', nil))
	return b.Bytes()
}

// FuzzMilterSession drives the server with arbitrary bytes on the MTA side
// of a connection — random packet sequences, commands out of order, lying
// lengths — and checks that every session ends (a reply, or a closed
// connection) without a panic in sealtag's code and that the server keeps
// serving.
func FuzzMilterSession(f *testing.F) {
	f.Add(sessionPackets(plainMsg))
	f.Add(sessionPackets("X-Sealtag-TLS: forged\nSubject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/pkcs7-mime\n\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\n--b--\n"))
	f.Add(packet('M', cstrings("<a@b>")))                // MAIL before negotiation
	f.Add(append(packet('E', nil), packet('L', nil)...)) // end of message first, empty header
	f.Add([]byte{0, 0, 0, 0})                            // zero length
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'B'})           // a length beyond the limit
	f.Add([]byte{0, 0, 0, 9, 'B', 'x'})                  // a length that lies (more announced than sent)

	cfg, err := policy.Parse([]byte("[[policy.rules]]\nname=\"r\"\nmatch.encryption=\"smime-encrypted\"\naction=\"reject\"\n"), "f.toml", nil)
	if err != nil {
		f.Fatal(err)
	}
	logs := &logBuffer{}
	srv := NewServer(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	// go-milter reports its own recovered panics through the standard logger
	log.SetOutput(logs)
	defer log.SetOutput(os.Stderr)
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer ln.Close()

	f.Fuzz(func(t *testing.T, input []byte) {
		c := ln.dial()
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// write and read at once: net.Pipe has no buffer
		readDone := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, c)
			readDone <- err
		}()
		c.Write(input)
		c.Close()
		if err := <-readDone; err != nil && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Logf("read: %v", err)
		}
		if s := logs.String(); strings.Contains(s, "panic") {
			t.Fatalf("a panic in a session:\n%s", s)
		}
		select {
		case err := <-served:
			t.Fatalf("the server stopped: %v", err)
		default:
		}
	})
}

// deepMultipart nests n multiparts, each the only part of the one before.
func deepMultipart(n int) string {
	var b strings.Builder
	b.WriteString("Subject: deep\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\nbottom\n")
	return b.String()
}

// manyParts is a multipart with n tiny parts and an encrypted one last.
func manyParts(n int) string {
	var b strings.Builder
	b.WriteString("Subject: parts\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := 0; i < n; i++ {
		b.WriteString("--b\nContent-Type: text/plain\n\nx\n")
	}
	b.WriteString("--b\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\n\nMIAGCSqG\n--b--\n")
	return b.String()
}

// TestMalformedSessions runs the hostile packet sequences of issue 6
// through the real session and checks that each ends in a defined answer
// or a closed connection, and that the next session is served.
func TestMalformedSessions(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	var manyHeaders strings.Builder
	for i := 0; i < 100000; i++ {
		manyHeaders.WriteString("X-Pad: y\n")
	}
	cases := map[string][]byte{
		"1 MiB header line (split by the packet limit)": sessionPackets("Subject: " + big[:1<<20-100] + "\n\nbody\n"),
		"100 000 headers":                sessionPackets(manyHeaders.String() + "Subject: many\n\nbody\n"),
		"NUL and 8-bit header names":     sessionPackets("Sub\x00ject: a\nX-\xff\xfe: b\n\nbody\n"),
		"invalid UTF-8 everywhere":       sessionPackets("Subject: \xc3\x28\xa0\xa1\nFrom: \xf0\x28\x8c\x28\n\n\xfe\xff\n"),
		"truncated base64":               sessionPackets("Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: base64\n\nMIAGCSqG\n"),
		"packet over the protocol limit": append(sessionPackets(plainMsg)[:40], []byte{0x00, 0x20, 0x00, 0x00, 'B'}...),
		"length that lies":               append(sessionPackets(plainMsg)[:40], []byte{0x00, 0x00, 0x10, 0x00, 'B', 'x', 'y'}...),
		"5 000-deep multipart":           sessionPackets(deepMultipart(5000)),
		"100 000 parts":                  sessionPackets(manyParts(100000)),
		"commands out of order":          bytes.Join([][]byte{packet('E', nil), packet('N', nil), packet('B', []byte("x")), packet('L', cstrings("a", "b")), packet('R', cstrings("<r>")), packet('E', nil)}, nil),
		"unknown command":                append(sessionPackets(plainMsg)[:40], packet('Z', []byte("?"))...),
	}
	logs := &logBuffer{}
	srv := NewServer(policy.Defaults(), slog.New(slog.NewTextHandler(logs, nil)))
	log.SetOutput(logs)
	defer log.SetOutput(os.Stderr)
	ln := newPipeListener()
	go srv.Serve(ln)
	defer ln.Close()
	partial := map[string]bool{"5 000-deep multipart": true, "100 000 parts": true}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			c := ln.dial()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			replies := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(c)
				replies <- b
			}()
			if _, err := c.Write(input); err != nil {
				t.Logf("write stopped early (the server closed): %v", err)
			}
			if !partial[name] {
				c.Close() // the others end abruptly; these end with QUIT
			}
			reply := <-replies
			c.Close()
			if strings.Contains(logs.String(), "panic") {
				t.Fatalf("panic:\n%s", logs)
			}
			if partial[name] && !bytes.Contains(reply, []byte("partial=yes")) {
				t.Errorf("no partial=yes in the reply to a session past the bounds: %q", reply)
			}
		})
	}
	// and a normal session afterwards still works (it ends with QUIT, so
	// the server closes the connection when it is done)
	c := ln.dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(c); got <- b }()
	c.Write(sessionPackets(plainMsg))
	if b := <-got; !bytes.Contains(b, []byte("X-Sealtag-Policy\x00accept; rule=default")) {
		t.Errorf("no headers added after the hostile sessions: %q", b)
	}
}
