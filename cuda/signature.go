package cuda

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// argKind is the C type class of a kernel parameter, as far as the
// launcher must get it right: cuLaunchKernel copies each argument by the
// parameter's size, so a Go value of another size or kind would silently
// shift or truncate every argument after it.
type argKind int

const (
	argPtr argKind = iota
	argI32
	argI64
	argF32
)

func (k argKind) String() string {
	return [...]string{"pointer", "32-bit integer", "64-bit integer", "float"}[k]
}

var (
	sigOnce    sync.Once
	signatures map[string][]argKind
	sigErr     error
)

var kernelDecl = regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)

// parseSignatures reads every kernel's parameter kinds from CUDA source.
func parseSignatures(src string) (map[string][]argKind, error) {
	out := map[string][]argKind{}
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		var kinds []argKind
		for _, p := range strings.Split(m[2], ",") {
			p = strings.Join(strings.Fields(p), " ")
			switch {
			case p == "":
				continue
			case strings.Contains(p, "*"):
				kinds = append(kinds, argPtr)
			case strings.HasPrefix(p, "long long "), strings.HasPrefix(p, "u64 "):
				kinds = append(kinds, argI64)
			case strings.HasPrefix(p, "int "), strings.HasPrefix(p, "u32 "):
				kinds = append(kinds, argI32)
			case strings.HasPrefix(p, "float "):
				kinds = append(kinds, argF32)
			default:
				return nil, fmt.Errorf("kernel %s: parameter %q has a type the launcher does not know", m[1], p)
			}
		}
		out[m[1]] = kinds
	}
	return out, nil
}

func kernelSignatures() (map[string][]argKind, error) {
	sigOnce.Do(func() { signatures, sigErr = parseSignatures(fnetKernelSource) })
	return signatures, sigErr
}

// checkArgs verifies a launch's Go arguments against the kernel's C parameters.
func checkArgs(name string, args []any) error {
	sigs, err := kernelSignatures()
	if err != nil {
		return err
	}
	want, ok := sigs[name]
	if !ok {
		return fmt.Errorf("no kernel %q in the source", name)
	}
	if len(args) != len(want) {
		return fmt.Errorf("kernel %s takes %d arguments, the launch passes %d", name, len(want), len(args))
	}
	for i, a := range args {
		var got argKind
		switch a.(type) {
		case DevPtr:
			got = argPtr
		case int32, uint32:
			got = argI32
		case int64, uint64:
			got = argI64
		case float32:
			got = argF32
		default:
			return fmt.Errorf("kernel %s argument %d has unsupported Go type %T", name, i, a)
		}
		if got != want[i] {
			return fmt.Errorf("kernel %s argument %d: the kernel takes a %s, the launch passes a %s (%T)", name, i, want[i], got, a)
		}
	}
	return nil
}
