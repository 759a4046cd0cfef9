package phalanx_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// grpcMaxMsg is the message size limit of the test clients and servers,
// above the 8 MiB payloads of the large-message cases.
const grpcMaxMsg = 16 << 20

// grpcTestServer implements the interop TestService behind the proxy.
// Its channels are made by newGRPCTestServer and never replaced, so the
// handlers may read the fields without a lock.
type grpcTestServer struct {
	testgrpc.UnimplementedTestServiceServer
	// waited receives what a UnaryCall with metadata x-mode: wait saw
	// when it stopped waiting for its context.
	waited chan grpcWaitReport
	// firstSeen, once closed, lets StreamingOutputCall send its responses
	// after the first.
	firstSeen chan struct{}
}

// grpcWaitReport is what a waiting handler observed.
type grpcWaitReport struct {
	err         error // ctx.Err(), or a note that the context outlived the wait
	hadDeadline bool  // the handler's context carried a deadline (grpc-timeout)
}

func newGRPCTestServer() *grpcTestServer {
	return &grpcTestServer{waited: make(chan grpcWaitReport, 1), firstSeen: make(chan struct{})}
}

// UnaryCall echoes the request payload. It returns the status of
// ResponseStatus if set, copies metadata x-test-in into the response
// header x-test-header and trailer x-test-trailer, and with metadata
// x-mode: wait blocks until its context ends.
func (s *grpcTestServer) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if mdFirst(md.Get("x-mode")) == "wait" {
		_, hadDeadline := ctx.Deadline()
		select {
		case <-ctx.Done():
			s.waited <- grpcWaitReport{err: ctx.Err(), hadDeadline: hadDeadline}
		case <-time.After(5 * time.Second):
			s.waited <- grpcWaitReport{err: errors.New("context still live after 5s"), hadDeadline: hadDeadline}
		}
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if rs := req.GetResponseStatus(); rs != nil {
		return nil, status.Error(codes.Code(rs.Code), rs.Message)
	}
	if in := mdFirst(md.Get("x-test-in")); in != "" {
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-test-header", "header:"+in)); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, metadata.Pairs("x-test-trailer", "trailer:"+in)); err != nil {
			return nil, err
		}
	}
	return &testgrpc.SimpleResponse{Payload: req.GetPayload()}, nil
}

// FullDuplexCall answers each request at once with its own payload.
func (s *grpcTestServer) FullDuplexCall(stream grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}

// StreamingOutputCall sends one response per ResponseParameters, of that
// size, filled with its index, then the status of ResponseStatus if set.
// With metadata x-mode: gate it waits for firstSeen after the first
// response, so the rest only go out once the client has the first one.
func (s *grpcTestServer) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	for i, p := range req.GetResponseParameters() {
		body := bytes.Repeat([]byte{byte(i)}, int(p.GetSize()))
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: body}}); err != nil {
			return err
		}
		if i == 0 && mdFirst(md.Get("x-mode")) == "gate" {
			select {
			case <-s.firstSeen:
			case <-stream.Context().Done():
				return stream.Context().Err()
			case <-time.After(5 * time.Second):
				return status.Error(codes.Aborted, "the first response did not reach the client within 5s")
			}
		}
	}
	if rs := req.GetResponseStatus(); rs != nil {
		return status.Error(codes.Code(rs.Code), rs.Message)
	}
	return nil
}

// StreamingInputCall answers with the total size of the payloads received.
func (s *grpcTestServer) StreamingInputCall(stream grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	var total int32
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: total})
		}
		if err != nil {
			return err
		}
		total += int32(len(req.GetPayload().GetBody()))
	}
}

// mdFirst returns the first of a metadata key's values, or "".
func mdFirst(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// startGRPCBackend serves s over h2c on a loopback port until the test
// ends, and returns the address and a func that stops the server early.
func startGRPCBackend(t *testing.T, s *grpcTestServer) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(grpcMaxMsg), grpc.MaxSendMsgSize(grpcMaxMsg))
	testgrpc.RegisterTestServiceServer(srv, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	stop := func() {
		srv.Stop()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("grpc backend did not stop within 5s")
		}
	}
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

// startGRPCProxy starts a Server with one upstream, the h2c gRPC backend
// at backend, and returns its address.
func startGRPCProxy(t *testing.T, backend string, opts ...phalanx.Option) string {
	t.Helper()
	opts = append([]phalanx.Option{
		phalanx.WithLogger(discard()),
		phalanx.WithUpstream(phalanx.Upstream{Name: "grpc", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: backend, Protocol: "h2c"}}}),
	}, opts...)
	url, _ := startProxy(t, opts...)
	return strings.TrimPrefix(url, "http://")
}

// dialGRPC returns a TestService client of addr, closed when the test
// ends. Without creds it uses insecure credentials, which grpc-go sends
// as h2c with prior knowledge.
func dialGRPC(t *testing.T, addr string, creds credentials.TransportCredentials) testgrpc.TestServiceClient {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(grpcMaxMsg), grpc.MaxCallSendMsgSize(grpcMaxMsg)))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

