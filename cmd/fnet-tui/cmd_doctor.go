package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/dist"
)

func init() {
	register(&command{
		name:    "doctor",
		summary: "report the GPU, NVIDIA driver, CUDA libraries and NCCL, or why there are none",
		usage:   "[--require-gpu]",
		run:     runDoctor,
	})
}

func runDoctor(args []string) error {
	fs := newFlags("doctor")
	require := fs.Bool("require-gpu", false, "exit with status 1 when the CUDA engine cannot run")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	info := cuda.Probe()
	writeDoctorReport(os.Stdout, info)
	writeNCCLReport(os.Stdout, cuda.ProbeNCCL())
	writeWorldReport(os.Stdout, os.Getenv)
	if info.Err != nil && *require {
		return &exitError{code: 1, err: fmt.Errorf("no usable GPU: %w", info.Err)}
	}
	return nil
}

func writeDoctorReport(w io.Writer, info cuda.Info) {
	fmt.Fprintf(w, "fnet-tui doctor (%s, %s/%s, %d CPUs)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if info.DriverVersion > 0 {
		rel := ""
		if info.DriverRelease != "" {
			rel = ", driver " + info.DriverRelease
		}
		fmt.Fprintf(w, "NVIDIA driver: CUDA %d.%d%s\n", info.DriverVersion/1000, (info.DriverVersion%1000)/10, rel)
	}
	for _, d := range info.Devices {
		sel := ""
		if d.Ordinal == info.Selected && info.Err == nil {
			sel = "  (selected)"
		}
		fmt.Fprintf(w, "GPU %d: %s, compute capability %d.%d, %d SMs at %d MHz, %.1f GiB, PCI %s%s\n",
			d.Ordinal, d.Name, d.CCMajor, d.CCMinor, d.SMs, d.ClockMHz, float64(d.MemTotal)/(1<<30), d.PCIBusID, sel)
		if d.MemFree > 0 {
			fmt.Fprintf(w, "       %.1f GiB free\n", float64(d.MemFree)/(1<<30))
		}
		if d.Usage != nil {
			fmt.Fprintf(w, "       utilisation %.0f%%, memory used %.1f GiB (NVML)\n", 100*d.Usage.Util, d.Usage.MemUsedGiB())
		} else if d.UsageProblem != "" {
			fmt.Fprintf(w, "       NVML: %s\n", d.UsageProblem)
		}
	}
	names := make([]string, 0, len(info.Libraries))
	for n := range info.Libraries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		extra := ""
		switch n {
		case "cuBLAS":
			if info.CUBLASVersion > 0 {
				extra = fmt.Sprintf(" (version %d)", info.CUBLASVersion)
			}
		case "NVRTC":
			if info.NVRTCVersion != "" {
				archs := make([]string, len(info.NVRTCArchs))
				for i, a := range info.NVRTCArchs {
					archs[i] = fmt.Sprint(a)
				}
				extra = fmt.Sprintf(" (version %s; sm %s)", info.NVRTCVersion, strings.Join(archs, ","))
			}
		}
		fmt.Fprintf(w, "%-8s %s%s\n", n+":", info.Libraries[n], extra)
	}
	for _, n := range info.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if info.Err != nil {
		fmt.Fprintf(w, "CUDA engine: unavailable: %v\n", info.Err)
		fmt.Fprintln(w, "device = \"auto\" trains on the CPU; device = \"cuda\" fails with this reason.")
		return
	}
	fmt.Fprintln(w, "CUDA engine: available (device = \"cuda\" or \"auto\" trains on this GPU)")
}

// writeNCCLReport says whether multi-GPU training (NCCL) could run here.
func writeNCCLReport(w io.Writer, n cuda.NCCLInfo) {
	switch {
	case n.Path == "":
		fmt.Fprintf(w, "NCCL:    unavailable (multi-GPU data parallel will need it; one GPU or the CPU trains without): %v\n", n.Err)
	case n.Err != nil:
		fmt.Fprintf(w, "NCCL:    %s (version %s), unusable: %v\n", n.Path, n.Version, n.Err)
	default:
		fmt.Fprintf(w, "NCCL:    %s (version %s)\n", n.Path, n.Version)
	}
}

// writeWorldReport says which rank a launcher (torchrun, Slurm, Open MPI)
// made this process, as data parallel would read it, or what is wrong
// with the launcher's variables.
func writeWorldReport(w io.Writer, getenv func(string) string) {
	wd, err := dist.FromEnv(getenv)
	switch {
	case err != nil:
		fmt.Fprintf(w, "ranks:   %v\n", err)
	case wd.IsSingle():
		fmt.Fprintf(w, "ranks:   single process (%s)\n", wd.Launcher)
	default:
		where := fmt.Sprintf("rendezvous at %s:%d", wd.MasterAddr, wd.MasterPort)
		if wd.RendezvousFile != "" {
			where = "rendezvous file " + wd.RendezvousFile
		}
		job := ""
		if wd.JobID != "" {
			job = ", job " + wd.JobID
		}
		fmt.Fprintf(w, "ranks:   %s, %s%s\n", wd, where, job)
	}
}
