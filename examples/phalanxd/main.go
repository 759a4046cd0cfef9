// Command phalanxd runs a phalanx Server standalone.
//
//	phalanxd -c /etc/phalanx/phalanx.conf
//	phalanxd -t -c /etc/phalanx/phalanx.conf
//	phalanxd -listen 0.0.0.0:8080 -backend 10.0.0.1:8000 -backend 10.0.0.2:8000,weight=2 -algorithm leastconnections
//	phalanxd -demo
//
// -c runs from a phalanx.conf file; -t checks the file, prints every
// problem with its file:line:col, and exits 0 or 1, as nginx -t does.
// SIGHUP reloads the file: a file with errors is rejected and the running
// configuration stays, with the reason logged; a good one is swapped in
// without dropping a connection. SIGINT or SIGTERM stops accepting and
// lets in-flight requests finish within the shutdown timeout.
//
// Without -c, the pool is given by -backend flags. -demo starts three demo
// backends on loopback, with different latencies, proxies to them with
// the learning policy (algorithm aipredictive), sends a few requests
// through itself and keeps serving until interrupted; its status page is
// at http://127.0.0.1:9090/. -admin ADDR serves the admin API and status
// page; with -c, admin_bind in the file does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/confparse"
	"github.com/phalanx-lb/phalanx/lb"
)

// backendFlags collects repeated -backend values.
type backendFlags []phalanx.UpstreamServer

func (b *backendFlags) String() string { return fmt.Sprint(*b) }

// Set parses "ADDR[,weight=N][,max_fails=N][,fail_timeout=D][,backup]".
func (b *backendFlags) Set(v string) error {
	parts := strings.Split(v, ",")
	sv := phalanx.UpstreamServer{Addr: parts[0]}
	if _, _, err := net.SplitHostPort(sv.Addr); err != nil {
		return fmt.Errorf("backend %q: %w", v, err)
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		var err error
		switch k {
		case "weight":
			sv.Weight, err = strconv.Atoi(val)
		case "max_fails":
			sv.MaxFails, err = strconv.Atoi(val)
		case "fail_timeout":
			sv.FailTimeout, err = time.ParseDuration(val)
		case "backup":
			sv.Backup = true
		default:
			err = errors.New("unknown parameter")
		}
		if err != nil {
			return fmt.Errorf("backend %q: %s: %w", v, p, err)
		}
	}
	*b = append(*b, sv)
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "phalanxd:", err)
		}
		os.Exit(1)
	}
}

// errReported is returned when the problem was already printed.
var errReported = errors.New("reported")

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("phalanxd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var backends backendFlags
	confFile := fs.String("c", "", "configuration `file` (phalanx.conf)")
	testOnly := fs.Bool("t", false, "check the configuration file given by -c and exit")
	listen := fs.String("listen", "", "address to serve on (default 0.0.0.0:8080, or 127.0.0.1:8080 with -demo)")
	fs.Var(&backends, "backend", "backend `ADDR[,weight=N][,max_fails=N][,fail_timeout=D][,backup]`; repeat for each")
	algorithm := fs.String("algorithm", lb.RoundRobinName, "balancing algorithm: "+strings.Join(lb.Names(), ", ")+
		" (with -demo: "+lb.AIPredictiveName+")")
	admin := fs.String("admin", "", "admin API and status page `address` (with -demo: 127.0.0.1:9090; \"off\" for none)")
	accessLog := fs.Bool("access-log", false, "log every request to stderr")
	engine := fs.String("http1-engine", string(phalanx.EnginePhalanx), "HTTP/1.x engine: phalanx or net/http")
	demo := fs.Bool("demo", false, "start three demo backends on loopback and proxy to them")
	demoRequests := fs.Int("demo-requests", 12, "requests the demo sends through the proxy at start")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "how long in-flight requests may run after SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return fmt.Errorf("-log-format %q: want text or json", *logFormat)
	}

	if *confFile != "" {
		if len(backends) > 0 || *demo {
			return errors.New("-c cannot be combined with -backend or -demo")
		}
		return runConfig(*confFile, *testOnly, logger, stderr)
	}
	if *testOnly {
		return errors.New("-t needs -c FILE")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *demo {
		if *listen == "" {
			*listen = "127.0.0.1:8080"
		}
		if *admin == "" {
			*admin = "127.0.0.1:9090"
		}
		if !flagSet(fs, "algorithm") {
			*algorithm = lb.AIPredictiveName
		}
		demoBackends, closeDemo, err := startDemoBackends()
		if err != nil {
			return err
		}
		defer closeDemo()
		backends = append(backends, demoBackends...)
	}
	if *listen == "" {
		*listen = "0.0.0.0:8080"
	}
	if len(backends) == 0 {
		return errors.New("no backends: give -backend ADDR (repeatable) or -demo")
	}
	if *admin == "off" {
		*admin = ""
	}
	opts := []phalanx.Option{
		phalanx.WithLogger(logger),
		phalanx.WithListen(*listen),
		phalanx.WithTimeouts(phalanx.Timeouts{Shutdown: *shutdown}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "default", Servers: backends, Algorithm: *algorithm}),
		phalanx.WithAdmin(phalanx.Admin{Addr: *admin}),
		phalanx.WithHTTP1Engine(phalanx.HTTP1Engine(*engine)),
	}
	if *accessLog {
		opts = append(opts, phalanx.WithAccessLog(logger))
	}
	srv, err := phalanx.New(opts...)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx) }()
	if *demo {
		if err := demoTraffic(ctx, *listen, *admin, *demoRequests, stderr); err != nil {
			stop()
			<-errc
			return err
		}
	}
	return <-errc
}

