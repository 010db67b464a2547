package archive

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// collect is a Sink that keeps what it is given.
type collect struct {
	names   []string
	msgs    []string
	skipped []string
	cur     *bytes.Buffer
}

func (c *collect) Skip(name string) { c.skipped = append(c.skipped, filepath.Base(name)) }

func (c *collect) Begin(name string) io.Writer {
	c.names = append(c.names, name)
	c.cur = &bytes.Buffer{}
	return c.cur
}

func (c *collect) End() { c.msgs = append(c.msgs, c.cur.String()) }

func write(t *testing.T, path, content string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMbox(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "inbox")
	write(t, p, "From a@example.org Wed Nov 25 10:00:00 2026\nSubject: one\n\nbody\n>From the start\n>>From quoted\nFrom inside a paragraph\n\nFrom b@example.org Wed Nov 25 11:00:00 2026\nSubject: two\n\n"+strings.Repeat("x", 200000)+"\n")
	if k, _ := Detect(p); k != KindMbox {
		t.Fatalf("Detect = %s", k)
	}
	var c collect
	if err := Read(p, &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.names, []string{p + "#1", p + "#2"}) {
		t.Fatalf("names %q", c.names)
	}
	if want := "Subject: one\n\nbody\nFrom the start\n>From quoted\nFrom inside a paragraph\n\n"; c.msgs[0] != want {
		t.Errorf("message 1 = %q, want %q", c.msgs[0], want)
	}
	if !strings.HasPrefix(c.msgs[1], "Subject: two\n\nxxx") || len(c.msgs[1]) != len("Subject: two\n\n")+200001 {
		t.Errorf("message 2: %d bytes", len(c.msgs[1]))
	}
}

func TestMaildirAndDir(t *testing.T) {
	root := t.TempDir()
	md := filepath.Join(root, "Maildir")
	write(t, filepath.Join(md, "cur", "2:2,S"), "Subject: cur\n\nx\n")
	write(t, filepath.Join(md, "new", "1"), "Subject: new\n\nx\n")
	write(t, filepath.Join(md, "tmp", "0"), "Subject: tmp, not delivered yet\n\nx\n")
	os.MkdirAll(filepath.Join(md, ".Sent", "cur"), 0o755)
	write(t, filepath.Join(md, ".Sent", "cur", "9"), "Subject: other folder\n\nx\n")
	if k, _ := Detect(md); k != KindMaildir {
		t.Fatalf("Detect = %s", k)
	}
	var c collect
	if err := Read(md, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.msgs) != 2 || !strings.Contains(c.msgs[0], "cur") || !strings.Contains(c.msgs[1], "new") {
		t.Errorf("maildir: %q", c.msgs)
	}

	d := filepath.Join(root, "eml")
	write(t, filepath.Join(d, "b.eml"), "Subject: b\n\nx\n")
	write(t, filepath.Join(d, "a.eml"), "Subject: a\n\nx\n")
	write(t, filepath.Join(d, "sub", "c.eml"), "Subject: c\n\nx\n")
	write(t, filepath.Join(d, ".hidden"), "no")
	write(t, filepath.Join(d, "notes.txt"), "not a message\n")
	write(t, filepath.Join(d, "old.mbox"), "From x\nSubject: m1\n\nx\n\nFrom y\nSubject: m2\n\nx\n")
	var c2 collect
	if err := Read(d, &c2); err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range c2.msgs {
		subjects = append(subjects, strings.TrimPrefix(strings.SplitN(m, "\n", 2)[0], "Subject: "))
	}
	if !reflect.DeepEqual(subjects, []string{"a", "b", "m1", "m2", "c"}) {
		t.Errorf("dir: %q", subjects)
	}
	if !reflect.DeepEqual(c2.skipped, []string{"notes.txt"}) {
		t.Errorf("skipped %q", c2.skipped)
	}
}

func TestNotAnMbox(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.mbox")
	write(t, p, "Subject: no separator\n\nx\n")
	var c collect
	if err := readMbox(p, &c); err == nil {
		t.Errorf("no error for a file without From lines")
	}
}
