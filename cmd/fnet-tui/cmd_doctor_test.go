package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/cuda"
)

func TestDoctorReportsNCCL(t *testing.T) {
	var b strings.Builder
	writeNCCLReport(&b, cuda.NCCLInfo{Err: errors.New("NCCL not found: tried libnccl.so.2")})
	if got := b.String(); !strings.HasPrefix(got, "NCCL:    unavailable") || !strings.Contains(got, "NCCL not found: tried libnccl.so.2") {
		t.Errorf("missing NCCL: %q", got)
	}
	b.Reset()
	writeNCCLReport(&b, cuda.NCCLInfo{Path: "/x/libnccl.so.2", Version: "2.21.5", Err: errors.New("older than 2.23")})
	if got := b.String(); !strings.Contains(got, "/x/libnccl.so.2 (version 2.21.5), unusable: older than 2.23") {
		t.Errorf("old NCCL: %q", got)
	}
	b.Reset()
	writeNCCLReport(&b, cuda.NCCLInfo{Path: "/x/libnccl.so.2", Version: "2.27.3"})
	if got := b.String(); got != "NCCL:    /x/libnccl.so.2 (version 2.27.3)\n" {
		t.Errorf("usable NCCL: %q", got)
	}
}

// TestDoctorCommandNamesNCCL: the real command's report has an NCCL line
// whatever the machine has.
func TestDoctorCommandNamesNCCL(t *testing.T) {
	code, out, stderr := runCLI(t, "doctor")
	if code != 0 || !strings.Contains(out, "\nNCCL:    ") {
		t.Fatalf("doctor exited %d:\n%s\n%s", code, out, stderr)
	}
}
