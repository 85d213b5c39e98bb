package dist

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

// IDSize is the size of the id the ranks share: NCCL's ncclUniqueId is 128
// opaque bytes.
const IDSize = 128

// ID is the opaque id rank 0 creates and every rank needs (ncclUniqueId).
type ID [IDSize]byte

// Options tune a rendezvous.
type Options struct {
	// Timeout bounds the whole rendezvous on every rank: rank 0 waits this
	// long for all peers, a peer this long for rank 0. DefaultTimeout when 0.
	Timeout time.Duration
	// Retry is the pause between a peer's connection attempts (rank 0 may
	// start later than its peers) and between polls of a rendezvous file.
	// DefaultRetry when 0.
	Retry time.Duration
	// Bind is the host rank 0 listens on; "" listens on every interface
	// (MASTER_ADDR is the peers' way to it, which may not be an address of
	// rank 0's own, e.g. behind NAT).
	Bind string
}

const (
	DefaultTimeout = 5 * time.Minute
	DefaultRetry   = 250 * time.Millisecond
	// handshake: one exchange on a connection may take this long
	exchangeTimeout = 30 * time.Second
	acceptRetry     = 50 * time.Millisecond // after a failed Accept
	maxRunID        = 1024
)

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o Options) retry() time.Duration {
	if o.Retry > 0 {
		return o.Retry
	}
	return DefaultRetry
}

// Rendezvous gives every rank of w the same ID: rank 0 calls create and
// shares the result, through w.RendezvousFile when it is set, else over TCP
// at w.MasterAddr:w.MasterPort; the others receive it. runID names the
// job: a peer of another job is refused (TCP) or ignored (file). A world of
// one just calls create. Rank 0 returns once every peer has confirmed it
// received the id, so a missing peer fails the job here, with its rank, and
// not later inside NCCL.
func Rendezvous(ctx context.Context, w World, runID string, create func() (ID, error), o Options) (ID, error) {
	if w.IsSingle() {
		return create()
	}
	if w.RendezvousFile != "" {
		if w.Rank == 0 {
			id, err := create()
			if err != nil {
				return ID{}, err
			}
			return id, ServeFile(ctx, w, runID, id, o)
		}
		return FetchFile(ctx, w, runID, o)
	}
	if w.Rank == 0 {
		s, err := Listen(w, o)
		if err != nil {
			return ID{}, err
		}
		defer s.Close()
		id, err := create()
		if err != nil {
			return ID{}, err
		}
		return id, s.Serve(ctx, runID, id)
	}
	return Fetch(ctx, w, runID, o)
}

// The TCP exchange, one connection per peer:
//
//	peer → rank 0   "FNETRDZ1", rank uint32, size uint32, len uint16, run id
//	rank 0 → peer   0x00 and the 128-byte id, or 0x01, len uint16, refusal text
//	peer → rank 0   0x06 (received)
var magic = [8]byte{'F', 'N', 'E', 'T', 'R', 'D', 'Z', '1'}

const (
	replyID      = 0x00
	replyRefused = 0x01
	ack          = 0x06
)

// Server is rank 0's side of a TCP rendezvous.
type Server struct {
	w  World
	o  Options
	ln net.Listener
}

