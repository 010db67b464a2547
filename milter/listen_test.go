package milter

import (
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sealtag/policy"
)

func unixConfig(t *testing.T, path, extra string) *policy.Config {
	t.Helper()
	cfg, err := policy.Parse([]byte("listen = \"unix:"+path+"\"\n"+extra), "t.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := unixConfig(t, sock, "socket_mode = \"0640\"\nsocket_group = \""+g.Name+"\"\n")

	ln, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o640 || !hasGID(fi, os.Getgid()) {
		t.Errorf("socket mode %v, err %v", fi.Mode(), err)
	}
	// a live socket is never removed
	if _, err := Listen(cfg); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Listen on a live socket: %v", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	// a stale one (nobody listening) is replaced
	ln, err = Listen(cfg)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln.Close()

	// a file that is not a socket is left alone
	plain := filepath.Join(dir, "file")
	os.WriteFile(plain, []byte("x"), 0o644)
	if _, err := Listen(unixConfig(t, plain, "")); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v", err)
	}
	if _, err := os.Stat(plain); err != nil {
		t.Errorf("the regular file was removed: %v", err)
	}
	if _, err := Listen(unixConfig(t, filepath.Join(dir, "g.sock"), "socket_group = \"no-such-group-sealtag\"\n")); err == nil {
		t.Errorf("unknown socket_group accepted")
	}
}

func TestListenInet(t *testing.T) {
	cfg, err := policy.Parse([]byte("listen = \"inet:0@127.0.0.1\"\n"), "t.toml", nil)
	if err == nil {
		t.Fatalf("port 0 accepted: %v", cfg.Listen)
	}
	cfg, err = policy.Parse([]byte("listen = \"inet:10099@127.0.0.1\"\n"), "t.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, a := cfg.ListenAddr(); n != "tcp" || a != "127.0.0.1:10099" {
		t.Errorf("ListenAddr = %s %s", n, a)
	}
}
