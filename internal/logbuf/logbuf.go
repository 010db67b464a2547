// Package logbuf batches log output: the daemon writes one line per
// message, and a write system call per line was a measurable share of
// its time. Lines are kept in memory and written at most every interval
// (or when a buffer fills); Close writes what is left.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// maxBuffer is written at once when reached.
const maxBuffer = 32 << 10

// Writer batches writes to an underlying writer. Each Write is kept whole,
// so log lines are never split.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	stop chan struct{}
	done chan struct{}
}

// New starts a Writer that flushes to w every interval.
func New(w io.Writer, interval time.Duration) *Writer {
	b := &Writer{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write keeps p for the next flush.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= maxBuffer {
		b.flushLocked()
	}
	return len(p), nil
}

// Flush writes what is kept.
func (b *Writer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *Writer) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.w.Write(b.buf) // a log that cannot be written has nowhere to say so
	b.buf = b.buf[:0]
}

// Close stops the ticker and writes what is left.
func (b *Writer) Close() error {
	close(b.stop)
	<-b.done
	b.Flush()
	return nil
}
