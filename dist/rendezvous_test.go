package dist

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func randomID(t *testing.T) ID {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	return id
}

// freePort finds a port nobody listens on (peers then dial it before rank 0 listens).
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func world(rank, size, port int) World {
	return World{Rank: rank, Size: size, MasterAddr: "127.0.0.1", MasterPort: port, Launcher: Torchrun}
}

var local = Options{Bind: "127.0.0.1", Timeout: 10 * time.Second, Retry: 20 * time.Millisecond}

// rendezvousAll runs Rendezvous on every rank of w (rank 0 after delay).
func rendezvousAll(t *testing.T, ws []World, runIDs []string, id ID, delay time.Duration, o Options) ([]ID, []error) {
	t.Helper()
	ids := make([]ID, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.Rank == 0 {
				time.Sleep(delay)
			}
			ids[i], errs[i] = Rendezvous(context.Background(), w, runIDs[i], func() (ID, error) { return id, nil }, o)
		}()
	}
	wg.Wait()
	return ids, errs
}

func TestTCPRendezvousEveryRankGetsTheID(t *testing.T) {
	port := freePort(t)
	id := randomID(t)
	ws := []World{world(0, 4, port), world(1, 4, port), world(2, 4, port), world(3, 4, port)}
	// the peers start first and retry until rank 0 listens
	ids, errs := rendezvousAll(t, ws, []string{"job", "job", "job", "job"}, id, 200*time.Millisecond, local)
	for r := range ws {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v", r, errs[r])
		}
		if ids[r] != id {
			t.Fatalf("rank %d got another id", r)
		}
	}
}

func TestTCPRendezvousRefusesAnotherRun(t *testing.T) {
	id := randomID(t)
	s, err := Listen(world(0, 3, 0), local)
	if err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), "run-a", id) }()

	// a process of another job dials the same port: refused at once, told
	// its own run id is wrong but not rank 0's, and rank 0 keeps serving
	t0 := time.Now()
	_, err = Fetch(context.Background(), world(2, 3, port), "run-b", local)
	var ref *RefusedError
	if !errors.As(err, &ref) {
		t.Fatalf("a peer of another run got %v, want a refusal", err)
	}
	for _, want := range []string{"rank 2", "refused", `run id "run-b" is not the run rank 0 serves`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "run-a") {
		t.Errorf("the refusal gives rank 0's run id away: %q", err)
	}
	if time.Since(t0) > 5*time.Second {
		t.Errorf("a refusal should not be retried until the timeout (%s)", time.Since(t0))
	}
	// then the job's own ranks join and rank 0 finishes
	for _, r := range []int{1, 2} {
		got, err := Fetch(context.Background(), world(r, 3, port), "run-a", local)
		if err != nil || got != id {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("rank 0: %v", err)
	}
}

func TestTCPRendezvousRefusals(t *testing.T) {
	id := randomID(t)
	s, err := Listen(world(0, 3, 0), local)
	if err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	o := local
	o.Timeout = 2 * time.Second
	s.o = o
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), "job", id) }()
	cases := []struct {
		w    World
		want string
	}{
		{World{Rank: 1, Size: 4, MasterAddr: "127.0.0.1", MasterPort: port}, "world size 4 is not rank 0's"},
		{World{Rank: 0, Size: 3, MasterAddr: "127.0.0.1", MasterPort: port}, "rank 0 is not a peer's rank"},
		{World{Rank: 7, Size: 3, MasterAddr: "127.0.0.1", MasterPort: port}, "rank 7 is not a peer's rank"},
	}
	for _, c := range cases {
		_, err := Fetch(context.Background(), c.w, "job", local)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rank %d of %d: %v, want a refusal saying %q", c.w.Rank, c.w.Size, err, c.want)
		}
	}
	// a rank that already joined cannot join twice
	if _, err := Fetch(context.Background(), world(1, 3, port), "job", local); err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(context.Background(), world(1, 3, port), "job", local); err == nil || !strings.Contains(err.Error(), "rank 1 has already joined") {
		t.Errorf("a second rank 1: %v", err)
	}
	// something that is not a rendezvous client does not disturb it
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.Close()
	// rank 2 never comes: rank 0 fails after its timeout, naming rank 2 and the refusals
	err = <-served
	if err == nil {
		t.Fatal("rank 0 finished without rank 2")
	}
	for _, want := range []string{"rank 0", "rank 2 of 3 did not join within 2s", "world size 4, but rank 0's is 3", "already joined"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rank 0's error %q does not say %q", err, want)
		}
	}
}

