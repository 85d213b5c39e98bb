package glue

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type zipEntry struct {
	name, body string
	mode       fs.FileMode // 0: regular file 0644
}

func makeZip(t *testing.T, entries []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// colaZip is a small archive laid out like the official CoLA.zip.
func colaZip(t *testing.T, sentence string) []byte {
	return makeZip(t, []zipEntry{
		{name: "CoLA/", mode: fs.ModeDir | 0o755},
		{name: "CoLA/train.tsv", body: "gj04\t1\t\t" + sentence + "\ngj04\t0\t*\tBad bad.\n"},
		{name: "CoLA/dev.tsv", body: "gj04\t1\t\tDev sentence."},
		{name: "CoLA/test.tsv", body: "index\tsentence\n0\tTest sentence.\n"},
		{name: "CoLA/original/raw/in_domain_train.tsv", body: "raw\n"},
		{name: "__MACOSX/CoLA/._train.tsv", body: "junk"},
	})
}

// fileServer serves fixed bodies by URL path on the loopback interface and
// counts requests.
type fileServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func newFileServer(t *testing.T, files map[string][]byte) *fileServer {
	s := &fileServer{files: files, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		body, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) set(path string, body []byte) {
	s.mu.Lock()
	s.files[path] = body
	s.mu.Unlock()
}

func (s *fileServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// withChecksum returns the named official archive expecting body instead
// of the official file at its (single) remote path.
func withChecksum(t *testing.T, name string, body []byte) Archive {
	t.Helper()
	a, err := LookupArchive(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	r := a.Files[0]
	r.Size, r.SHA256 = int64(len(body)), hex.EncodeToString(sum[:])
	a.Files = []Remote{r}
	return a
}

// noLeftovers fails when a staging folder survived in dataDir.
func noLeftovers(t *testing.T, dataDir string) {
	t.Helper()
	entries, _ := os.ReadDir(dataDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".download-") {
			t.Errorf("staging folder %s left in %s", e.Name(), dataDir)
		}
	}
}

func TestDownloadInstallsVerifiedArchive(t *testing.T) {
	body := colaZip(t, "Version one.")
	srv := newFileServer(t, map[string][]byte{"/glue/data/CoLA.zip": body})
	a := withChecksum(t, "CoLA", body)
	data := filepath.Join(t.TempDir(), "glue") // created by Fetch
	var lastDone, lastTotal int64
	d := &Downloader{DataDir: data, BaseURL: srv.URL + "/", Client: srv.Client(),
		Progress: func(_ string, done, total int64) { lastDone, lastTotal = done, total }}

	res, err := d.Fetch(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || res.Bytes != int64(len(body)) || res.Dir != filepath.Join(data, "CoLA") || len(res.Warnings) != 0 {
		t.Errorf("result %+v", res)
	}
	if lastDone != int64(len(body)) || lastTotal != int64(len(body)) {
		t.Errorf("progress ended at %d/%d, want %d", lastDone, lastTotal, len(body))
	}
	ex, err := Load(data, "cola", "train")
	if err != nil || len(ex) != 2 || ex[0].TextA != "Version one." {
		t.Fatalf("train after download: %+v, %v", ex, err)
	}
	if got := readFile(t, filepath.Join(data, "CoLA", "original", "raw", "in_domain_train.tsv")); got != "raw\n" {
		t.Errorf("extra archive file = %q", got)
	}
	if _, err := os.Stat(filepath.Join(data, "__MACOSX")); err == nil {
		t.Error("__MACOSX was unpacked")
	}
	if !Complete(data, a) {
		t.Error("Complete = false after download")
	}
	noLeftovers(t, data)

	// A complete folder is left alone without --force: no request at all.
	res, err = d.Fetch(context.Background(), a)
	if err != nil || !res.Skipped || srv.count("/glue/data/CoLA.zip") != 1 {
		t.Errorf("second fetch: %+v, %v, %d requests", res, err, srv.count("/glue/data/CoLA.zip"))
	}

	// --force replaces it with the new archive.
	body2 := colaZip(t, "Version two.")
	srv.set("/glue/data/CoLA.zip", body2)
	d.Force = true
	if _, err := d.Fetch(context.Background(), withChecksum(t, "CoLA", body2)); err != nil {
		t.Fatal(err)
	}
	if ex, _ := Load(data, "cola", "train"); ex[0].TextA != "Version two." {
		t.Errorf("after --force: %q", ex[0].TextA)
	}
	noLeftovers(t, data)
}

func TestDownloadVerificationFailuresLeaveNothing(t *testing.T) {
	body := colaZip(t, "Fine.")
	good := withChecksum(t, "CoLA", body)
	badSum := good
	badSum.Files = []Remote{good.Files[0]}
	badSum.Files[0].SHA256 = strings.Repeat("0", 64)
	badSize := good
	badSize.Files = []Remote{good.Files[0]}
	badSize.Files[0].Size++

	cases := []struct {
		name    string
		archive Archive
		serve   []byte
		want    string
	}{
		{"sha256 mismatch", badSum, body, "SHA-256"},
		{"size mismatch", badSize, body, "bytes, want"},
		{"not found", good, nil, "404 Not Found"},
		{"not a zip", withChecksum(t, "CoLA", []byte("<html>gone</html>")), []byte("<html>gone</html>"), "not a valid zip archive"},
		{"file missing", withChecksum(t, "CoLA", makeZip(t, []zipEntry{{name: "CoLA/train.tsv", body: "gj04\t1\t\tx\n"}, {name: "CoLA/dev.tsv", body: "gj04\t1\t\tx\n"}})),
			makeZip(t, []zipEntry{{name: "CoLA/train.tsv", body: "gj04\t1\t\tx\n"}, {name: "CoLA/dev.tsv", body: "gj04\t1\t\tx\n"}}), "archive lacks CoLA/test.tsv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string][]byte{}
			if c.serve != nil {
				files["/glue/data/CoLA.zip"] = c.serve
			}
			srv := newFileServer(t, files)
			// An earlier, incomplete CoLA folder must survive a failed download.
			data := writeFiles(t, map[string]string{"CoLA/dev.tsv": "gj04\t1\t\tOld dev.\n"})
			d := &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client()}
			_, err := d.Fetch(context.Background(), c.archive)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if got := readFile(t, filepath.Join(data, "CoLA", "dev.tsv")); got != "gj04\t1\t\tOld dev.\n" {
				t.Errorf("existing dev.tsv changed to %q", got)
			}
			if _, err := os.Stat(filepath.Join(data, "CoLA", "train.tsv")); err == nil {
				t.Error("train.tsv appeared after a failed download")
			}
			noLeftovers(t, data)
		})
	}

	// The checks can be skipped for a mirror that repackaged the files.
	srv := newFileServer(t, map[string][]byte{"/glue/data/CoLA.zip": body})
	d := &Downloader{DataDir: t.TempDir(), BaseURL: srv.URL, Client: srv.Client(), SkipChecksums: true}
	if _, err := d.Fetch(context.Background(), badSum); err != nil {
		t.Errorf("SkipChecksums: %v", err)
	}
}

func TestDownloadRejectsUnsafeArchives(t *testing.T) {
	ok := []zipEntry{
		{name: "CoLA/train.tsv", body: "gj04\t1\t\tx\n"},
		{name: "CoLA/dev.tsv", body: "gj04\t1\t\tx\n"},
		{name: "CoLA/test.tsv", body: "index\tsentence\n0\tx\n"},
	}
	cases := []struct {
		name  string
		extra zipEntry
		want  string
	}{
		{"dot-dot", zipEntry{name: "CoLA/../../evil.tsv", body: "pwned"}, "climbs out of the archive"},
		{"dot-dot inside", zipEntry{name: "CoLA/a/../b.tsv", body: "pwned"}, "climbs out of the archive"},
		{"absolute", zipEntry{name: "/tmp/evil.tsv", body: "pwned"}, "absolute path"},
		{"backslash", zipEntry{name: `CoLA\..\..\evil.tsv`, body: "pwned"}, "backslash"},
		{"symlink", zipEntry{name: "CoLA/link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}, "symbolic link"},
		{"duplicate", zipEntry{name: "CoLA/train.tsv", body: "gj04\t0\t\ty\n"}, "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := makeZip(t, append(append([]zipEntry(nil), ok...), c.extra))
			srv := newFileServer(t, map[string][]byte{"/glue/data/CoLA.zip": body})
			root := t.TempDir()
			data := filepath.Join(root, "a", "glue")
			d := &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client()}
			_, err := d.Fetch(context.Background(), withChecksum(t, "CoLA", body))
			if err == nil || !strings.Contains(err.Error(), "unsafe archive") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want unsafe archive: %q", err, c.want)
			}
			filepath.WalkDir(root, func(p string, e fs.DirEntry, _ error) error {
				if !e.IsDir() {
					t.Errorf("file written: %s", p)
				}
				return nil
			})
			if _, err := os.Stat("/tmp/evil.tsv"); err == nil && c.name == "absolute" {
				t.Error("/tmp/evil.tsv written")
			}
		})
	}
}

func TestDownloadOtherTopFolderAndIncompleteFolder(t *testing.T) {
	// QQP-clean.zip may unpack to a folder named after the archive.
	body := makeZip(t, []zipEntry{
		{name: "QQP-clean/train.tsv", body: "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tA?\tB?\t0\n"},
		{name: "QQP-clean/dev.tsv", body: "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n5\t1\t2\tC?\tD?\t1\n"},
		{name: "QQP-clean/test.tsv", body: "id\tquestion1\tquestion2\n0\tE?\tF?\n"},
	})
	srv := newFileServer(t, map[string][]byte{"/glue/data/QQP-clean.zip": body})
	data := writeFiles(t, map[string]string{"QQP/stale.txt": "old"})
	d := &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client()}
	if _, err := d.Fetch(context.Background(), withChecksum(t, "qqp", body)); err != nil {
		t.Fatal(err)
	}
	ex, err := Load(data, "qqp", "dev")
	if err != nil || len(ex) != 1 || ex[0].Index != 5 || ex[0].Label != 1 {
		t.Errorf("qqp dev = %+v, %v", ex, err)
	}
	if _, err := os.Stat(filepath.Join(data, "QQP", "stale.txt")); err == nil {
		t.Error("the incomplete folder was merged, not replaced")
	}
	noLeftovers(t, data)
}

