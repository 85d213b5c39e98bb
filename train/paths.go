package train

import (
	"os"
	"path/filepath"
	"strings"
)

// DataDir is where the shared data lives: $FNET_DATA, else ../shared/data
// relative to the working directory (the layout of a checkout beside shared/).
func DataDir() string {
	if d := os.Getenv("FNET_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "shared", "data")
}

// expandPath expands $FNET_DATA (defaulting as DataDir does), other
// environment variables and a leading ~/ in a config path.
func expandPath(p string) string {
	p = os.Expand(p, func(k string) string {
		if k == "FNET_DATA" {
			return DataDir()
		}
		return os.Getenv(k)
	})
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	return p
}

// corpusSpec expands a corpus spec unless it is a built-in name.
func corpusSpec(s string) string {
	if s == "gostd" {
		return s
	}
	return expandPath(s)
}
