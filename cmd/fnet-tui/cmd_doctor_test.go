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
	if code != 0 || !strings.Contains(out, "\nNCCL:    ") || !strings.Contains(out, "\nranks:   ") {
		t.Fatalf("doctor exited %d:\n%s\n%s", code, out, stderr)
	}
}

func TestDoctorReportsTheLaunchersRank(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		env  map[string]string
		want string
	}{
		{nil, "ranks:   single process (single)\n"},
		{map[string]string{"SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_LAUNCH_NODE_IPADDR": "10.0.0.1", "MASTER_PORT": "29500", "SLURM_JOB_ID": "77", "SLURM_STEP_ID": "0"},
			"ranks:   rank 3 of 8 (local rank 1, slurm), rendezvous at 10.0.0.1:29500, job 77.0\n"},
		{map[string]string{"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "FNET_RENDEZVOUS_FILE": "/shared/r"},
			"ranks:   rank 1 of 2 (local rank 1, torchrun), rendezvous file /shared/r\n"},
		{map[string]string{"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "ranks:   torchrun environment: RANK = 2, but WORLD_SIZE = 2"},
	}
	for _, c := range cases {
		var b strings.Builder
		writeWorldReport(&b, env(c.env))
		if !strings.HasPrefix(b.String(), c.want) {
			t.Errorf("%v:\n got %q\nwant %q", c.env, b.String(), c.want)
		}
	}
}
