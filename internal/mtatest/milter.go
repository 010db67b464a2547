package mtatest

import (
	"testing"
	"time"

	"github.com/emersion/go-milter"
)

// MilterSession opens a milter session to the milter on the unix socket
// sock, offering the actions sealtag uses (add and change header,
// quarantine) and no mask bit beyond protocol version 2: go-milter's client
// only downgrades to a version-2 server, which go-milter's server is, when
// no later bit is set (NOTES §7). Every read and write has the deadline
// timeout. The caller closes the session.
func MilterSession(t testing.TB, sock string, timeout time.Duration) *milter.ClientSession {
	t.Helper()
	c := milter.NewClientWithOptions("unix", sock, milter.ClientOptions{
		ReadTimeout: timeout, WriteTimeout: timeout,
		ActionMask: milter.OptAddHeader | milter.OptChangeHeader | milter.OptQuarantine,
	})
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