// grpcCtx bounds one call of a test.
func grpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGRPCThroughProxy(t *testing.T) {
	checkNoLeaks(t)
	be := newGRPCTestServer()
	backend, _ := startGRPCBackend(t, be)
	addr := startGRPCProxy(t, backend)
	c := dialGRPC(t, addr, nil)

	t.Run("unary with metadata", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(grpcCtx(t), "x-test-in", "v1")
		var header, trailer metadata.MD
		res, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("hello phalanx")}},
			grpc.Header(&header), grpc.Trailer(&trailer))
		require.NoError(t, err)
		if got := string(res.GetPayload().GetBody()); got != "hello phalanx" {
			t.Errorf("UnaryCall payload = %q, want %q", got, "hello phalanx")
		}
		if got := mdFirst(header.Get("x-test-header")); got != "header:v1" {
			t.Errorf("response header x-test-header = %q, want %q (header metadata: %v)", got, "header:v1", header)
		}
		if got := mdFirst(trailer.Get("x-test-trailer")); got != "trailer:v1" {
			t.Errorf("response trailer x-test-trailer = %q, want %q (trailer metadata: %v)", got, "trailer:v1", trailer)
		}
	})

	t.Run("bidi ping-pong", func(t *testing.T) {
		stream, err := c.FullDuplexCall(grpcCtx(t))
		require.NoError(t, err)
		// Each response must arrive before the next request is sent: a
		// proxy that buffered either direction would stall here until
		// the call's deadline.
		for i := range 100 {
			msg := []byte(strings.Repeat("ping ", i) + "!")
			require.NoError(t, stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: msg}}), "Send %d", i)
			res, err := stream.Recv()
			require.NoError(t, err, "Recv %d", i)
			if got := res.GetPayload().GetBody(); !bytes.Equal(got, msg) {
				t.Fatalf("response %d = %q, want %q", i, got, msg)
			}
		}
		require.NoError(t, stream.CloseSend())
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("Recv after CloseSend = %v, want io.EOF", err)
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		sizes := []int32{1, 10, 100, 1000, 10000, 100000, 0, 31415}
		req := &testgrpc.StreamingOutputCallRequest{}
		for _, n := range sizes {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: n})
		}
		stream, err := c.StreamingOutputCall(metadata.AppendToOutgoingContext(grpcCtx(t), "x-mode", "gate"), req)
		require.NoError(t, err)
		for i, n := range sizes {
			res, err := stream.Recv()
			require.NoError(t, err, "Recv %d", i)
			if i == 0 {
				close(be.firstSeen) // the backend sends the rest only now
			}
			if got, want := res.GetPayload().GetBody(), bytes.Repeat([]byte{byte(i)}, int(n)); !bytes.Equal(got, want) {
				t.Errorf("response %d: %d bytes, want %d bytes of %d", i, len(got), n, i)
			}
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("Recv after %d responses = %v, want io.EOF", len(sizes), err)
		}
	})

	t.Run("client streaming", func(t *testing.T) {
		stream, err := c.StreamingInputCall(grpcCtx(t))
		require.NoError(t, err)
		want := 0
		for i := range 20 {
			n := i * 1000
			want += n
			require.NoError(t, stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, n)}}), "Send %d", i)
		}
		res, err := stream.CloseAndRecv()
		require.NoError(t, err)
		if got := res.GetAggregatedPayloadSize(); got != int32(want) {
			t.Errorf("StreamingInputCall aggregated size = %d, want %d", got, want)
		}
	})

	t.Run("error status and message", func(t *testing.T) {
		const msg = "nope: the precondition failed (ünïcode, 100%)"
		_, err := c.UnaryCall(grpcCtx(t), &testgrpc.SimpleRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.FailedPrecondition), Message: msg}})
		st := status.Convert(err)
		if st.Code() != codes.FailedPrecondition || st.Message() != msg {
			t.Errorf("UnaryCall = %v %q, want %v %q", st.Code(), st.Message(), codes.FailedPrecondition, msg)
		}
	})

	t.Run("error status after messages", func(t *testing.T) {
		// The status comes in trailers after the data, not in a
		// trailers-only response.
		const msg = "nope: gave up after two"
		stream, err := c.StreamingOutputCall(grpcCtx(t), &testgrpc.StreamingOutputCallRequest{
			ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}, {Size: 20}},
			ResponseStatus:     &testgrpc.EchoStatus{Code: int32(codes.FailedPrecondition), Message: msg},
		})
		require.NoError(t, err)
		for i, n := range []int{10, 20} {
			res, err := stream.Recv()
			require.NoError(t, err, "Recv %d", i)
			if got := len(res.GetPayload().GetBody()); got != n {
				t.Errorf("response %d: %d bytes, want %d", i, got, n)
			}
		}
		_, err = stream.Recv()
		st := status.Convert(err)
		if st.Code() != codes.FailedPrecondition || st.Message() != msg {
			t.Errorf("Recv after the responses = %v %q, want %v %q", st.Code(), st.Message(), codes.FailedPrecondition, msg)
		}
	})

	t.Run("deadline propagates", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-mode", "wait"), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		elapsed := time.Since(start)
		if code := status.Code(err); code != codes.DeadlineExceeded {
			t.Errorf("UnaryCall with a 200ms deadline = %v, want %v", err, codes.DeadlineExceeded)
		}
		if elapsed > time.Second {
			t.Errorf("UnaryCall with a 200ms deadline returned after %v, want within 1s", elapsed)
		}
		select {
		case rep := <-be.waited:
			if !rep.hadDeadline {
				t.Errorf("backend handler's context had no deadline: grpc-timeout did not reach it")
			}
			if !errors.Is(rep.err, context.DeadlineExceeded) && !errors.Is(rep.err, context.Canceled) {
				t.Errorf("backend handler's context ended with %v, want it cancelled or past its deadline", rep.err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("backend handler did not report within 3s")
		}
		if since := time.Since(start); since > 2*time.Second {
			t.Errorf("backend handler saw its context end %v after the call began, want within 2s", since)
		}
	})
}

