package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeCommands are the README's ```sh blocks before "## Commands": the
// setup-and-run command and the test command.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	quick, _, _ := strings.Cut(string(b), "## Commands")
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)\n```").FindAllStringSubmatch(quick, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

func TestReadmeCommandsNeedNoSudo(t *testing.T) {
	cmds := readmeCommands(t)
	if len(cmds) != 2 {
		t.Fatalf("README quick start has %d sh blocks, want 2 (setup+run, test): %q", len(cmds), cmds)
	}
	if cmds[0] != "./scripts/setup.sh && ./fnet-tui --demo" {
		t.Errorf("setup command %q", cmds[0])
	}
	for _, c := range cmds {
		if strings.Contains(c, "sudo") {
			t.Errorf("README command %q uses sudo, which a root shell on a fresh Debian lacks", c)
		}
	}
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(cmds[1]) + `$`).Match(ci) {
		t.Errorf(".ci/run does not run the README's test command %q", cmds[1])
	}
}

// TestSetupScriptUsesSudoOnlyWhenNotRoot runs scripts/setup.sh against fake
// id, dpkg, apt-get, sudo and go that log their arguments.
func TestSetupScriptUsesSudoOnlyWhenNotRoot(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	type result struct {
		code int
		log  string
		out  string
	}
	run := func(t *testing.T, uid string, installed, withSudo bool, args ...string) result {
		t.Helper()
		bin := t.TempDir()
		logf := filepath.Join(t.TempDir(), "log")
		fake := func(name, body string) {
			os.WriteFile(filepath.Join(bin, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755)
		}
		logLine := `echo "` + "$(basename \"$0\")" + ` $*" >> ` + logf
		fake("id", `[ "$1" = -u ] && echo `+uid)
		if installed {
			fake("dpkg", logLine+"; exit 0")
		} else {
			fake("dpkg", logLine+"; exit 1")
		}
		fake("apt-get", logLine)
		fake("go", logLine)
		if withSudo {
			fake("sudo", logLine+`; exec "$@"`)
		}
		// the few real tools the script uses; nothing else is on PATH
		for _, tool := range []string{"dirname", "env", "basename", "sed"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Skipf("no %s", tool)
			}
			os.Symlink(p, filepath.Join(bin, tool))
		}
		cmd := exec.Command(bash, append([]string{script}, args...)...)
		cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(logf)
		return result{code, string(b), string(out)}
	}
	const install = "apt-get install -y -qq libopenblas-dev\n"
	const build = "go build -o fnet-tui ./cmd/fnet-tui\n"

	r := run(t, "0", false, false)
	if r.code != 0 || !strings.Contains(r.log, install) || !strings.Contains(r.log, build) || strings.Contains(r.log, "sudo") {
		t.Errorf("root without sudo: exit %d, log:\n%s%s", r.code, r.log, r.out)
	}
	r = run(t, "1000", false, true)
	if r.code != 0 || !strings.Contains(r.log, "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev\n"+install) || !strings.Contains(r.log, build) {
		t.Errorf("user with sudo: exit %d, log:\n%s%s", r.code, r.log, r.out)
	}
	r = run(t, "1000", false, false)
	if r.code == 0 || strings.Contains(r.log, "apt-get") || !strings.Contains(r.out, "run this as root, or install sudo") {
		t.Errorf("user without sudo: exit %d, log:\n%s%s", r.code, r.log, r.out)
	}
	r = run(t, "1000", true, false)
	if r.code != 0 || strings.Contains(r.log, "apt-get") || !strings.Contains(r.log, build) {
		t.Errorf("user, packages already there: exit %d, log:\n%s%s", r.code, r.log, r.out)
	}
	r = run(t, "0", false, false, "--test", "--no-build")
	if r.code != 0 || !strings.Contains(r.log, "apt-get install -y -qq libopenblas-dev tmux python3-sentencepiece\n") || strings.Contains(r.log, "go build") {
		t.Errorf("--test --no-build: exit %d, log:\n%s%s", r.code, r.log, r.out)
	}
	if r = run(t, "0", true, false, "--bogus"); r.code != 2 || !strings.Contains(r.out, "--bogus") {
		t.Errorf("--bogus: exit %d, %s", r.code, r.out)
	}
}
