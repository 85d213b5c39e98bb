package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// NCCL, bound at run time like the other libraries: libnccl.so.2 from
// FNET_NCCL_LIB (a file; nothing else is tried when it is set), the loader
// path, a Python environment's NVIDIA wheel (nvidia/nccl/lib, which
// PyTorch installs), or the CUDA library directories (libSearchDirs).
//
// Communicators are created with ncclCommInitRankScalable (NCCL ≥ 2.23),
// not ncclCommInitRank: ncclCommInitRank takes the 128-byte ncclUniqueId by
// value, and purego.SyscallN passes word-sized arguments only (a struct of
// that size goes on the stack under the SysV x86-64 ABI and by hidden
// reference on arm64, neither of which SyscallN can lay out).
// ncclCommInitRankScalable takes an array of ids by pointer, so every
// argument is a word. With one id it is ncclCommInitRank.

// NCCLUniqueIDBytes is NCCL_UNIQUE_ID_BYTES.
const NCCLUniqueIDBytes = 128

// NCCLDataType is ncclDataType_t.
type NCCLDataType int

const (
	NCCLFloat32 NCCLDataType = 7 // ncclFloat32
	NCCLFloat64 NCCLDataType = 8 // ncclFloat64
)

// NCCLRedOp is ncclRedOp_t.
type NCCLRedOp int

const (
	NCCLSum NCCLRedOp = 0 // ncclSum
	NCCLAvg NCCLRedOp = 4 // ncclAvg (NCCL ≥ 2.10)
)

// ncclMinScalable is the first release with ncclCommInitRankScalable.
const ncclMinScalable = 22300

// ncclResultNames are ncclResult_t's values.
var ncclResultNames = map[int]string{
	0: "ncclSuccess",
	1: "ncclUnhandledCudaError",
	2: "ncclSystemError",
	3: "ncclInternalError",
	4: "ncclInvalidArgument",
	5: "ncclInvalidUsage",
	6: "ncclRemoteError",
	7: "ncclInProgress",
}

// NCCL is the loaded library.
type NCCL struct {
	lib     *library
	version int // NCCL_VERSION_CODE, e.g. 22304 for 2.23.4

	getVersion, getUniqueID, commInitRankScalable, allReduce  uintptr
	commGetAsyncError, commDestroy, commAbort, getErrorString uintptr
	getLastError                                              uintptr // 0 before NCCL 2.13
}

var (
	ncclOnce sync.Once
	ncclLib  *NCCL
	ncclErr  error
)

// LoadNCCL opens NCCL once per process; the error says what was tried.
func LoadNCCL() (*NCCL, error) {
	ncclOnce.Do(func() { ncclLib, ncclErr = openNCCL(os.Getenv, filepath.Glob) })
	return ncclLib, ncclErr
}

// ncclCandidates lists the files tried, in order, and the number of
// directories they come from.
func ncclCandidates(env func(string) string, glob func(string) ([]string, error)) ([]string, int) {
	if f := env("FNET_NCCL_LIB"); f != "" {
		return []string{f}, 0
	}
	spec := libSpec{name: "NCCL", stem: "libnccl", versions: []string{"2", ""}}
	var dirs []string
	// Python environments: the active one first, then the user's
	var pats []string
	for _, root := range []string{env("VIRTUAL_ENV"), env("CONDA_PREFIX")} {
		if root != "" {
			pats = append(pats, filepath.Join(root, "lib/python3*/site-packages/nvidia/nccl/lib"))
			dirs = append(dirs, filepath.Join(root, "lib"))
		}
	}
	if home := env("HOME"); home != "" {
		pats = append(pats, filepath.Join(home, ".local/lib/python3*/site-packages/nvidia/nccl/lib"))
	}
	pats = append(pats,
		"/usr/local/lib/python3*/dist-packages/nvidia/nccl/lib",
		"/usr/local/lib/python3*/site-packages/nvidia/nccl/lib",
		"/usr/lib/python3/dist-packages/nvidia/nccl/lib",
	)
	for _, p := range pats {
		if m, err := glob(p); err == nil {
			dirs = append(dirs, m...)
		}
	}
	dirs = append(dirs, libSearchDirs(env, glob)...)
	return libCandidates(spec, dirs), len(dirs)
}

