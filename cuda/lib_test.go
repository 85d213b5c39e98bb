package cuda

import (
	"reflect"
	"strings"
	"testing"
)

func TestLibVersionOrder(t *testing.T) {
	cases := []struct {
		driver int
		want   []string
	}{
		{13, []string{"13", "12", "11", ""}},
		{12, []string{"12", "11", "13", ""}},
		{11, []string{"11", "13", "12", ""}},
		{0, []string{"13", "12", "11", ""}},
		{14, []string{"13", "12", "11", ""}},
	}
	for _, c := range cases {
		if got := libVersionOrder(c.driver); !reflect.DeepEqual(got, c.want) {
			t.Errorf("libVersionOrder(%d) = %v, want %v", c.driver, got, c.want)
		}
	}
}

func TestLibCandidatesOrder(t *testing.T) {
	spec := libSpec{name: "cuBLAS", stem: "libcublas", versions: []string{"12", ""}}
	got := libCandidates(spec, []string{"/a", "/b"})
	want := []string{"libcublas.so.12", "libcublas.so", "/a/libcublas.so.12", "/b/libcublas.so.12", "/a/libcublas.so", "/b/libcublas.so"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("candidates = %v, want %v", got, want)
	}
}

func TestLibSearchDirsEnvFirst(t *testing.T) {
	env := map[string]string{"FNET_CUDA_LIBDIR": "/x:/y", "CUDA_HOME": "/cuda"}
	globbed := []string{}
	dirs := libSearchDirs(func(k string) string { return env[k] }, func(p string) ([]string, error) {
		globbed = append(globbed, p)
		if strings.Contains(p, "site-packages") && strings.HasSuffix(p, "nvidia/*/lib") {
			return []string{"/opt/t/.venv/lib/python3.12/site-packages/nvidia/cu12/lib", "/opt/t/.venv/lib/python3.12/site-packages/nvidia/cu13/lib"}, nil
		}
		return nil, nil
	})
	if dirs[0] != "/x" || dirs[1] != "/y" || dirs[2] != "/cuda/lib64" {
		t.Fatalf("FNET_CUDA_LIBDIR and CUDA_HOME must come first, got %v", dirs[:4])
	}
	i12, i13 := -1, -1
	for i, d := range dirs {
		if strings.HasSuffix(d, "cu12/lib") {
			i12 = i
		}
		if strings.HasSuffix(d, "cu13/lib") {
			i13 = i
		}
	}
	if i13 < 0 || i12 < 0 || i13 > i12 {
		t.Fatalf("newer wheel directory should come first: %v", dirs)
	}
	if len(globbed) == 0 {
		t.Fatal("no glob patterns tried")
	}
}

func TestOpenLibraryMissingNamesWhatWasTried(t *testing.T) {
	_, err := openLibrary(libSpec{name: "NoSuchLib", stem: "libfnet-tui-no-such-lib", versions: []string{"7", ""}})
	if err == nil {
		t.Fatal("opening a library that does not exist succeeded")
	}
	for _, s := range []string{"NoSuchLib not found", "libfnet-tui-no-such-lib.so.7", "libfnet-tui-no-such-lib.so", "FNET_CUDA_LIBDIR"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}