// Listen opens rank 0's rendezvous port (w.MasterPort; 0 picks a free one,
// for tests: see Port).
func Listen(w World, o Options) (*Server, error) {
	bind := o.Bind
	if ip := net.ParseIP(w.MasterAddr); bind == "" && ip != nil && ip.IsLoopback() {
		bind = w.MasterAddr // every rank is on this machine (--gpus): nobody else needs the port
	}
	addr := net.JoinHostPort(bind, strconv.Itoa(w.MasterPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rank 0: serving the rendezvous on %s: %w (is another job using MASTER_PORT=%d? choose another)", addr, err, w.MasterPort)
	}
	return &Server{w: w, o: o, ln: ln}, nil
}

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening.
func (s *Server) Close() error { return s.ln.Close() }

// RefusedError is a peer that rank 0 turned away.
type RefusedError struct {
	Rank   int    // the refused peer's rank
	Addr   string // rank 0's address, as the peer dialled it
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("rank %d: rank 0 at %s refused the rendezvous: %s", e.Rank, e.Addr, e.Reason)
}

// Serve (once per Server) hands id to every other rank of the world that
// presents runID and returns when all have confirmed, or fails after the
// timeout naming the ranks that never came. Peers that present another run id, world size or
// a rank already served are refused (they get the reason) and do not
// count; they do not stop the rendezvous, so a stray process from an
// earlier job cannot fail this one.
func (s *Server) Serve(ctx context.Context, runID string, id ID) error {
	timeout := s.o.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu       sync.Mutex
		joined   = map[int]bool{} // ranks that confirmed the id
		claimed  = map[int]bool{} // ranks being served or served
		refusals []string
		all      = make(chan struct{})
		conns    sync.WaitGroup
	)
	need := s.w.Size - 1
	if need <= 0 {
		return nil
	}
	go func() {
		<-ctx.Done()
		s.ln.Close() // unblocks Accept
	}()
	var acceptErr error // the last failed Accept, for the timeout's message
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			// Out of file descriptors, a connection reset before it was
			// accepted: the listener still works, and the ranks still to
			// come must not be told they never joined.
			acceptErr = err
			select {
			case <-ctx.Done():
			case <-time.After(acceptRetry):
			}
			continue
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() }) // the timeout ends every exchange
			defer stop()
			claimedHere := -1
			rank, err := s.exchange(c, runID, id, func(rank int) string {
				mu.Lock()
				defer mu.Unlock()
				if claimed[rank] {
					return fmt.Sprintf("rank %d has already joined this rendezvous (two processes with one rank?)", rank)
				}
				claimed[rank] = true // before the id is sent: a second process of this rank is refused
				claimedHere = rank
				return ""
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if claimedHere >= 0 {
					delete(claimed, claimedHere) // the peer died mid-exchange: its rank may come again
				}
				var ref *RefusedError
				if errors.As(err, &ref) && len(refusals) < 8 {
					refusals = append(refusals, fmt.Sprintf("%s (rank %d) refused: %s", c.RemoteAddr(), ref.Rank, ref.Reason))
				}
				return
			}
			joined[rank] = true
			if len(joined) == need {
				close(all)
				cancel()
			}
		}()
	}
	conns.Wait()
	select {
	case <-all:
		return nil
	default:
	}
	var missing []int
	for r := 1; r < s.w.Size; r++ {
		if !joined[r] {
			missing = append(missing, r)
		}
	}
	why := fmt.Sprintf("did not join within %s", timeout)
	if errors.Is(context.Cause(ctx), context.Canceled) {
		why = "had not joined when the rendezvous was cancelled"
	}
	msg := fmt.Sprintf("rank 0: rendezvous on port %d: %s of %d %s", s.Port(), rankList(missing), s.w.Size, why)
	if len(refusals) > 0 {
		msg += "; " + strings.Join(refusals, "; ")
	}
	if acceptErr != nil {
		msg += fmt.Sprintf("; accepting connections failed: %v", acceptErr)
	}
	return errors.New(msg)
}

// exchange runs one peer's handshake; it returns the peer's rank once the
// peer confirmed the id, or the reason it was refused (a *RefusedError).
func (s *Server) exchange(c net.Conn, runID string, id ID, taken func(int) string) (int, error) {
	c.SetDeadline(time.Now().Add(exchangeTimeout))
	r := bufio.NewReader(c)
	var hdr struct {
		Magic [8]byte
		Rank  uint32
		Size  uint32
		N     uint16
	}
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return -1, err
	}
	if hdr.Magic != magic {
		return -1, &RefusedError{Rank: -1, Reason: "not an fnet-tui rendezvous client"}
	}
	if hdr.N > maxRunID {
		return -1, refuse(c, int(hdr.Rank), fmt.Sprintf("run id of %d bytes (at most %d)", hdr.N, maxRunID))
	}
	peerRun := make([]byte, hdr.N)
	if _, err := io.ReadFull(r, peerRun); err != nil {
		return -1, err
	}
	rank := int(hdr.Rank)
	switch {
	// The peer is told what of its own was wrong, never rank 0's values: a
	// stray client must not learn the run id (and then the NCCL id) by
	// asking with a wrong one. Rank 0's error keeps both sides.
	case string(peerRun) != runID:
		return -1, refuseSaying(c, rank, fmt.Sprintf("run id %q is not the run rank 0 serves: ranks of two different jobs met at one MASTER_ADDR:MASTER_PORT", peerRun),
			fmt.Sprintf("run id %q, but rank 0 serves run %q: ranks of two different jobs met at one MASTER_ADDR:MASTER_PORT", peerRun, runID))
	case int(hdr.Size) != s.w.Size:
		return -1, refuseSaying(c, rank, fmt.Sprintf("world size %d is not rank 0's", hdr.Size),
			fmt.Sprintf("world size %d, but rank 0's is %d", hdr.Size, s.w.Size))
	case rank < 1 || rank >= s.w.Size:
		return -1, refuse(c, rank, fmt.Sprintf("rank %d is not a peer's rank in a world of %d", rank, s.w.Size))
	}
	if why := taken(rank); why != "" {
		return -1, refuse(c, rank, why)
	}
	if _, err := c.Write(append([]byte{replyID}, id[:]...)); err != nil {
		return -1, err
	}
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return -1, err
	}
	if b[0] != ack {
		return -1, fmt.Errorf("rank %d answered %#x, not the acknowledgement", rank, b[0])
	}
	return rank, nil
}