// openNCCL dlopens the first candidate that loads and binds its functions.
func openNCCL(env func(string) string, glob func(string) ([]string, error)) (*NCCL, error) {
	cands, ndirs := ncclCandidates(env, glob)
	var lib *library
	var firstErr error
	for _, c := range cands {
		if strings.Contains(c, "/") {
			if _, err := os.Stat(c); err != nil {
				if firstErr == nil && env("FNET_NCCL_LIB") != "" {
					firstErr = err
				}
				continue
			}
		}
		h, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil && h != 0 {
			lib = &library{name: "NCCL", path: c, handle: h}
			break
		}
		if firstErr == nil && err != nil && strings.Contains(c, "/") {
			firstErr = err
		}
	}
	if lib == nil {
		var msg string
		if f := env("FNET_NCCL_LIB"); f != "" {
			msg = fmt.Sprintf("NCCL not found: FNET_NCCL_LIB=%s does not load", f)
		} else {
			msg = fmt.Sprintf("NCCL not found: tried libnccl.so.2 and libnccl.so on the loader path and in %d directories (set FNET_NCCL_LIB to the library file, or pip install nvidia-nccl-cu12 / -cu13)", ndirs)
		}
		if firstErr != nil {
			msg += ": " + firstErr.Error()
		}
		return nil, errors.New(msg)
	}
	n := &NCCL{lib: lib}
	if err := lib.syms(map[string]*uintptr{
		"ncclGetVersion": &n.getVersion, "ncclGetUniqueId": &n.getUniqueID, "ncclAllReduce": &n.allReduce,
		"ncclCommGetAsyncError": &n.commGetAsyncError, "ncclCommDestroy": &n.commDestroy, "ncclCommAbort": &n.commAbort,
		"ncclGetErrorString": &n.getErrorString,
	}); err != nil {
		return nil, err
	}
	// optional: what the library's release has (the version check below
	// explains a missing ncclCommInitRankScalable)
	n.commInitRankScalable, _ = lib.sym("ncclCommInitRankScalable")
	n.getLastError, _ = lib.sym("ncclGetLastError")
	var v int32
	r, _, _ := purego.SyscallN(n.getVersion, uintptr(unsafe.Pointer(&v)))
	if err := n.check(-1, "ncclGetVersion", r); err != nil {
		return nil, err
	}
	n.version = int(v)
	return n, nil
}

// Path is the library file that was loaded.
func (n *NCCL) Path() string { return n.lib.path }

// VersionCode is NCCL_VERSION_CODE (22304 for 2.23.4).
func (n *NCCL) VersionCode() int { return n.version }

// Version is the release, e.g. "2.23.4".
func (n *NCCL) Version() string { return ncclVersionString(n.version) }

// ncclVersionString decodes NCCL_VERSION(X,Y,Z): X·1000+Y·100+Z up to 2.8,
// X·10000+Y·100+Z from 2.9.
func ncclVersionString(code int) string {
	if code >= 10000 {
		return fmt.Sprintf("%d.%d.%d", code/10000, code%10000/100, code%100)
	}
	return fmt.Sprintf("%d.%d.%d", code/1000, code%1000/100, code%100)
}

// Usable reports whether this NCCL can build communicators here: nil, or
// why not (a release before ncclCommInitRankScalable).
func (n *NCCL) Usable() error {
	if n.commInitRankScalable == 0 || n.version < ncclMinScalable {
		return fmt.Errorf("NCCL %s (%s) is older than 2.23: it has no ncclCommInitRankScalable, and ncclCommInitRank passes the 128-byte id by value, which purego cannot (install NCCL ≥ 2.23, or point FNET_NCCL_LIB at one)", n.Version(), n.lib.path)
	}
	return nil
}

// check turns an ncclResult_t into an error naming the rank (-1: none),
// the function and NCCL's own description.
func (n *NCCL) check(rank int, fn string, r uintptr) error {
	code := int(int32(r))
	if code == 0 {
		return nil
	}
	e := &Error{Lib: "NCCL", Func: fn, Code: code, Name: statusName(ncclResultNames, "ncclResult", code)}
	if n.getErrorString != 0 {
		if p, _, _ := purego.SyscallN(n.getErrorString, uintptr(code)); p != 0 {
			e.Desc = goString(p)
		}
	}
	if rank < 0 {
		return e
	}
	return &RankError{Rank: rank, Err: e}
}

