package logbuf

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

func TestWriter(t *testing.T) {
	var out lockedBuffer
	w := New(&out, 20*time.Millisecond)
	for i := 0; i < 100; i++ {
		w.Write([]byte("line\n"))
	}
	if s, _ := out.String(); s != "" {
		t.Fatalf("written before the interval: %q", s)
	}
	time.Sleep(100 * time.Millisecond)
	s, writes := out.String()
	if s != strings.Repeat("line\n", 100) || writes != 1 {
		t.Errorf("after the interval: %d writes, %d bytes", writes, len(s))
	}
	w.Write(bytes.Repeat([]byte("x"), maxBuffer))
	if s, _ := out.String(); len(s) < maxBuffer {
		t.Errorf("a full buffer was not written at once")
	}
	w.Write([]byte("last\n"))
	w.Close()
	if s, _ := out.String(); !strings.HasSuffix(s, "last\n") {
		t.Errorf("Close lost the last line")
	}
}
