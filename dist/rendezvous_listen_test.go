package dist

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A world whose rank 0 is at a loopback address (a --gpus launch) is
// served on loopback only; any other address listens on every interface,
// since MASTER_ADDR may not be an address of rank 0's own.
func TestListenBindsLoopbackForALocalWorld(t *testing.T) {
	for _, c := range []struct {
		addr     string
		loopback bool
	}{{"127.0.0.1", true}, {"::1", true}, {"node1", false}, {"10.1.2.3", false}} {
		s, err := Listen(World{Size: 2, MasterAddr: c.addr}, Options{})
		if err != nil {
			if c.addr == "::1" {
				continue // no IPv6 loopback on this host
			}
			t.Fatal(err)
		}
		ip := s.ln.Addr().(*net.TCPAddr).IP
		s.Close()
		if ip.IsLoopback() != c.loopback {
			t.Errorf("MASTER_ADDR=%s: rank 0 listens on %v", c.addr, ip)
		}
	}
}

// flakyListener fails its first Accepts as a listener out of file
// descriptors does.
type flakyListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, errors.New("accept tcp: too many open files")
	}
	return l.Listener.Accept()
}

// A failed Accept does not end the rendezvous: the peer that comes next
// still joins; and if one never comes, rank 0's error gives the cause.
func TestTCPRendezvousSurvivesAFailedAccept(t *testing.T) {
	id := randomID(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: inner}
	fl.failures.Store(3)
	o := local
	o.Timeout = 5 * time.Second
	s := &Server{w: world(0, 2, 0), o: o, ln: fl}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), "job", id) }()
	got, err := Fetch(context.Background(), world(1, 2, s.Port()), "job", local)
	if err != nil || got != id {
		t.Fatalf("rank 1 after failed accepts: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("rank 0: %v", err)
	}

	inner, _ = net.Listen("tcp", "127.0.0.1:0")
	fl = &flakyListener{Listener: inner}
	fl.failures.Store(1)
	o.Timeout = 300 * time.Millisecond
	s = &Server{w: world(0, 2, 0), o: o, ln: fl}
	err = s.Serve(context.Background(), "job", id)
	if err == nil || !strings.Contains(err.Error(), "rank 1 of 2 did not join") || !strings.Contains(err.Error(), "too many open files") {
		t.Errorf("rank 0's error %v should name the missing rank and the failed accept", err)
	}
}