func TestDownloadWarnsOnUnloadableSplit(t *testing.T) {
	body := makeZip(t, []zipEntry{
		{name: "CoLA/train.tsv", body: "gj04\tmaybe\t\tx\n"},
		{name: "CoLA/dev.tsv", body: "gj04\t1\t\tx\n"},
		{name: "CoLA/test.tsv", body: "index\tsentence\n0\tx\n"},
	})
	srv := newFileServer(t, map[string][]byte{"/glue/data/CoLA.zip": body})
	data := t.TempDir()
	d := &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client()}
	res, err := d.Fetch(context.Background(), withChecksum(t, "CoLA", body))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(data, "CoLA", "train.tsv") + `:1: label "maybe"`
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], want) {
		t.Errorf("warnings %q, want one naming %s", res.Warnings, want)
	}
}

func TestDownloadReadOnlyFolder(t *testing.T) {
	data := t.TempDir()
	if err := os.Chmod(data, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(data, 0o755)
	srv := newFileServer(t, map[string][]byte{})
	d := &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client()}
	_, err := d.Fetch(context.Background(), withChecksum(t, "CoLA", []byte("x")))
	if err == nil || !strings.Contains(err.Error(), "cannot write in "+data) || !strings.Contains(err.Error(), "--data DIR") {
		t.Errorf("err = %v", err)
	}
	if srv.count("/glue/data/CoLA.zip") != 0 {
		t.Error("downloaded into a read-only folder")
	}
}

