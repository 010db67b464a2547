package milter

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// settle waits until f reports at most want, and returns the last count.
func settle(want int, f func() int) int {
	n := f()
	for i := 0; i < 200 && n > want; i++ {
		time.Sleep(10 * time.Millisecond)
		n = f()
	}
	return n
}

// TestFaults: the MTA closes the connection mid-header, mid-body and after
// the end of message, aborts between messages, leaves a connection
// half-open, stalls in the middle of a packet. Afterwards no goroutine or
// file descriptor is left, no temp file exists, and the next message is
// served.
func TestFaults(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ts := startMilter(t, "idle_timeout = \"1s\"\n")
	sock := ts.addr

	// One full session first, so that lazily started runtime goroutines
	// exist before the baseline is taken.
	full := sessionPackets(plainMsg)
	runSession(t, sock, full, true)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	// offsets of the packets in a full session
	var offs []int
	for o := 0; o < len(full); {
		offs = append(offs, o)
		o += 4 + int(binary.BigEndian.Uint32(full[o:]))
	}
	packetStart := func(code byte) int {
		for _, o := range offs {
			if full[o+4] == code {
				return o
			}
		}
		t.Fatalf("no packet %c", code)
		return 0
	}
	faults := map[string][]byte{
		"closed mid-header": full[:packetStart('L')+7],
		"closed mid-body":   full[:packetStart('B')+20],
		"closed after eom":  full[:packetStart('A')],
	}
	for name, part := range faults {
		t.Run(name, func(t *testing.T) {
			runSession(t, sock, part, false)
		})
	}
	for name, part := range map[string][]byte{
		"half-open between commands": full[:packetStart('M')],
		"stalled inside a packet":    full[:packetStart('B')+10],
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(part) // then silent, the connection left open
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			start := time.Now()
			io.Copy(io.Discard, c) // returns when sealtag closes the connection
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("silent connection kept for %v (idle_timeout 1s)", d)
			}
		})
	}
	t.Run("abort between messages", func(t *testing.T) {
		m := ts.connect(t)
		for i := 0; i < 3; i++ {
			o := m.send("a@example.org", []string{"b@example.org"}, plainMsg)
			if len(o.added("X-Sealtag-Policy")) != 1 {
				t.Errorf("message %d: %+v", i, o)
			}
			must(t, m.s.Abort())
		}
		m.s.Close()
	})

	// the stalled and half-open sessions end through idle_timeout
	if g := settle(baseG, runtime.NumGoroutine); g > baseG {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left over the %d before\n%s", g-baseG, baseG, buf[:runtime.Stack(buf, true)])
	}
	if fd := settle(baseFD, func() int { return openFDs(t) }); fd > baseFD {
		t.Errorf("%d file descriptors left over the %d before", fd-baseFD, baseFD)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temp files left: %v", ents)
	}
	// and the daemon serves the next message
	if b := runSession(t, sock, full, true); !bytes.Contains(b, []byte("X-Sealtag-Policy\x00accept; rule=default")) {
		t.Errorf("no verdict after the faults: %q", b)
	}
	select {
	case <-ts.done:
		t.Fatalf("the server stopped: %v", ts.serveErr)
	default:
	}
}

// runSession writes raw packets on a fresh connection. With complete, it
// reads until sealtag closes (the input ends with QUIT) and returns what
// came back; otherwise it closes its side right after writing, as an MTA
// that dies would.
func runSession(t *testing.T, sock string, input []byte, complete bool) []byte {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(c); got <- b }()
	c.Write(input)
	if !complete {
		c.(*net.UnixConn).CloseWrite()
	}
	return <-got
}
