package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// errMismatch is returned when a TCP answer does not match its query; a
// mismatched UDP answer is ignored instead.
var errMismatch = errors.New("answer does not match the query")

// exchange asks the servers in turn for name's records of qtype and
// returns the first answer whose code is NOERROR or NXDOMAIN.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if len(r.servers) == 0 {
		return nil, fmt.Errorf("%w: no server to ask for %s", ErrInvalidConfig, name)
	}
	var err error
	for _, srv := range r.servers {
		var m *dns.Msg
		m, err = r.ask(ctx, srv, name, qtype)
		if cerr := ctxErr(ctx); cerr != nil {
			return nil, fmt.Errorf("resolve: %s %s: %w", name, dns.TypeToString[qtype], cerr)
		}
		if err == nil {
			if m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError {
				return m, nil
			}
			err = fmt.Errorf("%w: %s for %s %s from %s", ErrServerFailure,
				dns.RcodeToString[m.Rcode], name, dns.TypeToString[qtype], srv)
			continue
		}
		err = fmt.Errorf("resolve: %s %s via %s: %w", name, dns.TypeToString[qtype], srv, err)
	}
	return nil, err
}

// ctxErr returns ctx.Err(), or context.DeadlineExceeded once ctx's
// deadline has passed even if ctx has not noticed yet: a read that timed
// out at that deadline then reports the context's error.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// ask puts one question to one server over UDP, and again over TCP if
// the UDP answer was truncated.
func (r *Resolver) ask(ctx context.Context, srv, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype) // with a random ID
	q.SetEdns0(ednsSize, false)
	m, err := r.roundTrip(ctx, "udp", srv, q)
	if err != nil || !m.Truncated {
		return m, err
	}
	q.Id = dns.Id()
	return r.roundTrip(ctx, "tcp", srv, q)
}

// roundTrip sends q on a new connection and reads the answer, within
// r.timeout and ctx. Over UDP, a datagram that does not parse or does not
// answer q (another ID, another question) is ignored, and reading goes
// on until the deadline.
func (r *Resolver) roundTrip(ctx context.Context, network, srv string, q *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, srv)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.SetDeadline(deadline)
	}
	// Wake a blocked read or write as soon as ctx ends.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	co := &dns.Conn{Conn: c, UDPSize: ednsSize}
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		p, err := co.ReadMsgHeader(nil)
		if err != nil {
			return nil, err
		}
		m := new(dns.Msg)
		err = m.Unpack(p)
		if err == nil && !answers(m, q) {
			err = errMismatch
		}
		if err == nil {
			return m, nil
		}
		if network != "udp" {
			return nil, err
		}
	}
}

// answers reports whether m is an answer to q: a response with q's ID and
// q's one question.
func answers(m, q *dns.Msg) bool {
	if !m.Response || m.Id != q.Id || len(m.Question) != 1 {
		return false
	}
	a, b := m.Question[0], q.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