// AX is a plain file; the real diagnostic.tsv matches the official
// SHA-256, so the built-in table is checked without any override.
func TestDownloadAXWithOfficialChecksum(t *testing.T) {
	shared := sharedGlueDir(t)
	real, err := os.ReadFile(filepath.Join(shared, "diagnostic", "diagnostic.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newFileServer(t, map[string][]byte{"/glue/data/AX.tsv": real})
	ax, _ := LookupArchive("ax")
	data := t.TempDir()
	d := &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client()}
	res, err := d.Fetch(context.Background(), ax)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(data, "diagnostic", "diagnostic.tsv")); !bytes.Equal(got, real) || len(res.Warnings) != 0 {
		t.Errorf("installed diagnostic.tsv differs (%d bytes), warnings %v", len(got), res.Warnings)
	}
	// One changed byte fails the official checksum.
	bad := append([]byte(nil), real...)
	bad[len(bad)-1] ^= 1
	srv.set("/glue/data/AX.tsv", bad)
	d.DataDir = t.TempDir()
	if _, err := d.Fetch(context.Background(), ax); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("corrupted AX: %v", err)
	}
}

// MRPC is built from the MSR corpus and GLUE's dev ids exactly as GLUE's
// script does: from the original MSR files it reproduces the shared
// train/dev/test.tsv byte for byte.
func TestDownloadMRPCBuildsOfficialFiles(t *testing.T) {
	shared := filepath.Join(sharedGlueDir(t), "MRPC")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mrpc, _ := LookupArchive("MRPC")
	check := func(data string) {
		t.Helper()
		for _, f := range []string{"train.tsv", "dev.tsv", "test.tsv", mrpcDevIDs, mrpcTrainSrc} {
			got, err := os.ReadFile(filepath.Join(data, "MRPC", f))
			if err != nil || !bytes.Equal(got, read(f)) {
				t.Errorf("MRPC/%s differs from the shared copy (%d bytes, %v)", f, len(got), err)
			}
		}
	}

	// Over HTTP. The shared MSR files are Microsoft's originals, not the
	// SentEval copies the table's checksums describe, so skip the checks.
	srv := newFileServer(t, map[string][]byte{
		"/senteval/senteval_data/msr_paraphrase_train.txt": read(mrpcTrainSrc),
		"/senteval/senteval_data/msr_paraphrase_test.txt":  read(mrpcTestSrc),
		"/glue/data/mrpc_dev_ids.tsv":                      read(mrpcDevIDs),
	})
	data := t.TempDir()
	d := &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client(), SkipChecksums: true}
	if _, err := d.Fetch(context.Background(), mrpc); err != nil {
		t.Fatal(err)
	}
	check(data)

	// From a local copy of the MSR files (--mrpc-dir); only the dev ids are
	// downloaded, against their official checksum.
	local := writeFiles(t, map[string]string{mrpcTrainSrc: string(read(mrpcTrainSrc)), mrpcTestSrc: string(read(mrpcTestSrc))})
	data = t.TempDir()
	d = &Downloader{DataDir: data, BaseURL: srv.URL, Client: srv.Client(), MRPCDir: local}
	before := srv.count("/senteval/senteval_data/msr_paraphrase_train.txt")
	if _, err := d.Fetch(context.Background(), mrpc); err != nil {
		t.Fatal(err)
	}
	if srv.count("/senteval/senteval_data/msr_paraphrase_train.txt") != before {
		t.Error("MSR train file downloaded despite MRPCDir")
	}
	check(data)
}