// runConfig runs the Server from a configuration file, reloading it on
// SIGHUP, or only checks it when testOnly is set.
func runConfig(path string, testOnly bool, logger *slog.Logger, stderr io.Writer) error {
	var adminReload func() error
	load := func() ([]phalanx.Option, *confparse.Config, error) {
		opts, c, err := phalanx.LoadConfig(path, logger)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, phalanx.WithLogger(logger))
		return opts, c, nil
	}
	var srv *phalanx.Server
	// reload re-reads the file, for SIGHUP and the admin API's POST
	// /api/reload; reloadMu keeps the two from interleaving.
	var reloadMu sync.Mutex
	reload := func(why string) error {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		logger.Info(why+": reloading", "file", path)
		var c *confparse.Config
		err := srv.ReloadFrom(func() ([]phalanx.Option, error) {
			var opts []phalanx.Option
			var err error
			if opts, c, err = load(); err != nil {
				return nil, err
			}
			return append(opts, phalanx.WithAdmin(phalanx.Admin{Addr: c.AdminBind, Reload: adminReload})), nil
		})
		if err != nil {
			logger.Error("reload failed; the running configuration stays", "file", path, "error", err)
			return err
		}
		runtime.GOMAXPROCS(c.WorkerThreads)
		return nil
	}
	adminReload = func() error { return reload("admin API") }
	opts, c, err := load()
	if err == nil {
		srv, err = phalanx.New(append(opts, phalanx.WithAdmin(phalanx.Admin{Addr: c.AdminBind, Reload: adminReload}))...)
	}
	if err != nil {
		if testOnly {
			fmt.Fprintf(stderr, "%v\nphalanxd: configuration file %s test failed\n", err, path)
			return errReported
		}
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	if testOnly {
		srv.Close()
		fmt.Fprintf(stderr, "phalanxd: configuration file %s test is successful\n", path)
		return nil
	}
	runtime.GOMAXPROCS(c.WorkerThreads)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx) }()
	for {
		select {
		case err := <-errc:
			return err
		case <-hup:
			reload("SIGHUP")
		}
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// demoLatencies are the demo backends' response times: two quick ones and
// a slow one, so the balancing algorithms behave visibly differently.
var demoLatencies = []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond}

func startDemoBackends() ([]phalanx.UpstreamServer, func(), error) {
	var servers []phalanx.UpstreamServer
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for i, lat := range demoLatencies {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		name := fmt.Sprintf("demo-%d", i+1)
		hs := &http.Server{
			ReadHeaderTimeout: 5 * time.Second,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(lat)
				w.Header().Set("X-Demo-Backend", name)
				fmt.Fprintf(w, "hello from %s (%v) for %s %s, forwarded for %s\n", name, lat, r.Method, r.URL.Path, r.Header.Get("X-Forwarded-For"))
			}),
		}
		go hs.Serve(l)
		closers = append(closers, func() { hs.Close() })
		servers = append(servers, phalanx.UpstreamServer{Addr: l.Addr().String()})
	}
	return servers, closeAll, nil
}

// demoTraffic sends n requests through the proxy and prints where each
// went, then tells the user how to try it.
func demoTraffic(ctx context.Context, addr, admin string, n int, out io.Writer) error {
	c := &http.Client{Timeout: 5 * time.Second}
	url := "http://" + addr + "/"
	// Wait (bounded) for the listener.
	for i := 0; ; i++ {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if i == 50 || ctx.Err() != nil {
			return fmt.Errorf("demo: proxy did not start on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		res, err := c.Get(url)
		if err != nil {
			return fmt.Errorf("demo request: %w", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		counts[res.Header.Get("X-Demo-Backend")]++
	}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "\nphalanx demo: %d requests through %s went to:", n, url)
	for _, k := range names {
		fmt.Fprintf(out, " %s=%d", k, counts[k])
	}
	fmt.Fprintf(out, "\ntry: curl -i %s   (Ctrl-C to stop)\n", url)
	if admin != "" {
		fmt.Fprintf(out, "status page: http://%s/   metrics: http://%s/metrics\n", admin, admin)
	}
	fmt.Fprintln(out)
	return nil
}
