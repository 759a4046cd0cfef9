package phalanx

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/lb"
	"github.com/stretchr/testify/require"
)

// tcpBenchSize is the bytes sent per benchmark iteration. 16 iterations
// make 1 GiB:
//
//	go test -run '^$' -bench TCPThroughput -benchtime 16x .
//
// "ratio" sends 1 GiB each way, direct and proxied, interleaved, and
// reports both rates and their ratio from the same run.
const tcpBenchSize = 64 << 20

// tcpSink reads to EOF, then acknowledges with the count of bytes read
// (8 bytes, big-endian), so that a transfer is timed to its delivery.
func tcpSink(c net.Conn) {
	buf := make([]byte, 256<<10)
	var n uint64
	for {
		k, err := c.Read(buf)
		n += uint64(k)
		if err != nil {
			break
		}
	}
	c.Write(binary.BigEndian.AppendUint64(nil, n))
}

// tcpSend sends size bytes to addr in chunks, half-closes, and waits for
// the sink's acknowledgement.
func tcpSend(b *testing.B, addr string, chunk []byte, size int) {
	c, err := net.DialTimeout("tcp", addr, tcpWait)
	require.NoError(b, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := c.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, c.(*net.TCPConn).CloseWrite())
	var ack [8]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		b.Fatalf("reading the acknowledgement: %v", err)
	}
	if got := binary.BigEndian.Uint64(ack[:]); got != uint64(size) {
		b.Fatalf("sink got %d bytes, want %d", got, size)
	}
}

// tcpPlainConn hides *net.TCPConn's ReadFrom and WriteTo, so that the
// proxy copies through a user-space buffer instead of splicing.
type tcpPlainConn struct{ net.Conn }

func (c tcpPlainConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

func BenchmarkTCPThroughput(b *testing.B) {
	sink := startTCPServer(b, tcpSink)
	pool, _ := tcpPool(b, lb.RoundRobinName, sink.addr())
	_, proxied, _ := startTCPProxy(b, tcpConfig{pool: pool})
	copyPool, _ := tcpPool(b, lb.RoundRobinName, sink.addr())
	_, copied, _ := startTCPProxy(b, tcpConfig{pool: copyPool, dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return tcpPlainConn{c}, nil
	}})
	chunk := make([]byte, 1<<20)
	for _, bc := range []struct{ name, addr string }{
		{"direct", sink.addr()},
		{"proxied", proxied},
		{"proxied-nosplice", copied},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(tcpBenchSize)
			for b.Loop() {
				tcpSend(b, bc.addr, chunk, tcpBenchSize)
			}
		})
	}
	b.Run("ratio", func(b *testing.B) {
		var direct, viaProxy time.Duration
		for b.Loop() {
			start := time.Now()
			tcpSend(b, sink.addr(), chunk, tcpBenchSize)
			mid := time.Now()
			tcpSend(b, proxied, chunk, tcpBenchSize)
			direct += mid.Sub(start)
			viaProxy += time.Since(mid)
		}
		mbps := func(d time.Duration) float64 { return float64(b.N) * tcpBenchSize / 1e6 / d.Seconds() }
		b.ReportMetric(mbps(direct), "direct-MB/s")
		b.ReportMetric(mbps(viaProxy), "proxied-MB/s")
		b.ReportMetric(mbps(viaProxy)/mbps(direct), "proxied/direct")
	})
}