// RankError is a failure on one rank of a communicator.
type RankError struct {
	Rank   int
	Err    error
	Detail string // ncclGetLastError's text, when it adds to Err
}

func (e *RankError) Error() string {
	s := fmt.Sprintf("rank %d: %v", e.Rank, e.Err)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *RankError) Unwrap() error { return e.Err }

// UniqueID creates the id of a new communicator (on rank 0; the others get
// it through the rendezvous, package dist).
func (n *NCCL) UniqueID() ([NCCLUniqueIDBytes]byte, error) {
	var id [NCCLUniqueIDBytes]byte
	r, _, _ := purego.SyscallN(n.getUniqueID, uintptr(unsafe.Pointer(&id[0])))
	runtime.KeepAlive(&id)
	return id, n.check(-1, "ncclGetUniqueId", r)
}

// NCCLComm is one rank's communicator.
type NCCLComm struct {
	n          *NCCL
	h          uintptr // ncclComm_t
	rank, size int
}

// InitRank joins the communicator of id as rank of size (blocking until
// every rank has joined; the caller's CUDA context must be current on this
// OS thread, with the rank's device). The rendezvous has already seen every
// peer alive just before, so a missing rank does not leave this hanging
// unless it dies in between.
func (n *NCCL) InitRank(id [NCCLUniqueIDBytes]byte, size, rank int) (*NCCLComm, error) {
	if err := n.Usable(); err != nil {
		return nil, fmt.Errorf("rank %d: %w", rank, err)
	}
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("rank %d: not a rank of a communicator of %d", rank, size)
	}
	var comm uintptr
	// (newcomm, nranks, myrank, nId, commIds, config = NULL: defaults, blocking)
	r, _, _ := purego.SyscallN(n.commInitRankScalable, uintptr(unsafe.Pointer(&comm)), uintptr(size), uintptr(rank), 1,
		uintptr(unsafe.Pointer(&id[0])), 0)
	runtime.KeepAlive(&id)
	if err := n.check(rank, "ncclCommInitRankScalable", r); err != nil {
		n.addDetail(err, 0)
		return nil, err
	}
	return &NCCLComm{n: n, h: comm, rank: rank, size: size}, nil
}

// addDetail appends ncclGetLastError's text to a RankError.
func (n *NCCL) addDetail(err error, comm uintptr) {
	var re *RankError
	if n.getLastError == 0 || !errors.As(err, &re) {
		return
	}
	p, _, _ := purego.SyscallN(n.getLastError, comm)
	if d := strings.TrimSpace(goString(p)); d != "" && !strings.Contains(re.Err.Error(), d) {
		re.Detail = d
	}
}

func (c *NCCLComm) Rank() int { return c.rank }
func (c *NCCLComm) Size() int { return c.size }

func (c *NCCLComm) check(fn string, r uintptr) error {
	if err := c.n.check(-1, fn, r); err != nil {
		return c.rankError(err)
	}
	return nil
}

// AllReduce enqueues ncclAllReduce of count elements from send to recv
// (device addresses; the same address reduces in place) on stream. It
// returns when the operation is enqueued; Wait tells when it is done.
func (c *NCCLComm) AllReduce(send, recv DevPtr, count int, dtype NCCLDataType, op NCCLRedOp, stream uintptr) error {
	r, _, _ := purego.SyscallN(c.n.allReduce, uintptr(send), uintptr(recv), uintptr(count), uintptr(dtype), uintptr(op), c.h, stream)
	return c.check("ncclAllReduce", r)
}

// AsyncError is the communicator's asynchronous state: nil while healthy,
// else the rank's error (a peer that died shows as ncclRemoteError or
// ncclSystemError).
func (c *NCCLComm) AsyncError() error {
	if err := c.asyncError(); err != nil {
		return c.rankError(err)
	}
	return nil
}

func (c *NCCLComm) asyncError() error {
	var state int32
	r, _, _ := purego.SyscallN(c.n.commGetAsyncError, c.h, uintptr(unsafe.Pointer(&state)))
	if err := c.n.check(-1, "ncclCommGetAsyncError", r); err != nil {
		return err
	}
	if state == 0 || state == 7 { // ncclSuccess, ncclInProgress
		return nil
	}
	return c.n.check(-1, "the communicator (ncclCommGetAsyncError)", uintptr(state))
}

