package dist

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
)

// handshake is a peer's opening as Fetch writes it, then its acknowledgement.
func handshake(rank, size uint32, runID string, tail ...byte) []byte {
	var b bytes.Buffer
	b.Write(magic[:])
	binary.Write(&b, binary.BigEndian, rank)
	binary.Write(&b, binary.BigEndian, size)
	binary.Write(&b, binary.BigEndian, uint16(len(runID)))
	b.WriteString(runID)
	b.Write(tail)
	return b.Bytes()
}

var fuzzListener struct {
	once sync.Once
	ln   net.Listener
	err  error
}

// FuzzRendezvousHandshake sends rank 0's server whatever a peer (or a
// stray process at MASTER_PORT) might send. The server must never panic,
// and must hand out the id exactly when the bytes are a well-formed opening
// of this run, this world size and a peer's rank — decided here by a
// separate reading of the bytes — and count the peer as joined only when
// the acknowledgement follows.
func FuzzRendezvousHandshake(f *testing.F) {
	f.Add(handshake(1, 3, "job", ack))
	f.Add(handshake(2, 3, "job"))
	f.Add(handshake(1, 3, "other", ack))
	f.Add(handshake(0, 3, "job", ack))
	f.Add(handshake(1, 4, "job", ack))
	f.Add(handshake(1, 3, "job", 0x15))
	f.Add(handshake(1, 3, "jo"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(append(magic[:], 0, 0, 0, 1, 0, 0, 0, 3, 0xff, 0xff))
	const runID, size = "job", 3
	var id ID
	for i := range id {
		id[i] = byte(i*7 + 1)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzListener.once.Do(func() { fuzzListener.ln, fuzzListener.err = net.Listen("tcp", "127.0.0.1:0") })
		if fuzzListener.err != nil {
			t.Skip(fuzzListener.err)
		}
		client, err := net.Dial("tcp", fuzzListener.ln.Addr().String())
		if err != nil {
			t.Skip(err)
		}
		defer client.Close()
		server, err := fuzzListener.ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		replies := make(chan []byte, 1)
		go func() {
			client.Write(data)
			client.(*net.TCPConn).CloseWrite() // no more from the peer: a short opening ends in EOF
			b, _ := io.ReadAll(client)
			replies <- b
		}()
		s := &Server{w: World{Size: size}}
		rank, err := s.exchange(server, runID, id, func(int) string { return "" })
		server.Close()
		got := <-replies

		// The separate reading: magic, rank, size, run id length and bytes.
		wellFormed := len(data) >= 18 && bytes.Equal(data[:8], magic[:])
		var pr, ps uint32
		var n int
		if wellFormed {
			pr, ps = binary.BigEndian.Uint32(data[8:]), binary.BigEndian.Uint32(data[12:])
			n = int(binary.BigEndian.Uint16(data[16:]))
			wellFormed = n <= maxRunID && len(data) >= 18+n
		}
		admitted := wellFormed && string(data[18:18+n]) == runID && ps == size && pr >= 1 && pr < size
		sentID := bytes.HasPrefix(got, append([]byte{replyID}, id[:]...))
		if sentID != admitted {
			t.Fatalf("id sent %v for an opening that should be admitted: %v (reply % x, err %v)", sentID, admitted, got, err)
		}
		acked := admitted && len(data) > 18+n && data[18+n] == ack
		if (err == nil) != acked || (acked && rank != int(pr)) {
			t.Fatalf("exchange = rank %d, %v; want joined %v (rank %d)", rank, err, acked, pr)
		}
		if !sentID && len(got) > 0 && got[0] != replyRefused {
			t.Fatalf("a refused peer got % x, not a refusal", got)
		}
	})
}