// refuseSaying refuses a peer with told, and returns the refusal with
// what rank 0 knows (kept for its own error).
func refuseSaying(c net.Conn, rank int, told, reason string) error {
	refuse(c, rank, told)
	return &RefusedError{Rank: rank, Reason: reason}
}

func refuse(c net.Conn, rank int, reason string) error {
	if len(reason) > 60000 {
		reason = reason[:60000]
	}
	msg := make([]byte, 3+len(reason))
	msg[0] = replyRefused
	binary.BigEndian.PutUint16(msg[1:], uint16(len(reason)))
	copy(msg[3:], reason)
	c.Write(msg)
	return &RefusedError{Rank: rank, Reason: reason}
}

// Fetch is a peer's side of a TCP rendezvous: it connects to rank 0 at
// w.MasterAddr:w.MasterPort, retrying while rank 0 is not up yet, and
// returns the id. A refusal is final; not reaching rank 0 within the
// timeout fails with the last connection error.
func Fetch(ctx context.Context, w World, runID string, o Options) (ID, error) {
	timeout := o.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(w.MasterAddr, strconv.Itoa(w.MasterPort))
	var last error
	attempts := 0
	for {
		attempts++
		id, err := fetchOnce(ctx, addr, w, runID)
		if err == nil {
			return id, nil
		}
		var ref *RefusedError
		if errors.As(err, &ref) {
			return ID{}, err
		}
		last = err
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return ID{}, fmt.Errorf("rank %d: no rendezvous with rank 0 at %s within %s (%d attempts; last: %v): is rank 0 running, and is MASTER_ADDR:MASTER_PORT its address?", w.Rank, addr, timeout, attempts, last)
			}
			return ID{}, fmt.Errorf("rank %d: rendezvous with rank 0 at %s cancelled: %w", w.Rank, addr, ctx.Err())
		case <-time.After(o.retry()):
		}
	}
}

func fetchOnce(ctx context.Context, addr string, w World, runID string) (ID, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return ID{}, err
	}
	defer c.Close()
	deadline := time.Now().Add(exchangeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	hello := make([]byte, 0, 18+len(runID))
	hello = append(hello, magic[:]...)
	hello = binary.BigEndian.AppendUint32(hello, uint32(w.Rank))
	hello = binary.BigEndian.AppendUint32(hello, uint32(w.Size))
	hello = binary.BigEndian.AppendUint16(hello, uint16(len(runID)))
	hello = append(hello, runID...)
	if _, err := c.Write(hello); err != nil {
		return ID{}, err
	}
	r := bufio.NewReader(c)
	kind, err := r.ReadByte()
	if err != nil {
		return ID{}, err
	}
	switch kind {
	case replyID:
		var id ID
		if _, err := io.ReadFull(r, id[:]); err != nil {
			return ID{}, err
		}
		if _, err := c.Write([]byte{ack}); err != nil {
			return ID{}, err
		}
		return id, nil
	case replyRefused:
		var n uint16
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return ID{}, err
		}
		reason := make([]byte, n)
		if _, err := io.ReadFull(r, reason); err != nil {
			return ID{}, err
		}
		return ID{}, &RefusedError{Rank: w.Rank, Addr: addr, Reason: string(reason)}
	}
	return ID{}, fmt.Errorf("rank 0 at %s answered %#x: not an fnet-tui rendezvous", addr, kind)
}

// The file rendezvous: rank 0 writes the id file atomically; each peer
// polls for it and, having read an id of its run, writes
// <file>.ack.<rank>; rank 0 returns once every peer's acknowledgement
// carries its nonce, then removes the files. The nonce tells a stale file
// of an earlier job that used the same run id from this one.
type idFile struct {
	RunID     string `json:"run_id"`
	WorldSize int    `json:"world_size"`
	Nonce     string `json:"nonce"`
	ID        string `json:"id"` // hex
}

