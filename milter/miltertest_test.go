package milter

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"sealtag/internal/mtatest"
)

// TestMiltertest drives the milter with OpenDKIM's miltertest, an
// independent implementation of the MTA side, through the Lua scripts in
// testdata/miltertest.
func TestMiltertest(t *testing.T) {
	bin := mtatest.RequireTool(t, "miltertest", "miltertest")
	policyDoc, err := os.ReadFile("../testdata/miltertest/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob("../testdata/miltertest/*.lua")
	dir, _ := filepath.Abs("../testdata/miltertest")
	for _, script := range scripts {
		if filepath.Base(script) == "lib.lua" {
			continue
		}
		t.Run(filepath.Base(script), func(t *testing.T) {
			ts := startMilter(t, string(policyDoc))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-D", "socket=unix:"+ts.addr, "-D", "dir="+dir, "-s", script)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("miltertest %s: %v\n%s", filepath.Base(script), err, out)
			} else {
				t.Logf("%s", out)
			}
		})
	}
}
