package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// launcherVariables are every variable dist.FromEnv and the device choice
// read: the tests clear them (a CI job under Slurm has its own) and set
// the ones a case needs.
var launcherVariables = []string{
	"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID",
	"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
	"OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_LOCALID",
	"SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_LAUNCH_NODE_IPADDR", "FNET_RUN_ID", "FNET_RENDEZVOUS_FILE", "FNET_CUDA_DEVICE", "FNET_MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE",
}

func launcherEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, k := range launcherVariables {
		t.Setenv(k, "")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// rankConfig writes a small pretraining config whose runs folder is
// returned, so a test can check that a refusal created nothing.
func rankConfig(t *testing.T, extra string) (cfg, runs string) {
	t.Helper()
	dir := t.TempDir()
	runs = filepath.Join(dir, "runs")
	cfg = filepath.Join(dir, "pre.toml")
	text := `kind = "pretrain"
[model]
preset = "mini"
[data]
corpus = "gostd"
seq_len = 32
batch_size = 4
[train]
steps = 2
` + extra + `
[run]
dir = "` + runs + `"
`
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, runs
}

func assertNothingWritten(t *testing.T, runs string) {
	t.Helper()
	if _, err := os.Stat(runs); !os.IsNotExist(err) {
		t.Errorf("the refusal created %s (%v); nothing may be written", runs, err)
	}
}

// A launcher's multi-rank world on the CPU is refused before anything is
// written, naming train.device and the variables that made the world.
func TestMultiRankWorldRefusesTheCPU(t *testing.T) {
	cfg, runs := rankConfig(t, "")
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"torchrun", []string{"RANK", "1", "WORLD_SIZE", "2", "LOCAL_RANK", "1", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500"},
			"rank 1 of 2: torchrun's RANK=1, WORLD_SIZE=2 make this a 2-rank world"},
		{"slurm", []string{"SLURM_PROCID", "3", "SLURM_NTASKS", "4", "SLURM_LOCALID", "1", "SLURM_LAUNCH_NODE_IPADDR", "10.0.0.1", "MASTER_PORT", "29500"},
			"rank 3 of 4: slurm's SLURM_PROCID=3, SLURM_NTASKS=4 make this a 4-rank world"},
		{"openmpi", []string{"OMPI_COMM_WORLD_RANK", "0", "OMPI_COMM_WORLD_SIZE", "2", "OMPI_COMM_WORLD_LOCAL_RANK", "0", "MASTER_ADDR", "h", "MASTER_PORT", "29500"},
			"rank 0 of 2: openmpi's OMPI_COMM_WORLD_RANK=0, OMPI_COMM_WORLD_SIZE=2 make this a 2-rank world"},
	}
	for _, tc := range cases {
		for _, command := range []string{"pretrain", "finetune"} {
			t.Run(tc.name+"/"+command, func(t *testing.T) {
				launcherEnv(t, tc.env...)
				c := cfg
				if command == "finetune" {
					// the kind check is the trainer's; the device check comes first either way
					c = strings.TrimSuffix(cfg, ".toml") + "-ft.toml"
					writeFinetuneConfig(t, c, runs)
				}
				code, _, stderr := runCLI(t, command, "-c", c)
				if code != 1 || !strings.Contains(stderr, tc.want) ||
					!strings.Contains(stderr, `data parallel runs only over NCCL between GPUs: it needs train.device = "cuda"`) ||
					!strings.Contains(stderr, `this run has train.device = "cpu"`) {
					t.Errorf("exit %d, stderr:\n%s\nwant 1 and %q", code, stderr, tc.want)
				}
				assertNothingWritten(t, runs)
			})
		}
	}
}