// TestGRPCLargeMessage sends 8 MiB each way, which needs the body limit
// lifted; with the default 1 MiB limit the proxy refuses the request the
// way gRPC clients understand.
func TestGRPCLargeMessage(t *testing.T) {
	checkNoLeaks(t)
	backend, _ := startGRPCBackend(t, newGRPCTestServer())
	payload := make([]byte, 8<<20)
	for i := range payload {
		payload[i] = byte(i*7 + i>>13)
	}

	t.Run("no body limit", func(t *testing.T) {
		c := dialGRPC(t, startGRPCProxy(t, backend, phalanx.WithMaxBodyBytes(-1)), nil)
		res, err := c.UnaryCall(grpcCtx(t), &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: payload}})
		require.NoError(t, err)
		if got := res.GetPayload().GetBody(); !bytes.Equal(got, payload) {
			t.Errorf("UnaryCall echoed %d bytes, want the %d sent, intact", len(got), len(payload))
		}
	})

	t.Run("default body limit", func(t *testing.T) {
		c := dialGRPC(t, startGRPCProxy(t, backend), nil)
		_, err := c.UnaryCall(grpcCtx(t), &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: payload}})
		if code := status.Code(err); code != codes.ResourceExhausted {
			t.Errorf("UnaryCall with 8 MiB over the 1 MiB body limit = %v, want %v", err, codes.ResourceExhausted)
		}
	})
}

// TestGRPCOverTLS calls through a TLS listener of the proxy: grpc-go
// requires ALPN h2, and the backend is still reached over h2c.
func TestGRPCOverTLS(t *testing.T) {
	checkNoLeaks(t)
	backend, _ := startGRPCBackend(t, newGRPCTestServer())
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, t.TempDir(), "grpc", "grpc.example", "127.0.0.1")
	addr := startGRPCProxy(t, backend, phalanx.WithCertificate(certFile, keyFile))
	c := dialGRPC(t, addr, credentials.NewTLS(&tls.Config{RootCAs: ca.pool, ServerName: "grpc.example"}))
	var p peer.Peer
	res, err := c.UnaryCall(grpcCtx(t), &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("over tls")}}, grpc.Peer(&p))
	require.NoError(t, err)
	if got := string(res.GetPayload().GetBody()); got != "over tls" {
		t.Errorf("UnaryCall payload = %q, want %q", got, "over tls")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		t.Fatalf("peer auth info = %T, want credentials.TLSInfo", p.AuthInfo)
	}
	if got := info.State.NegotiatedProtocol; got != "h2" {
		t.Errorf("negotiated ALPN protocol = %q, want h2", got)
	}
}

// TestGRPCBackendDown checks that a call the proxy cannot forward fails
// with Unavailable, from the proxy's trailers-only answer.
func TestGRPCBackendDown(t *testing.T) {
	checkNoLeaks(t)
	backend, stop := startGRPCBackend(t, newGRPCTestServer())
	c := dialGRPC(t, startGRPCProxy(t, backend), nil)
	_, err := c.UnaryCall(grpcCtx(t), &testgrpc.SimpleRequest{})
	require.NoError(t, err)
	stop()
	// The first call finds the backend refusing connections; the second
	// finds it marked down by passive health checks.
	for i := range 2 {
		_, err := c.UnaryCall(grpcCtx(t), &testgrpc.SimpleRequest{})
		st := status.Convert(err)
		if st.Code() != codes.Unavailable || !strings.HasPrefix(st.Message(), "phalanx: ") {
			t.Errorf("call %d with the backend down = %v %q, want %v with a message from phalanx", i, st.Code(), st.Message(), codes.Unavailable)
		}
	}
}
