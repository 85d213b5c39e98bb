package glue

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Downloader fetches GLUE archives into a data folder. Each archive is
// fetched and unpacked into a temporary folder inside the data folder,
// verified, and only then renamed into place, so a failure never leaves a
// half-written task folder or touches an existing one.
type Downloader struct {
	DataDir string
	BaseURL string       // DefaultBaseURL when empty
	Client  *http.Client // when nil, a client that honours proxy variables and gives up on a server silent for a minute
	// Force replaces task folders that are already complete; without it
	// they are left alone. Incomplete folders are always replaced.
	Force bool
	// SkipChecksums skips the size and SHA-256 checks, for a mirror that
	// repackaged the files.
	SkipChecksums bool
	// MRPCDir, when set, is a folder holding MSR's msr_paraphrase_train.txt
	// and msr_paraphrase_test.txt (and optionally dev_ids.tsv) to build MRPC
	// from instead of downloading the SentEval copies.
	MRPCDir string
	// Progress, when set, is called as bytes of a file arrive; total is -1
	// when unknown.
	Progress func(file string, done, total int64)
}

// Result reports what Fetch did for one archive.
type Result struct {
	Archive string
	Dir     string // the task folder
	Skipped bool   // already complete; nothing fetched
	Bytes   int64  // bytes downloaded
	// Warnings are split files that unpacked but failed to load (the
	// checksums matched, so the folder was installed anyway).
	Warnings []string
}

