package phalanx

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// isGRPC reports whether r is a gRPC call.
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return r.ProtoMajor == 2 && strings.HasPrefix(ct, "application/grpc") &&
		(len(ct) == len("application/grpc") || ct[len("application/grpc")] == '+' || ct[len("application/grpc")] == ';')
}

// maxGRPCTimeout bounds a deadline a client may ask for.
const maxGRPCTimeout = 24 * time.Hour

// grpcTimeout parses a grpc-timeout header ("100m", "5S"; at most 8
// digits and a unit of H, M, S, m, u or n).
func grpcTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	if n > int64(maxGRPCTimeout/unit) {
		return maxGRPCTimeout, true
	}
	return time.Duration(n) * unit, true
}

// gRPC status codes the proxy reports itself.
const (
	grpcDeadlineExceeded  = 4
	grpcResourceExhausted = 8
	grpcUnavailable       = 14
	grpcInternal          = 13
)

// writeGRPCError answers a gRPC call the proxy could not complete the way
// gRPC clients understand: HTTP 200, and the status in a trailers-only
// response (as Envoy does), mapped from the HTTP status phalanx would have
// sent.
func writeGRPCError(w http.ResponseWriter, status int) {
	code := grpcInternal
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		code = grpcUnavailable
	case http.StatusGatewayTimeout:
		code = grpcDeadlineExceeded
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		code = grpcResourceExhausted
	}
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", "phalanx: "+strings.ToLower(http.StatusText(status)))
	w.WriteHeader(http.StatusOK)
}
