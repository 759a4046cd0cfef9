package resolve_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
	"github.com/phalanx-lb/phalanx/resolve"
)

// startServer starts a DNS server on a loopback port that answers for
// backend.example with two A records and one AAAA record, and returns its
// address and a function that stops it.
func startServer() (addr string, stop func()) {
	records := map[uint16][]string{
		dns.TypeA:    {"backend.example. 30 IN A 192.0.2.11", "backend.example. 30 IN A 192.0.2.10"},
		dns.TypeAAAA: {"backend.example. 60 IN AAAA 2001:db8::10"},
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		for _, s := range records[req.Question[0].Qtype] {
			rr, _ := dns.NewRR(s)
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: handler, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	return pc.LocalAddr().String(), func() { srv.Shutdown() }
}

// LookupHost asks for A and AAAA records at once, and returns the targets
// sorted, with the smallest TTL.
func ExampleResolver_LookupHost() {
	addr, stop := startServer()
	defer stop()

	r, err := resolve.New(resolve.Config{Servers: []string{addr}})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	targets, ttl, err := r.LookupHost(ctx, "backend.example", 8080)
	if err != nil {
		panic(err)
	}
	for _, t := range targets {
		fmt.Println(t.Addr, "weight", t.Weight)
	}
	fmt.Println("ttl", ttl)
	// Output:
	// 192.0.2.10:8080 weight 1
	// 192.0.2.11:8080 weight 1
	// [2001:db8::10]:8080 weight 1
	// ttl 30s
}

// Watch calls update with the first set at once, then with each change;
// here the example stops after the first.
func ExampleResolver_Watch() {
	addr, stop := startServer()
	defer stop()

	r, err := resolve.New(resolve.Config{Servers: []string{addr}})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Watch(ctx, resolve.Query{Host: "backend.example", Port: 80}, func(targets []resolve.Target) {
		fmt.Println(len(targets), "targets, first", targets[0].Addr)
		cancel() // a server would rebuild its picker here instead
	})
	fmt.Println(r.Stats())
	// Output:
	// 3 targets, first 192.0.2.10:80
	// {1 0}
}
