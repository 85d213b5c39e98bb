package dist

import (
	"errors"
	"strings"
	"testing"
)

// FuzzFromEnv gives the launcher parser arbitrary values for the variables
// it reads. It must never panic; what it accepts must be a world a rank can
// train in (0 ≤ rank < size, local rank < size, a port in range or a
// rendezvous file when there are peers); what it refuses must be an
// EnvError naming a variable it reads.
func FuzzFromEnv(f *testing.F) {
	f.Add("torchrun", "1", "2", "1", "h", "29500", "", "")
	f.Add("slurm", "3", "4", "0", "", "29500", "", "10.0.0.1")
	f.Add("openmpi", "0", "2", "0", "a", "1", "/shared/x", "")
	f.Add("torchrun", "-1", "0", "x", "", "70000", "", "")
	f.Add("slurm", "9999999999999999999", "1", "0", "", "", "", "")
	f.Fuzz(func(t *testing.T, launcher, rank, size, local, addr, port, file, slurmAddr string) {
		env := map[string]string{"MASTER_ADDR": addr, "MASTER_PORT": port, "FNET_RENDEZVOUS_FILE": file, "SLURM_LAUNCH_NODE_IPADDR": slurmAddr}
		switch launcher {
		case "torchrun":
			env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"] = rank, size, local
		case "slurm":
			env["SLURM_PROCID"], env["SLURM_NTASKS"], env["SLURM_LOCALID"] = rank, size, local
		default:
			env["OMPI_COMM_WORLD_RANK"], env["OMPI_COMM_WORLD_SIZE"], env["OMPI_COMM_WORLD_LOCAL_RANK"] = rank, size, local
		}
		w, err := FromEnv(func(k string) string { return env[k] })
		if err != nil {
			var ee *EnvError
			if !errors.As(err, &ee) || ee.Var == "" {
				t.Fatalf("error %v is not an EnvError naming a variable", err)
			}
			if _, read := env[ee.Var]; !read && !strings.HasSuffix(ee.Var, "SIZE") && ee.Var != "SLURM_NPROCS" {
				t.Fatalf("error names %s, which it does not read here: %v", ee.Var, err)
			}
			return
		}
		if w.Size < 1 || w.Rank < 0 || w.Rank >= w.Size || w.LocalRank < 0 || (w.Size > 1 && w.LocalRank >= w.Size) {
			t.Fatalf("accepted an impossible world %+v", w)
		}
		if w.Size > 1 && w.RendezvousFile == "" && (w.MasterAddr == "" || w.MasterPort < 1 || w.MasterPort > 65535) {
			t.Fatalf("accepted peers with nowhere to meet: %+v", w)
		}
	})
}
