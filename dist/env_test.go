package dist

import (
	"errors"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want World
	}{
		{"nothing: a single process", nil, World{Size: 1, Launcher: Single}},
		{"single keeps FNET_RUN_ID", map[string]string{"FNET_RUN_ID": "r1"}, World{Size: 1, Launcher: Single, JobID: "r1"}},
		{"torchrun", map[string]string{
			"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "LOCAL_WORLD_SIZE": "4",
			"MASTER_ADDR": "node1", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "job7",
		}, World{Rank: 3, Size: 8, LocalRank: 3, MasterAddr: "node1", MasterPort: 29500, JobID: "job7", Launcher: Torchrun}},
		{"torchrun world of one needs no master", map[string]string{"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"},
			World{Size: 1, Launcher: Torchrun}},
		{"torchrun inside srun: torchrun's variables win", map[string]string{
			"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29400",
			"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "0",
		}, World{Rank: 5, Size: 8, LocalRank: 1, MasterAddr: "10.0.0.1", MasterPort: 29400, Launcher: Torchrun}},
		{"torchrun with FNET_MASTER_PORT: our port, not the agent's store", map[string]string{
			"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "node1", "MASTER_PORT": "29500", "FNET_MASTER_PORT": "29511",
		}, World{Rank: 1, Size: 2, LocalRank: 1, MasterAddr: "node1", MasterPort: 29511, Launcher: Torchrun}},
		{"slurm with SLURM_LAUNCH_NODE_IPADDR", map[string]string{
			"SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0", "SLURM_LAUNCH_NODE_IPADDR": "10.1.2.3",
			"MASTER_PORT": "29500", "SLURM_JOB_ID": "1234", "SLURM_STEP_ID": "0",
		}, World{Rank: 2, Size: 4, MasterAddr: "10.1.2.3", MasterPort: 29500, JobID: "1234.0", Launcher: Slurm}},
		{"slurm: an explicit MASTER_ADDR wins", map[string]string{
			"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "1", "SLURM_LAUNCH_NODE_IPADDR": "10.1.2.3",
			"MASTER_ADDR": "gpu-01", "MASTER_PORT": "29501", "SLURM_JOB_ID": "99",
		}, World{Rank: 1, Size: 2, LocalRank: 1, MasterAddr: "gpu-01", MasterPort: 29501, JobID: "99", Launcher: Slurm}},
		{"slurm: SLURM_NPROCS on old releases", map[string]string{
			"SLURM_PROCID": "0", "SLURM_NPROCS": "2", "SLURM_LOCALID": "0", "MASTER_ADDR": "a", "MASTER_PORT": "1",
		}, World{Size: 2, MasterAddr: "a", MasterPort: 1, Launcher: Slurm}},
		{"open mpi", map[string]string{
			"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
			"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", "OMPI_MCA_ess_base_jobid": "4242",
		}, World{Rank: 1, Size: 2, LocalRank: 1, MasterAddr: "127.0.0.1", MasterPort: 29500, JobID: "4242", Launcher: OpenMPI}},
		{"mpirun inside slurm: Open MPI's variables win", map[string]string{
			"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
			"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_LOCALID": "0",
			"MASTER_ADDR": "h", "MASTER_PORT": "2000",
		}, World{Rank: 3, Size: 4, LocalRank: 1, MasterAddr: "h", MasterPort: 2000, Launcher: OpenMPI}},
		{"a rendezvous file replaces the address", map[string]string{
			"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "FNET_RENDEZVOUS_FILE": "/shared/rdzv", "FNET_RUN_ID": "mine", "TORCHELASTIC_RUN_ID": "theirs",
		}, World{Rank: 1, Size: 2, RendezvousFile: "/shared/rdzv", JobID: "mine", Launcher: Torchrun}},
		{"spaces around values", map[string]string{"RANK": " 1 ", "WORLD_SIZE": "2\n", "LOCAL_RANK": "1", "MASTER_ADDR": " h ", "MASTER_PORT": " 80 "},
			World{Rank: 1, Size: 2, LocalRank: 1, MasterAddr: "h", MasterPort: 80, Launcher: Torchrun}},
	}
	for _, c := range cases {
		got, err := FromEnv(envOf(c.env))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestFromEnvErrorsNameTheVariable(t *testing.T) {
	torch := func(extra map[string]string) map[string]string {
		m := map[string]string{"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "29500"}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	cases := []struct {
		name    string
		env     map[string]string
		varName string
		say     string
	}{
		{"rank not below size", torch(map[string]string{"RANK": "2"}), "RANK", "ranks run from 0 to 1"},
		{"size zero", torch(map[string]string{"RANK": "0", "WORLD_SIZE": "0", "LOCAL_RANK": "0"}), "WORLD_SIZE", "at least one rank"},
		{"world size missing", torch(map[string]string{"WORLD_SIZE": ""}), "WORLD_SIZE", "is not set"},
		{"rank missing", torch(map[string]string{"RANK": ""}), "RANK", "is not set"},
		{"local rank missing", torch(map[string]string{"LOCAL_RANK": ""}), "LOCAL_RANK", "is not set"},
		{"not a number", torch(map[string]string{"RANK": "one"}), "RANK", `"one" is not an integer`},
		{"negative", torch(map[string]string{"LOCAL_RANK": "-1"}), "LOCAL_RANK", "negative"},
		{"local rank beyond the node", torch(map[string]string{"LOCAL_WORLD_SIZE": "1"}), "LOCAL_RANK", "LOCAL_WORLD_SIZE = 1"},
		{"local rank beyond the world", torch(map[string]string{"LOCAL_RANK": "2"}), "LOCAL_RANK", "WORLD_SIZE = 2"},
		{"port missing", torch(map[string]string{"MASTER_PORT": ""}), "MASTER_PORT", "is not set"},
		{"address missing", torch(map[string]string{"MASTER_ADDR": ""}), "MASTER_ADDR", "FNET_RENDEZVOUS_FILE"},
		{"port out of range", torch(map[string]string{"MASTER_PORT": "70000"}), "MASTER_PORT", "not a TCP port"},
		{"port zero", torch(map[string]string{"MASTER_PORT": "0"}), "MASTER_PORT", "not a TCP port"},
		{"port not a number", torch(map[string]string{"MASTER_PORT": "http"}), "MASTER_PORT", "not an integer"},
		{"a bad FNET_MASTER_PORT is named", torch(map[string]string{"FNET_MASTER_PORT": "70000"}), "FNET_MASTER_PORT", "not a TCP port"},
		{"a bad port is refused with a file too", torch(map[string]string{"MASTER_PORT": "99999", "FNET_RENDEZVOUS_FILE": "/x"}), "MASTER_PORT", "not a TCP port"},
		{"slurm without any address", map[string]string{"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_LOCALID": "0", "MASTER_PORT": "1"},
			"MASTER_ADDR", "SLURM_LAUNCH_NODE_IPADDR"},
		{"slurm without a port", map[string]string{"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_LOCALID": "0", "SLURM_LAUNCH_NODE_IPADDR": "10.0.0.1"},
			"MASTER_PORT", "is not set"},
		{"slurm rank beyond tasks", map[string]string{"SLURM_PROCID": "4", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0"}, "SLURM_PROCID", "SLURM_NTASKS = 4"},
		{"slurm without a task count", map[string]string{"SLURM_PROCID": "0", "SLURM_LOCALID": "0"}, "SLURM_NTASKS", "is not set"},
		{"slurm without a local id", map[string]string{"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, "SLURM_LOCALID", "is not set"},
		{"open mpi rank beyond size", map[string]string{"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "0"},
			"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE = 2"},
		{"open mpi local rank beyond local size", map[string]string{"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "2", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"},
			"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE = 2"},
		{"open mpi needs an address", map[string]string{"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "0", "MASTER_PORT": "5"},
			"MASTER_ADDR", "is not set"},
	}
	for _, c := range cases {
		w, err := FromEnv(envOf(c.env))
		if err == nil {
			t.Errorf("%s: accepted as %+v", c.name, w)
			continue
		}
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Var != c.varName {
			t.Errorf("%s: error %q should be an EnvError naming %s", c.name, err, c.varName)
			continue
		}
		if !strings.Contains(err.Error(), c.varName) || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: error %q should name %s and say %q", c.name, err, c.varName, c.say)
		}
	}
}

func TestWorldString(t *testing.T) {
	if s := (World{Size: 1}).String(); s != "single process" {
		t.Errorf("single: %q", s)
	}
	if s := (World{Rank: 1, Size: 4, LocalRank: 1, Launcher: Slurm}).String(); s != "rank 1 of 4 (local rank 1, slurm)" {
		t.Errorf("slurm: %q", s)
	}
}