type ackFile struct {
	RunID string `json:"run_id"`
	Rank  int    `json:"rank"`
	Nonce string `json:"nonce"`
}

func writeIDFile(path, runID string, size int, nonce string, id ID) error {
	data, _ := json.Marshal(idFile{RunID: runID, WorldSize: size, Nonce: nonce, ID: hex.EncodeToString(id[:])})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

func ackPath(path string, rank int) string { return fmt.Sprintf("%s.ack.%d", path, rank) }

// ServeFile is rank 0's side of a file rendezvous.
func ServeFile(ctx context.Context, w World, runID string, id ID, o Options) error {
	path := w.RendezvousFile
	timeout := o.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var nb [16]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return err
	}
	nonce := hex.EncodeToString(nb[:])
	for r := 1; r < w.Size; r++ { // an earlier job's acknowledgements
		os.Remove(ackPath(path, r))
	}
	if err := writeIDFile(path, runID, w.Size, nonce, id); err != nil {
		return fmt.Errorf("rank 0: writing the rendezvous file: %w", err)
	}
	joined := map[int]bool{}
	stale := map[int]bool{}
	for {
		for r := 1; r < w.Size; r++ {
			if joined[r] {
				continue
			}
			b, err := os.ReadFile(ackPath(path, r))
			if err != nil {
				continue
			}
			var a ackFile
			if json.Unmarshal(b, &a) != nil || a.RunID != runID || a.Rank != r {
				continue
			}
			if a.Nonce != nonce {
				stale[r] = true
				continue
			}
			joined[r] = true
		}
		if len(joined) == w.Size-1 {
			os.Remove(path)
			for r := 1; r < w.Size; r++ {
				os.Remove(ackPath(path, r))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			var missing []int
			for r := 1; r < w.Size; r++ {
				if !joined[r] {
					missing = append(missing, r)
				}
			}
			msg := fmt.Sprintf("rank 0: rendezvous file %s: %s of %d did not acknowledge within %s", path, rankList(missing), w.Size, timeout)
			if len(stale) > 0 {
				var s []int
				for r := range stale {
					s = append(s, r)
				}
				sort.Ints(s)
				msg += fmt.Sprintf("; %s acknowledged an earlier file of run %q (a stale file: give each job its own FNET_RENDEZVOUS_FILE)", rankList(s), runID)
			}
			return errors.New(msg)
		case <-time.After(o.retry()):
		}
	}
}

func rankList(rs []int) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = strconv.Itoa(r)
	}
	if len(rs) == 1 {
		return "rank " + s[0]
	}
	return "ranks " + strings.Join(s, ", ")
}

// FetchFile is a peer's side of a file rendezvous: it polls
// w.RendezvousFile until it holds an id of runID and this world size,
// acknowledges it and returns it. A file of another run is taken for a
// stale one and waited past; the timeout error says what was found.
func FetchFile(ctx context.Context, w World, runID string, o Options) (ID, error) {
	path := w.RendezvousFile
	timeout := o.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	found := "no file"
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var f idFile
			var raw []byte
			switch {
			case json.Unmarshal(b, &f) != nil:
				found = "a file that is not a rendezvous file"
			case f.RunID != runID:
				found = fmt.Sprintf("a file of run %q", f.RunID)
			case f.WorldSize != w.Size:
				found = fmt.Sprintf("a file for a world of %d", f.WorldSize)
			default:
				if raw, err = hex.DecodeString(f.ID); err != nil || len(raw) != IDSize {
					found = fmt.Sprintf("a file whose id is not %d hex bytes", IDSize)
					break
				}
				data, _ := json.Marshal(ackFile{RunID: runID, Rank: w.Rank, Nonce: f.Nonce})
				if err := atomicfile.Write(ackPath(path, w.Rank), data, 0o644); err != nil {
					return ID{}, fmt.Errorf("rank %d: acknowledging the rendezvous file: %w", w.Rank, err)
				}
				var id ID
				copy(id[:], raw)
				return id, nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			found = err.Error()
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return ID{}, fmt.Errorf("rank %d: no id of run %q in the rendezvous file %s within %s (found %s): is rank 0 running, and does every rank see this file (a shared filesystem)?", w.Rank, runID, path, timeout, found)
			}
			return ID{}, fmt.Errorf("rank %d: rendezvous cancelled: %w", w.Rank, ctx.Err())
		case <-time.After(o.retry()):
		}
	}
}
