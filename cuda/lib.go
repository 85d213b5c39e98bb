package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ebitengine/purego"
)

// library is one shared library opened at run time.
type library struct {
	name   string // what was asked for, e.g. "cuBLAS"
	path   string // the file that was opened
	handle uintptr
}

// sym looks a function up; a missing symbol is an error naming library and function.
func (l *library) sym(name string) (uintptr, error) {
	p, err := purego.Dlsym(l.handle, name)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%s (%s) has no symbol %s", l.name, l.path, name)
	}
	return p, nil
}

// syms fills each *uintptr in dst with the address of the named function.
func (l *library) syms(dst map[string]*uintptr) error {
	names := make([]string, 0, len(dst))
	for n := range dst {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := l.sym(n)
		if err != nil {
			return err
		}
		*dst[n] = p
	}
	return nil
}

// libSpec says how to find one library: its file stem and the major
// versions (sonames) to try.
type libSpec struct {
	name     string   // human name for messages
	stem     string   // "libcublas"
	versions []string // soname suffixes in preference order, "" for the unversioned name
	// companions are libraries (stems) the library needs that may not be
	// on the loader's path either (cuBLAS needs cuBLASLt): they are opened
	// first from the same directory and version.
	companions []string
}

// libVersionOrder lists the CUDA major versions to try for the toolkit
// libraries (cuBLAS, NVRTC): the driver's own major first, because a
// toolkit newer than the driver does not run and an older one does, then
// the older majors newest first, then newer ones as a last resort.
func libVersionOrder(driverMajor int) []string {
	known := []int{13, 12, 11}
	var out []string
	seen := map[int]bool{}
	add := func(v int) {
		if !seen[v] {
			seen[v] = true
			out = append(out, fmt.Sprint(v))
		}
	}
	if driverMajor > 0 {
		for _, v := range known {
			if v == driverMajor {
				add(v)
			}
		}
		for _, v := range known {
			if v < driverMajor {
				add(v)
			}
		}
	}
	for _, v := range known {
		add(v)
	}
	return append(out, "")
}

// soname builds "libcublas.so.12" (or "libcublas.so" for version "").
func soname(stem, version string) string {
	if version == "" {
		return stem + ".so"
	}
	return stem + ".so." + version
}

// libSearchDirs are the directories tried, after the dynamic loader's own
// search, for libraries that are often installed outside its path: the CUDA
// toolkit and the NVIDIA wheels that PyTorch installs. FNET_CUDA_LIBDIR
// (a PATH-style list) comes first.
func libSearchDirs(env func(string) string, glob func(string) ([]string, error)) []string {
	var dirs []string
	if v := env("FNET_CUDA_LIBDIR"); v != "" {
		dirs = append(dirs, filepath.SplitList(v)...)
	}
	for _, k := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if v := env(k); v != "" {
			dirs = append(dirs, filepath.Join(v, "lib64"), filepath.Join(v, "lib"))
		}
	}
	dirs = append(dirs,
		"/usr/local/cuda/lib64",
		"/usr/local/cuda/targets/x86_64-linux/lib",
		"/usr/local/nvidia/lib64",
		"/usr/lib/x86_64-linux-gnu",
		"/usr/lib64",
		"/usr/lib/wsl/lib",
	)
	for _, pat := range []string{
		"/usr/local/cuda-*/lib64",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/*/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/*/*/lib",
		"/usr/lib/python3/dist-packages/nvidia/*/lib",
	} {
		if m, err := glob(pat); err == nil {
			sort.Sort(sort.Reverse(sort.StringSlice(m))) // newer versions first
			dirs = append(dirs, m...)
		}
	}
	return dirs
}

// libCandidates lists the paths tried for spec, in order: each soname by
// itself (the loader's search path), then in each search directory.
func libCandidates(spec libSpec, dirs []string) []string {
	var out []string
	for _, v := range spec.versions {
		out = append(out, soname(spec.stem, v))
	}
	for _, v := range spec.versions {
		for _, d := range dirs {
			out = append(out, filepath.Join(d, soname(spec.stem, v)))
		}
	}
	return out
}

// openLibrary dlopens the first candidate that loads. The error lists what
// was tried and the loader's first complaint.
func openLibrary(spec libSpec) (*library, error) {
	dirs := libSearchDirs(os.Getenv, filepath.Glob)
	cands := libCandidates(spec, dirs)
	var firstErr error
	for _, c := range cands {
		if strings.Contains(c, "/") {
			if _, err := os.Stat(c); err != nil {
				continue
			}
			openCompanions(spec, c)
		}
		h, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil && h != 0 {
			return &library{name: spec.name, path: c, handle: h}, nil
		}
		if firstErr == nil && err != nil && strings.Contains(c, "/") {
			firstErr = err
		}
	}
	names := make([]string, 0, len(spec.versions))
	for _, v := range spec.versions {
		names = append(names, soname(spec.stem, v))
	}
	msg := fmt.Sprintf("%s not found: tried %s on the loader path and in %d directories (set FNET_CUDA_LIBDIR to add one)",
		spec.name, strings.Join(names, ", "), len(dirs))
	if firstErr != nil {
		msg += "; " + firstErr.Error()
	}
	return nil, errors.New(msg)
}

// openCompanions loads spec's companion libraries from the directory of
// path, with path's version, so that path's own dependencies resolve.
func openCompanions(spec libSpec, path string) {
	dir, base := filepath.Split(path)
	version := strings.TrimPrefix(base, spec.stem+".so")
	for _, c := range spec.companions {
		p := filepath.Join(dir, c+".so"+version)
		if _, err := os.Stat(p); err == nil {
			_, _ = purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			continue
		}
		// NVRTC's builtins carry a minor version: libnvrtc-builtins.so.12.4.
		if m, _ := filepath.Glob(filepath.Join(dir, c+".so"+version+".*")); len(m) > 0 {
			_, _ = purego.Dlopen(m[0], purego.RTLD_NOW|purego.RTLD_GLOBAL)
		}
	}
}