func writeFinetuneConfig(t *testing.T, path, runs string) {
	t.Helper()
	text := `kind = "finetune"
[finetune]
task = "rte"
[data]
seq_len = 32
batch_size = 8
[run]
dir = "` + runs + `"
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// --resume reads the resumed run's own config: a rank resuming a CPU run
// in a multi-rank world is refused the same way, whether it names the run
// directory or a checkpoint in it.
func TestMultiRankResumeReadsTheRunsConfig(t *testing.T) {
	cfg, runs := rankConfig(t, "")
	runDir := filepath.Join(t.TempDir(), "pretrain-x")
	ckpt := filepath.Join(runDir, "checkpoints", "step-000000002")
	if err := os.MkdirAll(ckpt, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(cfg)
	os.WriteFile(filepath.Join(runDir, rundir.ConfigFile), raw, 0o644)
	os.WriteFile(filepath.Join(runDir, rundir.StatusFile), []byte("{}"), 0o644)
	launcherEnv(t, "RANK", "0", "WORLD_SIZE", "2", "LOCAL_RANK", "0", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500")
	for _, resume := range []string{runDir, ckpt} {
		code, _, stderr := runCLI(t, "pretrain", "--resume", resume)
		if code != 1 || !strings.Contains(stderr, "rank 0 of 2: torchrun's RANK=0, WORLD_SIZE=2") || !strings.Contains(stderr, `train.device = "cpu"`) {
			t.Errorf("--resume %s: exit %d, stderr:\n%s", resume, code, stderr)
		}
	}
	// the same run with train.device = "auto" and no GPU: refused for the GPU's absence
	if cuda.Available() == nil {
		return // a GPU here would let the rank go on to the rendezvous
	}
	code, _, stderr := runCLI(t, "pretrain", "--resume", runDir, "--set", "train.device=auto")
	if code != 1 || !strings.Contains(stderr, `which needs a GPU for every rank, but train.device = "auto" finds none usable`) {
		t.Errorf("device auto without a GPU: exit %d, stderr:\n%s", code, stderr)
	}
	assertNothingWritten(t, runs)
}

// A launcher environment that does not fit together is printed as it is,
// with exit status 2 and no usage line.
func TestLauncherEnvErrorExitsTwo(t *testing.T) {
	cfg, runs := rankConfig(t, "")
	launcherEnv(t, "RANK", "0", "WORLD_SIZE", "2", "LOCAL_RANK", "0", "MASTER_PORT", "29500")
	code, _, stderr := runCLI(t, "pretrain", "-c", cfg)
	want := "fnet-tui pretrain: torchrun environment: MASTER_ADDR is not set"
	if code != 2 || !strings.HasPrefix(stderr, want) || strings.Contains(stderr, "usage:") {
		t.Errorf("exit %d, stderr:\n%s\nwant 2 and %q", code, stderr, want)
	}
	assertNothingWritten(t, runs)
}

// --gpus N without a launcher needs N visible GPUs (and the GPU device);
// this machine has fewer than 1000, so the count is what is refused.
func TestGPUsNeedVisibleGPUs(t *testing.T) {
	cfg, runs := rankConfig(t, "")
	launcherEnv(t)
	t.Setenv("CUDA_VISIBLE_DEVICES", "0,1")
	visible := regexp.MustCompile(`^fnet-tui pretrain: (--gpus|train\.gpus =) 1000 but \d+ GPUs? (is|are) visible \(CUDA_VISIBLE_DEVICES="0,1"`)
	for _, args := range [][]string{
		{"pretrain", "-c", cfg, "--gpus", "1000", "--set", "train.device=cuda"},
		{"pretrain", "-c", cfg, "--gpus=1000", "--set", "train.device=auto"},
		{"pretrain", "-c", cfg, "--set", "train.gpus=1000", "--set", "train.device=cuda"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != 1 || !visible.MatchString(stderr) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant 1 and %s", args, code, stderr, visible)
		}
	}
	// the CPU is refused before the GPUs are counted
	code, _, stderr := runCLI(t, "pretrain", "-c", cfg, "--gpus", "2")
	if code != 1 || !strings.Contains(stderr, `--gpus 2: data parallel runs only over NCCL between GPUs, so it needs train.device = "cuda"`) {
		t.Errorf("--gpus 2 on the CPU: exit %d, stderr:\n%s", code, stderr)
	}
	// FNET_CUDA_DEVICE would put every local rank on one GPU
	t.Setenv("FNET_CUDA_DEVICE", "1")
	code, _, stderr = runCLI(t, "pretrain", "-c", cfg, "--gpus", "2", "--set", "train.device=cuda")
	if code != 1 || !strings.Contains(stderr, "--gpus 2 with FNET_CUDA_DEVICE=1") || !strings.Contains(stderr, "CUDA_VISIBLE_DEVICES") {
		t.Errorf("--gpus with FNET_CUDA_DEVICE: exit %d, stderr:\n%s", code, stderr)
	}
	assertNothingWritten(t, runs)
}

// train.gpus = 0 and --gpus 0 are refused, and --gpus under a launcher,
// whose world decides, is refused too.
func TestGPUsRefusals(t *testing.T) {
	cfg, runs := rankConfig(t, "")
	launcherEnv(t)
	code, _, stderr := runCLI(t, "pretrain", "-c", cfg, "--set", "train.gpus=0")
	if code != 1 || !strings.Contains(stderr, "train.gpus = 0: want at least 1") {
		t.Errorf("train.gpus = 0: exit %d, stderr:\n%s", code, stderr)
	}
	badCfg, _ := rankConfig(t, "gpus = 0")
	code, _, stderr = runCLI(t, "finetune", "-c", badCfg)
	if code != 1 || !strings.Contains(stderr, "train.gpus = 0: want at least 1") {
		t.Errorf("gpus = 0 in the file: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "pretrain", "-c", cfg, "--gpus", "0")
	if code != 2 || !strings.Contains(stderr, "--gpus 0: want 1 or more") || !strings.Contains(stderr, "usage: fnet-tui pretrain") {
		t.Errorf("--gpus 0: exit %d, stderr:\n%s", code, stderr)
	}
	launcherEnv(t, "RANK", "0", "WORLD_SIZE", "2", "LOCAL_RANK", "0", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500")
	code, _, stderr = runCLI(t, "pretrain", "-c", cfg, "--gpus", "2", "--set", "train.device=cuda")
	if code != 1 || !strings.Contains(stderr, "--gpus 2 under torchrun (RANK=0, WORLD_SIZE=2): the launcher already started the ranks") {
		t.Errorf("--gpus under torchrun: exit %d, stderr:\n%s", code, stderr)
	}
	assertNothingWritten(t, runs)
}

// The ranks get the launcher's arguments minus --gpus, in every spelling,
// and nothing else: another flag's value and what follows "--" stay.
func TestWithoutFlagDropsOnlyGPUs(t *testing.T) {
	fs := newFlags("pretrain")
	fs.String("c", "", "")
	fs.Var(&multiFlag{}, "set", "")
	fs.Bool("v", false, "")
	gpusFlag(fs)
	cases := []struct{ in, want []string }{
		{[]string{"-c", "x.toml", "--gpus", "4"}, []string{"-c", "x.toml"}},
		{[]string{"--gpus=4", "-c", "x.toml"}, []string{"-c", "x.toml"}},
		{[]string{"-gpus", "4", "--set", "train.lr=1", "-gpus=2"}, []string{"--set", "train.lr=1"}},
		{[]string{"--set", "--gpus", "-v", "-c=a.toml"}, []string{"--set", "--gpus", "-v", "-c=a.toml"}}, // --gpus as --set's value
		{[]string{"-c", "x", "--", "--gpus", "4"}, []string{"-c", "x", "--", "--gpus", "4"}},
		{[]string{"--resume", "runs/a", "--gpus", "4", "--name", "n"}, []string{"--resume", "runs/a", "--name", "n"}},
	}
	for _, tc := range cases {
		if got := withoutFlag(fs, tc.in, "gpus"); !slices.Equal(got, tc.want) {
			t.Errorf("withoutFlag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// rankChildEnv makes the test binary a rank of a launch the test started:
// TestRankHelperProcess then runs the command line after "--" as main would.
const rankChildEnv = "FNET_RANK_TEST_CHILD"

func TestRankHelperProcess(t *testing.T) {
	if os.Getenv(rankChildEnv) == "" {
		return
	}
	i := slices.Index(os.Args, "--")
	if i < 0 {
		os.Exit(99)
	}
	os.Exit(run(os.Args[i+1:]))
}

// The whole local launch on a host without GPUs: the launcher (its GPU
// count stood in for, since none is visible here) starts the ranks, which
// are this command line minus --gpus with torchrun's variables, so each
// takes the rank path and, finding no GPU, fails naming itself; the
// launcher reports a failed rank with its exit status and creates nothing.
func TestGPUsLaunchStartsRanksThatTakeTheRankPath(t *testing.T) {
	if cuda.Available() == nil {
		t.Skip("a usable GPU here would let the ranks go on to train; this test checks the launch on a host without one")
	}
	cfg, runs := rankConfig(t, "")
	launcherEnv(t)
	t.Setenv(rankChildEnv, "1")
	oldCount, oldProgram := countGPUs, rankProgram
	defer func() { countGPUs, rankProgram = oldCount, oldProgram }()
	countGPUs = func() (int, error) { return 2, nil }
	rankProgram = func() (string, []string, error) {
		return os.Args[0], []string{"-test.run=^TestRankHelperProcess$", "--"}, nil
	}
	code, stdout, stderr := runCLI(t, "pretrain", "--gpus", "2", "-c", cfg, "--set", "train.device=cuda")
	t.Logf("the launcher's stderr:\n%s", stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1 (the ranks' own status)", code)
	}
	for _, want := range []string{
		"fnet-tui pretrain: 2 ranks, one per GPU (cuda:0-1), rendezvous 127.0.0.1:",
		// rank 0's error unprefixed, rank 1's marked; neither saw --gpus
		"\nfnet-tui pretrain: rank 0 of 2: torchrun's RANK=0, WORLD_SIZE=2 make this a 2-rank world, which needs a GPU for every rank",
		"\n[rank 1] fnet-tui pretrain: rank 1 of 2: torchrun's RANK=1, WORLD_SIZE=2 make this a 2-rank world, which needs a GPU for every rank",
		"of 2 failed: exit status 1",
	} {
		if !strings.Contains("\n"+stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "under torchrun") {
		t.Errorf("a rank was given --gpus:\n%s", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q; the ranks failed before printing anything", stdout)
	}
	assertNothingWritten(t, runs)
}

// Under a launcher's world of one rank, train.gpus is not read (the
// launcher decides), and the process says so rather than start ranks.
func TestTrainGPUsUnderAOneRankLauncherIsANote(t *testing.T) {
	cfg, _ := rankConfig(t, "gpus = 4")
	launcherEnv(t, "SLURM_PROCID", "0", "SLURM_NTASKS", "1", "SLURM_LOCALID", "0")
	plan, err := planRanks(trainRequest{command: "pretrain", configPath: cfg})
	if err != nil || plan.launch != 0 || !plan.world.IsSingle() {
		t.Fatalf("planRanks = %+v, %v; want one process", plan, err)
	}
	launcherEnv(t)
	plan, err = planRanks(trainRequest{command: "pretrain", configPath: cfg, overrides: []string{"train.device=cuda"}})
	if err == nil && plan.launch != 4 {
		t.Fatalf("without a launcher, train.gpus = 4 planned %+v", plan)
	}
	if err != nil && !strings.Contains(err.Error(), "train.gpus = 4 but") {
		t.Fatalf("without a launcher, train.gpus = 4: %v", err)
	}
}

// --gpus under a launcher's world of one rank (an sbatch of one task)
// starts this machine's ranks as without a launcher: here it goes on to
// count the GPUs, and is refused only for finding none.
func TestGPUsUnderAOneRankLauncherLaunches(t *testing.T) {
	cfg, runs := rankConfig(t, "")
	launcherEnv(t, "SLURM_PROCID", "0", "SLURM_NTASKS", "1", "SLURM_LOCALID", "0", "SLURM_JOB_ID", "77")
	oldCount := countGPUs
	defer func() { countGPUs = oldCount }()
	countGPUs = func() (int, error) { return 1, nil }
	code, _, stderr := runCLI(t, "pretrain", "--gpus", "2", "-c", cfg, "--set", "train.device=cuda")
	if code != 1 || !strings.Contains(stderr, "--gpus 2 but 1 GPU is visible") || strings.Contains(stderr, "under slurm") {
		t.Errorf("exit %d, stderr:\n%s\nwant the GPU count, not a launcher refusal", code, stderr)
	}
	assertNothingWritten(t, runs)
}

// Under torchrun's agent store, MASTER_PORT is torchrun's: every rank is
// refused at once (exit 2) and told to use a rendezvous file, with which
// the rank goes on (here, to the CPU refusal).
func TestTorchrunAgentStoreNeedsAPortOrFileOfOurOwn(t *testing.T) {
	cfg, runs := rankConfig(t, "")
	torchrun := []string{"RANK", "1", "WORLD_SIZE", "2", "LOCAL_RANK", "1", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500",
		"TORCHELASTIC_USE_AGENT_STORE", "True"}
	launcherEnv(t, torchrun...)
	code, _, stderr := runCLI(t, "pretrain", "-c", cfg)
	want := "fnet-tui pretrain: torchrun environment: MASTER_PORT = 29500 is torchrun's own store (TORCHELASTIC_USE_AGENT_STORE=True)"
	if code != 2 || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "FNET_RENDEZVOUS_FILE to a file") || !strings.Contains(stderr, "set FNET_MASTER_PORT") {
		t.Errorf("exit %d, stderr:\n%s\nwant 2 and %q", code, stderr, want)
	}
	launcherEnv(t, append(torchrun, "FNET_MASTER_PORT", "29501")...) // a port of our own lifts it too
	code, _, stderr = runCLI(t, "pretrain", "-c", cfg)
	if code != 1 || !strings.Contains(stderr, `this run has train.device = "cpu"`) {
		t.Errorf("with FNET_MASTER_PORT: exit %d, stderr:\n%s\nwant the device refusal", code, stderr)
	}
	launcherEnv(t, append(torchrun, "FNET_RENDEZVOUS_FILE", filepath.Join(t.TempDir(), "rdzv"))...)
	code, _, stderr = runCLI(t, "pretrain", "-c", cfg)
	if code != 1 || !strings.Contains(stderr, `this run has train.device = "cpu"`) {
		t.Errorf("with a rendezvous file: exit %d, stderr:\n%s\nwant the device refusal", code, stderr)
	}
	launcherEnv(t, append(torchrun[:len(torchrun)-2], "TORCHELASTIC_USE_AGENT_STORE", "False")...)
	code, _, stderr = runCLI(t, "pretrain", "-c", cfg)
	if code != 1 || !strings.Contains(stderr, `this run has train.device = "cpu"`) {
		t.Errorf("without the agent store: exit %d, stderr:\n%s\nwant the device refusal", code, stderr)
	}
	assertNothingWritten(t, runs)
}
