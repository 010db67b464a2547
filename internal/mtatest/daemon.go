package mtatest

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is an MTA's process tree in its own PID namespace:
//
//	unshare [--uts --mount] --pid --fork --kill-child=SIGKILL /bin/sh -c SCRIPT
//
// The shell is PID 1 of the namespace and never execs (the script ends in
// "exit $?"), so it keeps the parent-death signal that --kill-child gives it
// (the MTAs themselves lose it: changing credentials clears it). Killing
// unshare therefore kills the shell, and with the namespace's PID 1 the
// kernel kills every process in it: the daemon, its children, mailers, also
// the grandchildren a daemon left behind. unshare itself gets SIGKILL when the
// test process dies (Pdeathsig), so not even a test binary killed by
// -timeout leaves an MTA running.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
	err    error         // cmd.Wait's result, valid after exited
}

// startDaemon starts script in new namespaces (the PID namespace always, plus
// any of extraNS such as "--uts", "--mount"); output receives its stdout and
// stderr.
func startDaemon(dir string, env []string, output io.Writer, extraNS []string, script string) (*daemon, error) {
	args := append(append([]string{}, extraNS...), "--pid", "--fork", "--kill-child=SIGKILL", "/bin/sh", "-c", script+"\nexit $?\n")
	cmd := exec.Command("unshare", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = output
	cmd.Stderr = output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, exited: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

// waitListening waits until something listens on 127.0.0.1:port. It gives up
// when the daemon exits, when logf's text shows the port was taken
// (errPortInUse), or after timeout.
func (d *daemon) waitListening(port int, timeout time.Duration, logf func() string) error {
	deadline := time.Now().Add(timeout)
	for {
		if listening(port) {
			return nil
		}
		if strings.Contains(logf(), "Address already in use") {
			return fmt.Errorf("%w: %d", errPortInUse, port)
		}
		select {
		case <-d.exited:
			if strings.Contains(logf(), "Address already in use") {
				return fmt.Errorf("%w: %d", errPortInUse, port)
			}
			return fmt.Errorf("exited before listening on port %d: %v", port, d.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on port %d after %v", port, timeout)
		}
	}
}

var errPortInUse = errors.New("port in use")

// kill ends the namespace and waits for unshare. Safe on a nil daemon.
func (d *daemon) kill() {
	if d == nil {
		return
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL) // unshare's process group
	d.cmd.Process.Kill()
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
	}
}

// LockedBuffer is an io.Writer safe for concurrent use: the output of a
// daemon under test (stdout and stderr, syslog lines, a log handler) that
// the test reads while the daemon writes.
type LockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

// Write appends p.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Reset empties the buffer.
func (b *LockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// String returns what was written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