func TestBuildMRPCRejectsMalformed(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		mrpcTrainSrc: "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\ta\tb\r\n0\t3\t4\tonly four\r\n",
		mrpcTestSrc:  "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t5\t6\tc\td\n",
		mrpcDevIDs:   "1\t2\n",
	})
	err := buildMRPC(dir)
	if err == nil || !strings.Contains(err.Error(), mrpcTrainSrc+":3: has 4 tab-separated fields, want 5") {
		t.Errorf("err = %v", err)
	}
}

func TestLookupArchive(t *testing.T) {
	for in, want := range map[string]string{"CoLA": "CoLA", "sst-2": "SST-2", "SST2": "SST-2", "mnli-mm": "MNLI", "MNLI": "MNLI", "ax": "AX", "diagnostic": "AX", "sts-b": "STS-B", "QNLI": "QNLI"} {
		a, err := LookupArchive(in)
		if err != nil || a.Name != want {
			t.Errorf("LookupArchive(%q) = %q, %v; want %s", in, a.Name, err, want)
		}
	}
	if _, err := LookupArchive("snli"); err == nil || !strings.Contains(err.Error(), "download names: CoLA, SST-2") {
		t.Errorf("LookupArchive(snli) error = %v", err)
	}
	for _, a := range Archives {
		if len(a.Want()) == 0 {
			t.Errorf("%s: no wanted files", a.Name)
		}
		for _, r := range a.Files {
			if !strings.HasPrefix(r.Path, "/") || r.Size <= 0 || len(r.SHA256) != 64 {
				t.Errorf("%s: remote %+v lacks a path, size or SHA-256", a.Name, r)
			}
		}
	}
}
