package glue

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables that move the GLUE data folder.
const (
	EnvGlueDir = "FNET_GLUE_DIR" // the GLUE folder itself (holding CoLA/, SST-2/, ...)
	EnvDataDir = "FNET_DATA"     // the shared data folder; GLUE is its glue/ subfolder
)

const modulePath = "github.com/fnet-tui/fnet-tui"

// DefaultDir is the GLUE data folder used when no --data flag is given:
// $FNET_GLUE_DIR, else $FNET_DATA/glue, else ../shared/data/glue relative to
// the fnet-tui repository holding the working directory. The folder need not
// exist yet (glue download creates it).
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvGlueDir); d != "" {
		return d, nil
	}
	if d := os.Getenv(EnvDataDir); d != "" {
		return filepath.Join(d, "glue"), nil
	}
	return RepoDataDir()
}

// RepoDataDir is ../shared/data/glue beside the root of the fnet-tui
// repository that holds the working directory, ignoring the environment.
func RepoDataDir() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), "shared", "data", "glue"), nil
}

// repoRoot walks up from the working directory to the folder whose go.mod
// declares this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isOurModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("glue: no GLUE data folder: pass --data DIR or set " + EnvGlueDir +
				" (the default, ../shared/data/glue beside the fnet-tui repository, is only known inside a checkout)")
		}
		dir = parent
	}
}

func isOurModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

// DownloadCommand is the command that fetches an archive (a Task.Archive
// name) into dataDir; --data is spelled out unless dataDir is the default.
func DownloadCommand(dataDir, archive string) string {
	cmd := "fnet-tui glue download " + archive
	if def, err := DefaultDir(); err == nil && samePath(def, dataDir) {
		return cmd
	}
	return "fnet-tui glue download --data " + shellQuote(dataDir) + " " + archive
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$`\\!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