func TestTCPRendezvousPeerTimesOutWithoutRankZero(t *testing.T) {
	port := freePort(t)
	o := local
	o.Timeout = 300 * time.Millisecond
	t0 := time.Now()
	_, err := Rendezvous(context.Background(), world(1, 2, port), "job", nil, o)
	if err == nil {
		t.Fatal("a peer without rank 0 got an id")
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("the timeout of 300ms took %s", d)
	}
	for _, want := range []string{"rank 1", "no rendezvous with rank 0 at 127.0.0.1:", "within 300ms", "MASTER_ADDR:MASTER_PORT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestTCPRendezvousRankZeroTimesOutWithoutPeers(t *testing.T) {
	o := local
	o.Timeout = 300 * time.Millisecond
	_, err := Rendezvous(context.Background(), world(0, 3, 0), "job", func() (ID, error) { return ID{}, nil }, o)
	if err == nil || !strings.Contains(err.Error(), "ranks 1, 2 of 3 did not join within 300ms") {
		t.Fatalf("rank 0 alone: %v", err)
	}
}

func TestTCPRendezvousCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := Rendezvous(ctx, world(0, 2, 0), "job", func() (ID, error) { return ID{}, nil }, local)
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("cancelled rank 0: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = Rendezvous(ctx, world(1, 2, freePort(t)), "job", nil, local)
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("cancelled peer: %v", err)
	}
}

func TestTCPRendezvousPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = Rendezvous(context.Background(), world(0, 2, port), "job", func() (ID, error) { return ID{}, nil }, local)
	if err == nil || !strings.Contains(err.Error(), "choose another") {
		t.Fatalf("a port in use: %v", err)
	}
}

func TestRendezvousSingleAndCreateError(t *testing.T) {
	id := randomID(t)
	got, err := Rendezvous(context.Background(), World{Size: 1}, "job", func() (ID, error) { return id, nil }, local)
	if err != nil || got != id {
		t.Fatalf("single: %v", err)
	}
	boom := errors.New("ncclGetUniqueId failed")
	_, err = Rendezvous(context.Background(), world(0, 2, 0), "job", func() (ID, error) { return ID{}, boom }, local)
	if !errors.Is(err, boom) {
		t.Fatalf("create's error: %v", err)
	}
}

func fileWorld(rank, size int, path string) World {
	return World{Rank: rank, Size: size, RendezvousFile: path, Launcher: Slurm}
}

func TestFileRendezvous(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared", "rdzv")
	id := randomID(t)
	ws := []World{fileWorld(0, 3, path), fileWorld(1, 3, path), fileWorld(2, 3, path)}
	ids, errs := rendezvousAll(t, ws, []string{"job", "job", "job"}, id, 150*time.Millisecond, local)
	for r := range ws {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v", r, errs[r])
		}
		if ids[r] != id {
			t.Fatalf("rank %d got another id", r)
		}
	}
	left, _ := filepath.Glob(path + "*")
	if len(left) != 0 {
		t.Fatalf("rank 0 left %v behind", left)
	}
}

func TestFileRendezvousWaitsPastAnotherRunsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rdzv")
	old := randomID(t)
	// an earlier job's file: the peer waits for its own run's
	if err := writeIDFile(path, "old-job", 2, "0123", old); err != nil {
		t.Fatal(err)
	}
	o := local
	o.Timeout = 300 * time.Millisecond
	_, err := FetchFile(context.Background(), fileWorld(1, 2, path), "job", o)
	if err == nil || !strings.Contains(err.Error(), `found a file of run "old-job"`) || !strings.Contains(err.Error(), "rank 1") {
		t.Fatalf("stale file of another run: %v", err)
	}
	// the real rank 0 replaces it and the peer gets the new id
	id := randomID(t)
	ids, errs := rendezvousAll(t, []World{fileWorld(0, 2, path), fileWorld(1, 2, path)}, []string{"job", "job"}, id, 100*time.Millisecond, local)
	if errs[0] != nil || errs[1] != nil || ids[1] != id {
		t.Fatalf("after the stale file: %v %v", errs[0], errs[1])
	}
	// a file for another world size is waited past too
	if err := writeIDFile(path, "job", 4, "0123", old); err != nil {
		t.Fatal(err)
	}
	_, err = FetchFile(context.Background(), fileWorld(1, 2, path), "job", o)
	if err == nil || !strings.Contains(err.Error(), "a file for a world of 4") {
		t.Fatalf("file of another world size: %v", err)
	}
}

func TestFileRendezvousRankZeroTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rdzv")
	o := local
	o.Timeout = 300 * time.Millisecond
	// rank 2 acknowledged a stale file of the same run id (another nonce)
	if err := os.WriteFile(ackPath(path, 2), []byte(`{"run_id":"job","rank":2,"nonce":"feed"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// ServeFile removes stale acknowledgements first, so write it again while it waits
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(ackPath(path, 2), []byte(`{"run_id":"job","rank":2,"nonce":"feed"}`), 0o644)
	}()
	err := ServeFile(context.Background(), fileWorld(0, 3, path), "job", randomID(t), o)
	for _, want := range []string{"rank 0", "ranks 1, 2 of 3 did not acknowledge within 300ms", "rank 2 acknowledged an earlier file", "its own FNET_RENDEZVOUS_FILE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("rank 0's error %v does not say %q", err, want)
		}
	}
}

func TestFileRendezvousPeerTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rdzv")
	o := local
	o.Timeout = 200 * time.Millisecond
	_, err := FetchFile(context.Background(), fileWorld(3, 4, path), "job", o)
	for _, want := range []string{"rank 3", `no id of run "job"`, "within 200ms", "found no file", "shared filesystem"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}