// rankError names the rank and adds NCCL's last error text.
func (c *NCCLComm) rankError(err error) error {
	re := &RankError{Rank: c.rank, Err: err}
	c.n.addDetail(re, c.h)
	return re
}

// Wait polls done (e.g. a stream query) until it reports the enqueued work
// finished, checking the communicator's asynchronous error between polls;
// an error, or no completion within timeout (a peer that is gone or
// stuck), aborts the communicator and fails with the rank's error.
//
// stop (nil: never) is the run's stop request (a signal): once it is
// closed, the work still has grace to finish (a healthy peer finishing its
// step and reaching the agreed stop), after which Wait aborts and fails
// saying that the ranks it was waiting on did not answer. On one node a
// dead peer raises no asynchronous error (the P2P and SHM transports do
// not notice), so without the stop request only the timeout ends the wait.
func (c *NCCLComm) Wait(timeout time.Duration, stop <-chan struct{}, grace time.Duration, done func() (bool, error)) error {
	err := pollComm(pollSpec{timeout: timeout, interval: time.Millisecond, stop: stop, grace: grace, peers: otherRanks(c.rank, c.size)}, done, c.asyncError)
	if err != nil {
		err = c.rankError(err)
		c.Abort()
		return err
	}
	return nil
}

// pollSpec is what Wait's loop watches besides the work.
type pollSpec struct {
	timeout, interval time.Duration
	stop              <-chan struct{} // the stop request; nil: none
	grace             time.Duration   // after stop is closed
	peers             string          // the ranks waited on, for the message
}

// otherRanks names the ranks other than rank of size: "rank 1", "ranks 0, 2, 3", "the other 63 ranks".
func otherRanks(rank, size int) string {
	var others []string
	for r := range size {
		if r != rank {
			others = append(others, strconv.Itoa(r))
		}
	}
	switch {
	case len(others) == 0:
		return "no other rank"
	case len(others) == 1:
		return "rank " + others[0]
	case len(others) <= 8:
		return "ranks " + strings.Join(others, ", ")
	}
	return fmt.Sprintf("the other %d ranks", len(others))
}

// pollComm is Wait's loop: done's completion, its error or the async
// error, a timeout, or the stop request's grace running out.
func pollComm(p pollSpec, done func() (bool, error), asyncErr func() error) error {
	deadline := time.Now().Add(p.timeout)
	stop := p.stop
	var stopDeadline time.Time
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := asyncErr(); err != nil {
			return fmt.Errorf("NCCL communicator failed: %w", err)
		}
		now := time.Now()
		if stop != nil {
			select {
			case <-stop:
				stopDeadline, stop = now.Add(p.grace), nil
			default:
			}
		}
		if !stopDeadline.IsZero() && now.After(stopDeadline) {
			peers := p.peers
			if peers == "" {
				peers = "its peers"
			}
			return fmt.Errorf("the ranks it was waiting on (%s) did not answer within %s after the stop request (gone or stuck): NCCL communicator aborted", peers, p.grace)
		}
		if now.After(deadline) {
			return fmt.Errorf("NCCL operation did not complete within %s (a peer is gone or stuck): communicator aborted", p.timeout)
		}
		time.Sleep(p.interval)
	}
}

// Destroy frees the communicator after its work has finished.
func (c *NCCLComm) Destroy() error {
	if c.h == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(c.n.commDestroy, c.h)
	c.h = 0
	return c.check("ncclCommDestroy", r)
}

// Abort frees the communicator without waiting for its work (after an
// error: a dead peer's operations never finish).
func (c *NCCLComm) Abort() error {
	if c.h == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(c.n.commAbort, c.h)
	c.h = 0
	if err := c.n.check(-1, "ncclCommAbort", r); err != nil {
		return &RankError{Rank: c.rank, Err: err}
	}
	return nil
}

// NCCLInfo is what `fnet-tui doctor` reports about NCCL.
type NCCLInfo struct {
	Path    string
	Version string
	Err     error // not found, or not usable (too old)
}

// ProbeNCCL loads NCCL (once) and describes it.
func ProbeNCCL() NCCLInfo {
	n, err := LoadNCCL()
	if err != nil {
		return NCCLInfo{Err: err}
	}
	return NCCLInfo{Path: n.Path(), Version: n.Version(), Err: n.Usable()}
}
