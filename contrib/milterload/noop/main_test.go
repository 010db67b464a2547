package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-milter"
)

func TestNoopAccepts(t *testing.T) {
	for _, addr := range []string{"unix:" + filepath.Join(t.TempDir(), "noop.sock"), "inet:127.0.0.1:0"} {
		ln, cleanup, err := listenOn(addr, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer()
		go srv.Serve(ln)

		network := ln.Addr().Network()
		cl := milter.NewClientWithOptions(network, ln.Addr().String(), milter.ClientOptions{
			ActionMask:   milter.OptAddHeader | milter.OptChangeHeader,
			ProtocolMask: 0,
		})
		s, err := cl.Session()
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if !s.ProtocolOption(milter.OptNoUnknown) {
			t.Errorf("%s: protocol %#x lacks OptNoUnknown", addr, s.ProtocolOpts)
		}
		if act, err := s.Conn("client.example", milter.FamilyInet, 25, "192.0.2.1"); err != nil || act.Code != milter.ActContinue {
			t.Fatalf("%s: connect %+v %v", addr, act, err)
		}
		if act, err := s.Mail("a@example.org", nil); err != nil || act.Code != milter.ActContinue {
			t.Fatalf("%s: mail %+v %v", addr, act, err)
		}
		if act, err := s.Rcpt("b@example.net", nil); err != nil || act.Code != milter.ActContinue {
			t.Fatalf("%s: rcpt %+v %v", addr, act, err)
		}
		var h textproto.Header
		h.Add("Subject", "x")
		if act, err := s.Header(h); err != nil || act.Code != milter.ActContinue {
			t.Fatalf("%s: header %+v %v", addr, act, err)
		}
		mods, act, err := s.BodyReadFrom(strings.NewReader("body\r\n"))
		if err != nil || act.Code != milter.ActAccept || len(mods) != 0 {
			t.Fatalf("%s: end %v %+v %v, want accept without changes", addr, mods, act, err)
		}
		s.Close()
		srv.Close()
		cleanup()
	}
}

func TestNoopUsage(t *testing.T) {
	var errOut bytes.Buffer
	if code := mainErr([]string{"-mode", "9"}, &errOut); code != 2 {
		t.Errorf("bad -mode: exit %d, want 2", code)
	}
	sock := filepath.Join(t.TempDir(), "busy.sock")
	ln, cleanup, err := listenOn("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	defer ln.Close()
	if code := mainErr([]string{"-listen", "unix:" + sock}, &errOut); code != 1 || !strings.Contains(errOut.String(), "another process") {
		t.Errorf("busy socket: exit %d, %q", code, errOut.String())
	}
}