// Complete reports whether every split file of the archive's tasks exists
// in dataDir.
func Complete(dataDir string, a Archive) bool {
	for _, f := range a.Want() {
		if st, err := os.Stat(filepath.Join(dataDir, filepath.FromSlash(f))); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// Fetch downloads, verifies and installs one archive.
func (d *Downloader) Fetch(ctx context.Context, a Archive) (res Result, err error) {
	res = Result{Archive: a.Name, Dir: filepath.Join(d.DataDir, a.Dir)}
	if Complete(d.DataDir, a) && !d.Force {
		res.Skipped = true
		return res, nil
	}
	if err := os.MkdirAll(d.DataDir, 0o755); err != nil {
		return res, writeErr(d.DataDir, err)
	}
	// Refuse a folder without write bits even when running as root, who
	// could write anyway: shared data folders are read-only on purpose.
	if st, err := os.Stat(d.DataDir); err == nil && st.Mode().Perm()&0o222 == 0 {
		return res, writeErr(d.DataDir, fs.ErrPermission)
	}
	tmp, err := os.MkdirTemp(d.DataDir, ".download-"+a.Dir+"-")
	if err != nil {
		return res, writeErr(d.DataDir, err)
	}
	defer os.RemoveAll(tmp)
	stage := filepath.Join(tmp, a.Dir)
	if err := os.Mkdir(stage, 0o755); err != nil {
		return res, err
	}

	for _, r := range a.Files {
		if a.Name == "MRPC" && d.MRPCDir != "" && r.SaveAs != "" {
			if ok, err := copyLocal(filepath.Join(d.MRPCDir, r.SaveAs), filepath.Join(stage, r.SaveAs)); err != nil {
				return res, err
			} else if ok {
				continue
			}
		}
		dl := filepath.Join(tmp, r.base())
		n, err := d.get(ctx, r, dl)
		res.Bytes += n
		if err != nil {
			return res, err
		}
		if r.SaveAs != "" {
			if err := os.Rename(dl, filepath.Join(stage, r.SaveAs)); err != nil {
				return res, err
			}
			continue
		}
		if err := unzipInto(dl, r.base(), a, stage); err != nil {
			return res, fmt.Errorf("glue: %w", err)
		}
		os.Remove(dl)
	}
	if a.build != nil {
		if err := a.build(stage); err != nil {
			return res, err
		}
	}
	for _, w := range a.wantInDir() {
		if _, err := os.Stat(filepath.Join(stage, filepath.FromSlash(w))); err != nil {
			return res, fmt.Errorf("glue: %s: %s is missing after unpacking", a.Name, w)
		}
	}
	for _, w := range checkSplits(tmp, a) {
		res.Warnings = append(res.Warnings, strings.ReplaceAll(w, tmp, d.DataDir))
	}

	if err := install(stage, res.Dir, tmp); err != nil {
		return res, err
	}
	return res, nil
}

// get downloads one remote file to dst, checking its status, length and
// SHA-256 digest.
func (d *Downloader) get(ctx context.Context, r Remote, dst string) (int64, error) {
	base := d.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	url := strings.TrimSuffix(base, "/") + r.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("glue: %w", err)
	}
	req.Header.Set("User-Agent", "fnet-tui")
	client := d.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute
		client = &http.Client{Transport: tr}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("glue: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("glue: GET %s: %s", url, resp.Status)
	}
	total := resp.ContentLength
	if r.Size > 0 && !d.SkipChecksums {
		total = r.Size
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	pw := &progressWriter{name: r.base(), total: total, report: d.Progress}
	n, err := io.Copy(io.MultiWriter(f, h, pw), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("glue: GET %s: %w", url, err)
	}
	if d.SkipChecksums {
		return n, nil
	}
	if r.Size > 0 && n != r.Size {
		return n, fmt.Errorf("glue: %s: got %d bytes, want %d (interrupted download or changed file)", url, n, r.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); r.SHA256 != "" && got != r.SHA256 {
		return n, fmt.Errorf("glue: %s: SHA-256 %s, want %s (corrupt or changed file; --skip-checksum accepts it)", url, got, r.SHA256)
	}
	return n, nil
}

type progressWriter struct {
	name   string
	done   int64
	total  int64
	report func(string, int64, int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.report != nil {
		p.report(p.name, p.done, p.total)
	}
	return len(b), nil
}

func unzipInto(zipPath, name string, a Archive, stage string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("%s: not a valid zip archive: %w", name, err)
	}
	defer zr.Close()
	return extractZip(&zr.Reader, name, a.Dir, a.wantInDir(), stage)
}

// checkSplits loads every split file of the archive's tasks from the
// staging data folder and returns the errors as warnings.
func checkSplits(stageData string, a Archive) []string {
	var warn []string
	for _, t := range AllTasks {
		if t.Archive != a.Name || t.Name == "mnli-mm" {
			continue // shares MNLI's train file; its dev/test are checked below
		}
		for _, s := range t.Splits() {
			if _, err := Load(stageData, t.Name, s); err != nil {
				warn = append(warn, err.Error())
			}
		}
	}
	if a.Name == "MNLI" {
		for _, s := range []string{"dev", "test"} {
			if _, err := Load(stageData, "mnli-mm", s); err != nil {
				warn = append(warn, err.Error())
			}
		}
	}
	return warn
}

// install moves the staged folder to dest, setting an existing dest aside
// inside tmp first and putting it back if the final rename fails.
func install(stage, dest, tmp string) error {
	aside := ""
	if _, err := os.Lstat(dest); err == nil {
		aside = filepath.Join(tmp, ".previous")
		if err := os.Rename(dest, aside); err != nil {
			return writeErr(filepath.Dir(dest), err)
		}
	}
	if err := os.Rename(stage, dest); err != nil {
		if aside != "" {
			os.Rename(aside, dest)
		}
		return writeErr(filepath.Dir(dest), err)
	}
	return nil
}

// copyLocal copies src to dst when src exists; ok is false when it does not.
func copyLocal(src, dst string) (ok bool, err error) {
	data, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("glue: %w", err)
	}
	return true, os.WriteFile(dst, data, 0o644)
}

func writeErr(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("glue: cannot write in %s (%w); pass --data DIR to download elsewhere, then set %s=DIR or pass --data DIR to use it", dir, err, EnvGlueDir)
	}
	return fmt.Errorf("glue: %w", err)
}
