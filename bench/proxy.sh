#!/usr/bin/env bash
# bench/proxy.sh: phalanx vs nginx, HAProxy and Go's httputil.ReverseProxy
# as reverse proxies, side by side, in one run.
#
# One nginx backend serves a fixed 6-byte body. Each proxy under test is
# started in turn in front of that same backend, checked to answer 200
# "hello", warmed up, then loaded with wrk:
#
#   fast      phalanxd -http1-engine phalanx (its own HTTP/1.1 engine), no
#             WAF, no rate limit
#   nethttp   phalanxd -http1-engine net/http, no WAF, no rate limit
#   waf       phalanxd -c FILE: http1_engine phalanx, waf_enabled on, and
#             the per-client rate limiter on with a limit (10M/s, burst
#             10M) that wrk never reaches
#   nginx     nginx 1.22, one process, upstream keepalive 32
#   haproxy   HAProxy, nbthread 1, mode http, http-reuse always
#   goproxy   bench/goproxy: net/http/httputil.ReverseProxy
#
# phalanxd and goproxy run with GOMAXPROCS=1 (phalanxd -c: worker_threads
# 1); nginx and HAProxy with one process of one thread. Every proxy
# forwards X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and an
# X-Request-Id, as phalanx does. wrk sends a browser User-Agent to every
# proxy (the WAF refuses an empty one). For each proxy the script reports
# requests/s, p50 and p99 latency, the proxy's CPU time per request
# (utime+stime from /proc/PID/stat across the wrk run), its CPU use and
# wrk's socket errors plus non-2xx responses.
#
# Then, unless IDLE_CONNS=0, for phalanx (both engines), nginx and HAProxy,
# each on a fresh instance after all the wrk runs: bench/idleconns opens IDLE_CONNS keep-alive
# connections, sends one request on each, reads the response and leaves
# them idle; the proxy's VmRSS (/proc/PID/status) before and ~2 s after
# gives its memory per idle client connection, (after-before)/IDLE_CONNS.
# The backend side does not grow with idle clients: their one request is
# over, so the proxy holds no backend connection for them beyond its
# shared keep-alive pool.
#
# CPU pinning (taskset): the proxy under test runs alone on PROXY_CPU (0);
# the backend nginx, wrk and idleconns share LOAD_CPU (1). Requests/s is
# therefore often capped by LOAD_CPU rather than by the proxy ("proxy CPU
# %" below 100 says so); CPU µs/request is the figure that compares the
# proxies.
#
# Environment:
#   DURATION   wrk run per proxy               (default 10s; wrk syntax: 10s, 1m)
#   WARMUP     wrk warm-up per proxy           (default 2s)
#   CONNS      wrk connections                 (default 64)
#   IDLE_CONNS idle connections per proxy      (default 10000; 0 skips that part)
#   USER_AGENT User-Agent wrk and the checks send (default: a Firefox one)
#   PROXY_CPU  CPU for the proxy under test    (default 0)
#   LOAD_CPU   CPU for backend, wrk, idleconns (default 1)
#   PHALANXD   a phalanxd binary to use instead of building ./examples/phalanxd
#
# Only 127.0.0.1 is used, on ports the kernel reports free. Everything
# lives in a temp dir; an EXIT trap stops every process the script started
# and removes it. Needs go, python3, taskset; installs nginx, haproxy, wrk
# and curl with apt-get if missing (services kept from starting via
# policy-rc.d). Raises its open-file limit (the hard one too, as root)
# when it is below what the idle connections and HAProxy's maxconn need.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-64}
IDLE_CONNS=${IDLE_CONNS:-10000}
USER_AGENT=${USER_AGENT:-Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PHALANXD=${PHALANXD:-}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

install_missing nginx haproxy wrk curl
for t in go python3 taskset getconf pgrep timeout mkfifo; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found on PATH"
done
ncpu=$(getconf _NPROCESSORS_ONLN)
((ncpu >= 2)) || die "need at least 2 CPUs for pinning, have $ncpu"
((PROXY_CPU < ncpu && LOAD_CPU < ncpu)) || die "PROXY_CPU/LOAD_CPU out of range (have $ncpu CPUs)"
[[ $PROXY_CPU != "$LOAD_CPU" ]] || die "PROXY_CPU and LOAD_CPU must differ"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, got '$CONNS'"
[[ $IDLE_CONNS =~ ^(0|[1-9][0-9]*)$ ]] || die "IDLE_CONNS must be 0 or a positive integer, got '$IDLE_CONNS'"
[[ -n $USER_AGENT ]] || die "USER_AGENT must not be empty: the WAF refuses an empty User-Agent"

dur_s=$(secs "$DURATION")
warm_s=$(secs "$WARMUP")
[[ $dur_s =~ ^[0-9]+$ && $warm_s =~ ^[0-9]+$ ]] || die "durations must be whole seconds/minutes/hours"
((dur_s > 0)) || die "DURATION must be positive"

clk_tck=$(getconf CLK_TCK)

# Connection limits of nginx and HAProxy: the idle clients, wrk's
# connections and the backend ones, with room to spare.
maxconn=$((IDLE_CONNS + CONNS + 1024))
((maxconn >= 8192)) || maxconn=8192
# Open files: each idle connection is a descriptor in the proxy and one in
# idleconns, so maxconn + 1024 is needed. HAProxy would like 2 x maxconn
# (a client and a server side for each connection): the soft limit is
# raised to that when the hard limit allows it, and otherwise to the hard
# limit, or, as root with CAP_SYS_RESOURCE, the hard limit is raised to
# what is needed.
need_files=$((maxconn + 1024))
want_files=$((2 * maxconn + 1024))
soft=$(ulimit -Sn)
hard=$(ulimit -Hn)
if [[ $soft != unlimited ]] && ((soft < want_files)); then
	target=$want_files
	if [[ $hard != unlimited ]] && ((hard < want_files)); then
		if ulimit -Hn "$want_files" 2>/dev/null; then
			:
		elif ((hard >= need_files)); then
			target=$hard
		elif ulimit -Hn "$need_files" 2>/dev/null; then
			target=$need_files
		else
			die "open-file hard limit $hard is below $need_files; raise it (ulimit -Hn) or lower IDLE_CONNS"
		fi
	fi
	ulimit -Sn "$target"
fi
fd_limit=$(ulimit -Sn)
[[ $fd_limit != unlimited ]] || fd_limit=$want_files

tmp=$(mktemp -d "${TMPDIR:-/tmp}/phalanx-bench.XXXXXX")

# ---------------------------------------------------------------- helpers

# Seven distinct free loopback ports: all bound at once, then released.
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(7)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))
') || die "could not get free ports from the kernel"
read -r backend_port p_fast p_nethttp p_waf p_nginx p_haproxy p_goproxy <<<"$ports"

KEYS=(fast nethttp waf nginx haproxy goproxy)
IDLE_KEYS=(fast nethttp nginx haproxy)
declare -A PORT=([fast]=$p_fast [nethttp]=$p_nethttp [waf]=$p_waf [nginx]=$p_nginx
	[haproxy]=$p_haproxy [goproxy]=$p_goproxy)
declare -A LABEL=(
	[fast]="phalanx, fast path"
	[nethttp]="phalanx, net/http path"
	[waf]="phalanx, fast path + WAF + rate limit"
	[nginx]="nginx"
	[haproxy]="HAProxy"
	[goproxy]="Go httputil.ReverseProxy"
)

# wait_http NAME PID PORT: up to ~10 s for PORT to answer 200 "hello" to
# a request with USER_AGENT.
wait_http() {
	local name=$1 pid=$2 port=$3 i body
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) exited during start-up"
		if body=$(curl -fsS --max-time 1 -A "$USER_AGENT" "http://127.0.0.1:$port/" 2>/dev/null); then
			[[ $body == hello ]] || die "$name answered '$body', want 'hello'"
			return 0
		fi
		sleep 0.1
	done
	die "$name did not answer on 127.0.0.1:$port within 10 s"
}

# nginx_conf NAME PORT SERVER_BLOCK_BODY [HTTP_EXTRA]: an nginx config that
# keeps every file in $tmp/NAME and runs as a single process in the
# foreground (master_process off: one process that is the worker).
nginx_conf() {
	local name=$1 port=$2 body=$3 extra=${4:-} d=$tmp/$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $fd_limit;
pid $d/nginx.pid;
error_log $d/error.log warn;
events {
    worker_connections $maxconn;
}
http {
    access_log off;
    client_body_temp_path $d/client_body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    keepalive_requests 1000000;
$extra
    server {
        listen 127.0.0.1:$port;
$body
    }
}
EOF
	nginx -t -q -p "$d" -e "$d/error.log" -c "$d/nginx.conf" ||
		die "nginx config $d/nginx.conf rejected"
}

# start_nginx NAME CPU: starts nginx in the background (in this shell, so
# that it is our child); its pid goes to PIDS and to started_pid.
started_pid=""
start_nginx() {
	local d=$tmp/$1
	taskset -c "$2" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
		>>"$d/stdout.log" 2>&1 &
	started_pid=$!
	PIDS+=("$started_pid")
}

# start_proxy KEY RUN: starts proxy KEY on PROXY_CPU, its stderr in
# $tmp/KEY.RUN.log (RUN: bench or idle); its pid goes to PIDS and to
# started_pid. Each call starts a fresh process.
start_proxy() {
	local key=$1 run=$2 port=${PORT[$1]} log=$tmp/$1.$2.log
	case $key in
	fast | nethttp)
		local engine=phalanx
		[[ $key == nethttp ]] && engine=net/http
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$tmp/phalanxd" \
			-listen "127.0.0.1:$port" -backend "127.0.0.1:$backend_port" \
			-algorithm roundrobin -admin off -shutdown-timeout 2s \
			-http1-engine "$engine" 2>"$log" &
		;;
	waf)
		# -c takes everything from the file: the engine is the
		# http1_engine directive, GOMAXPROCS is worker_threads.
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$tmp/phalanxd" -c "$tmp/phalanx-waf.conf" 2>"$log" &
		;;
	nginx | haproxy | goproxy)
		case $key in
		nginx) taskset -c "$PROXY_CPU" nginx -p "$tmp/proxy" -e "$tmp/proxy/error.log" \
			-c "$tmp/proxy/nginx.conf" >"$log" 2>&1 & ;;
		haproxy) taskset -c "$PROXY_CPU" haproxy -db -f "$tmp/haproxy.cfg" >"$log" 2>&1 & ;;
		goproxy) GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$tmp/goproxy" \
			-listen "127.0.0.1:$port" -backend "127.0.0.1:$backend_port" 2>"$log" & ;;
		esac
		;;
	*) die "unknown proxy $key" ;;
	esac
	started_pid=$!
	PIDS+=("$started_pid")
}

# stop_proxy PID: stops it and drops it from PIDS.
stop_proxy() {
	stop_pid "$1"
	forget_pid "$1"
}

# Results, by proxy key.
declare -A RPS P50 P99 CPU_US CPU_PCT REQS ERRS IDLE_KIB

# bench KEY PID PORT: warm-up, measured wrk run; fills the result arrays.
bench() {
	local key=$1 pid=$2 port=$3 name=${LABEL[$1]} url out c0 c1 t0 t1 rps reqs p50 p99 errs non2xx
	url="http://127.0.0.1:$port/"
	log "$name: warm-up $WARMUP"
	run_wrk "$tmp/$key.warmup.txt" "$warm_s" -t1 -c"$CONNS" -d"$WARMUP" -H "User-Agent: $USER_AGENT" "$url"
	log "$name: wrk -t1 -c$CONNS -d$DURATION --latency -H 'User-Agent: ...' $url"
	c0=$(cpu_ticks "$pid")
	t0=$(date +%s.%N)
	run_wrk "$tmp/$key.wrk.txt" "$dur_s" -t1 -c"$CONNS" -d"$DURATION" --latency -H "User-Agent: $USER_AGENT" "$url"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$pid")
	out=$(<"$tmp/$key.wrk.txt")
	kill -0 "$pid" 2>/dev/null || die "$name died during the run"
	printf '%s\n' "$out" | sed 's/^/    /' >&2

	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	reqs=$(awk '/ requests in / {print $1}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	[[ -n $rps && -n $reqs && -n $p50 && -n $p99 ]] || die "could not parse wrk output for $name"
	((reqs > 0)) || die "$name: wrk completed no requests"
	errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
	errs=$((${errs:-0} + ${non2xx:-0}))

	RPS[$key]=$(awk -v v="$rps" 'BEGIN { printf "%.0f", v }')
	P50[$key]=$(to_ms "$p50")
	P99[$key]=$(to_ms "$p99")
	CPU_US[$key]=$(awk -v dc=$((c1 - c0)) -v hz="$clk_tck" -v reqs="$reqs" 'BEGIN { printf "%.2f", dc / hz * 1e6 / reqs }')
	CPU_PCT[$key]=$(awk -v dc=$((c1 - c0)) -v hz="$clk_tck" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * dc / hz / (t1 - t0) }')
	REQS[$key]=$reqs
	ERRS[$key]=$errs
}

# idle_mem KEY PID PORT: VmRSS of PID before and ~2 s after IDLE_CONNS idle
# keep-alive connections are open; fills IDLE_KIB (or "failed").
WARNINGS=()
idle_mem() {
	local key=$1 pid=$2 port=$3 name=${LABEL[$1]} fifo=$tmp/$1.idle.in out=$tmp/$1.idle.out
	local ip r0 r1 i closed
	sleep 1
	r0=$(rss_kib "$pid")
	log "$name: $IDLE_CONNS idle keep-alive connections (VmRSS before: $r0 KiB)"
	mkfifo "$fifo"
	: >"$out"
	# idleconns waits for end of file on its stdin, the fifo: this shell
	# opens it read-write on fd 3 (an open that never blocks) after
	# starting idleconns, and closing fd 3 tells idleconns to finish. If
	# this script dies, fd 3 closes with it.
	taskset -c "$LOAD_CPU" "$tmp/idleconns" -addr "127.0.0.1:$port" -n "$IDLE_CONNS" \
		-want hello -user-agent "$USER_AGENT" <"$fifo" >"$out" 2>"$tmp/$key.idle.err" &
	ip=$!
	PIDS+=("$ip")
	exec 3<>"$fifo"
	for ((i = 0; i < 1200; i++)); do
		grep -q '^ready' "$out" && break
		kill -0 "$ip" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^ready' "$out"; then
		exec 3>&-
		stop_proxy "$ip"
		IDLE_KIB[$key]=failed
		WARNINGS+=("$name: idle connections failed: $(tail -n 1 "$tmp/$key.idle.err")")
		return 0
	fi
	sleep 2
	kill -0 "$pid" 2>/dev/null || die "$name died holding idle connections"
	r1=$(rss_kib "$pid")
	exec 3>&-
	for ((i = 0; i < 100; i++)); do
		kill -0 "$ip" 2>/dev/null || break
		sleep 0.1
	done
	stop_proxy "$ip"
	closed=$(awk '$1 == "closed-by-server" {print $2}' "$out")
	if [[ -z $closed ]]; then
		WARNINGS+=("$name: idleconns did not report how many connections stayed open")
	elif ((closed > 0)); then
		WARNINGS+=("$name: closed $closed of the $IDLE_CONNS idle connections before the end; its idle KiB/conn is too low")
	fi
	log "$name: VmRSS with $IDLE_CONNS idle connections: $r1 KiB"
	IDLE_KIB[$key]=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_CONNS" 'BEGIN { printf "%.2f", (b - a) / n }')
}

# ---------------------------------------------------------------- set-up

busy=$(busy_pct)
if ((busy > 10)); then
	log "WARNING: the machine is already ${busy}% busy before the benchmark; figures will be noisy"
fi

if [[ -n $PHALANXD ]]; then
	[[ -x $PHALANXD ]] || die "PHALANXD=$PHALANXD is not an executable file"
	log "using phalanxd $PHALANXD; building goproxy, idleconns"
	cp "$PHALANXD" "$tmp/phalanxd"
else
	log "building phalanxd, goproxy, idleconns"
	(cd "$repo" && go build -o "$tmp/phalanxd" ./examples/phalanxd)
fi
(cd "$repo" && go build -o "$tmp/goproxy" ./bench/goproxy &&
	go build -o "$tmp/idleconns" ./bench/idleconns)

# The nginx proxy. The forwarding headers match what phalanx sets on
# every proxied request (X-Forwarded-For/-Proto/-Host, X-Request-Id), so
# the proxies do comparable work. The $variables are nginx's, hence the
# single quotes.
# shellcheck disable=SC2016
nginx_conf proxy "$p_nginx" '        location / {
            proxy_pass http://b;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Request-Id $request_id;
        }' "    upstream b {
        server 127.0.0.1:$backend_port;
        keepalive 32;
        keepalive_requests 1000000;
    }"

# HAProxy: one thread, HTTP mode, idle backend connections shared by all
# clients (http-reuse always), the same forwarding headers (option
# forwardfor appends the client to X-Forwarded-For; X-Request-Id is a
# random UUID, 16 random bytes like nginx's $request_id). No log
# is configured, as nginx has access_log off. -db keeps it in the
# foreground as a single process. It has the same open-file limit as the
# rest; when that is below 2 x maxconn, "no strict-limits" lets it start
# (with an alert in its log) instead of refusing to: idle clients hold no
# backend connection, so it never needs more than maxconn + a few.
cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $maxconn
    ulimit-n $fd_limit
    no strict-limits

defaults
    mode http
    unique-id-format %[uuid()]
    maxconn $maxconn
    timeout connect 5s
    timeout client 75s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 75s
    option http-keep-alive
    option forwardfor
    http-reuse always

frontend proxy
    bind 127.0.0.1:$p_haproxy
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Request-Id %[unique-id]
    default_backend b

backend b
    server s1 127.0.0.1:$backend_port
EOF
haproxy -c -f "$tmp/haproxy.cfg" >"$tmp/haproxy-check.log" 2>&1 || {
	sed 's/^/    /' "$tmp/haproxy-check.log" >&2
	die "haproxy rejected $tmp/haproxy.cfg"
}

# phalanx with the WAF and the per-client rate limiter on. The limit
# (10M requests/s, burst 10M) is far above what wrk's one client sends, so
# it never refuses a request; every request still goes through the
# limiter's per-client bucket, and through the WAF's rules.
cat >"$tmp/phalanx-waf.conf" <<EOF
worker_threads 1;
admin_bind off;
tcp_bind off;
shutdown_timeout 2s;
http1_engine phalanx;
upstream default {
    server 127.0.0.1:$backend_port;
    algorithm roundrobin;
}
http {
    server {
        listen 127.0.0.1:$p_waf;
        waf_enabled on;
        rate_limit_per_ip 10000000;
        rate_limit_burst 10000000;
        route / { upstream default; }
    }
}
EOF
if ! "$tmp/phalanxd" -t -c "$tmp/phalanx-waf.conf" 2>"$tmp/phalanxd-t.log"; then
	sed 's/^/    /' "$tmp/phalanxd-t.log" >&2
	die "phalanxd rejected $tmp/phalanx-waf.conf"
fi

log "backend nginx on 127.0.0.1:$backend_port (CPU $LOAD_CPU)"
nginx_conf backend "$backend_port" '        location / {
            default_type text/plain;
            return 200 "hello\n";
        }'
start_nginx backend "$LOAD_CPU"
backend_pid=$started_pid
wait_http "backend nginx" "$backend_pid" "$backend_port"

# ---------------------------------------------------------------- run

for key in "${KEYS[@]}"; do
	name=${LABEL[$key]}
	port=${PORT[$key]}
	log "$name on 127.0.0.1:$port -> backend (CPU $PROXY_CPU)"
	start_proxy "$key" bench
	pid=$started_pid
	wait_http "$name" "$pid" "$port"
	if [[ $key == waf ]]; then
		# The WAF is on: a request without User-Agent is refused (rule 6003).
		code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 -A '' "http://127.0.0.1:$port/") || true
		[[ $code == 403 ]] || die "$name answered $code to a request without User-Agent, want 403 from the WAF"
	fi
	bench "$key" "$pid" "$port"
	stop_proxy "$pid"
done

# Memory per idle connection, after all the wrk runs, each on a fresh
# instance (not one whose heap and free lists the wrk run has grown).
if ((IDLE_CONNS > 0)); then
	for key in "${IDLE_KEYS[@]}"; do
		name=${LABEL[$key]}
		port=${PORT[$key]}
		log "$name on 127.0.0.1:$port, fresh, for the memory per idle connection"
		start_proxy "$key" idle
		pid=$started_pid
		wait_http "$name" "$pid" "$port"
		idle_mem "$key" "$pid" "$port"
		stop_proxy "$pid"
	done
fi

# ---------------------------------------------------------------- report

nginx_version=$(nginx -v 2>&1) || true
nginx_version=${nginx_version#nginx version: }
haproxy_version=$(haproxy -v 2>&1 | awk 'NR == 1 {print "haproxy/" $3}') || true
go_version=$(go env GOVERSION) || true
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) || true
echo
echo "Reverse proxies: wrk -t1 -c$CONNS -d$DURATION --latency, 1 backend (nginx answering \"hello\"), User-Agent: $USER_AGENT"
if ((IDLE_CONNS > 0)); then
	idle_desc="idle KiB/conn: VmRSS growth with $IDLE_CONNS idle keep-alive client connections (one request each), per connection"
else
	idle_desc="idle memory not measured (IDLE_CONNS=0)"
fi
echo "Proxy on CPU $PROXY_CPU; backend + wrk on CPU $LOAD_CPU; $idle_desc."
echo "Environment: $nginx_version; $haproxy_version; $go_version; $ncpu CPUs (${cpu_model:-unknown model}); kernel $(uname -r); machine ${busy}% busy before start; CLK_TCK=$clk_tck"
echo
echo "| proxy | requests/s | p50 (ms) | p99 (ms) | CPU µs/request | proxy CPU % | errors | idle KiB/conn |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for key in "${KEYS[@]}"; do
	idle=${IDLE_KIB[$key]:--}
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$key]}" "${RPS[$key]}" "${P50[$key]}" \
		"${P99[$key]}" "${CPU_US[$key]}" "${CPU_PCT[$key]}" "${ERRS[$key]}" "$idle"
done
echo
# ratio TEXT KEY_A KEY_B: "TEXT: CPU per request A/B, requests/s A/B".
ratio() {
	awk -v t="$1" -v ca="${CPU_US[$2]}" -v cb="${CPU_US[$3]}" -v ra="${RPS[$2]}" -v rb="${RPS[$3]}" -v rps="${4:-yes}" 'BEGIN {
		s = t ": CPU per request " (cb > 0 ? sprintf("%.2fx", ca / cb) : "n/a")
		if (rps == "yes") s = s ", requests/s " (rb > 0 ? sprintf("%.2fx", ra / rb) : "n/a")
		print s
	}'
}
ratio "phalanx fast / nginx" fast nginx
ratio "phalanx fast + WAF + rate limit / phalanx fast" waf fast no
ratio "phalanx net/http / phalanx fast" nethttp fast
echo
for key in "${KEYS[@]}"; do
	e=${ERRS[$key]}
	((e == 0)) || echo "WARNING: ${LABEL[$key]}: $e socket errors or non-2xx responses (of ${REQS[$key]} requests)"
done
for w in ${WARNINGS[@]+"${WARNINGS[@]}"}; do echo "WARNING: $w"; done
# wrk drops its connections at the end of each run (warm-up included), so
# up to CONNS requests per wrk run may be in flight; phalanx logs each of
# those as a 499 "context canceled" at INFO. The WAF check above adds one
# refused request to the WAF run. Anything else but the start-up
# "listening" line is worth a look.
for key in fast nethttp waf; do
	for f in "$tmp/$key".*.log; do
		[[ -e $f ]] || continue
		lines=$(wc -l <"$f")
		((lines > 1)) || continue
		run=${f##*/"$key".}
		run=${run%.log}
		n499=$(grep -c 'status=499 .*cause="context canceled"' "$f" || true)
		nwaf=$(grep -c 'msg="waf: request blocked" .*rules=\[6003\] .*value=""$' "$f" || true)
		extra=""
		((nwaf == 0)) || extra=", $nwaf the WAF check's refused request without User-Agent"
		echo "note: phalanxd (${LABEL[$key]}, $run run) logged $lines lines, $n499 of them 499s for requests that wrk abandoned when a run ended$extra"
		other=$(grep -v -e 'status=499 .*cause="context canceled"' -e 'msg=listening' \
			-e 'msg="waf: request blocked" .*rules=\[6003\] .*value=""$' "$f" || true)
		if [[ -n $other ]]; then
			echo "WARNING: other phalanxd log lines (${LABEL[$key]}, $run run; last 5):"
			tail -n 5 <<<"$other" | sed 's/^/    /'
		fi
	done
done
# httputil.ReverseProxy logs the same abandoned requests as "proxy error:
# context canceled".
for f in "$tmp"/goproxy.*.log; do
	[[ -e $f ]] || continue
	n=$(grep -c 'http: proxy error: context canceled$' "$f" || true)
	((n == 0)) || echo "note: goproxy logged $n \"proxy error: context canceled\" lines for requests that wrk abandoned when a run ended"
	other=$(grep -v -e 'http: proxy error: context canceled$' -e 'goproxy: listening' "$f" || true)
	if [[ -n $other ]]; then
		echo "WARNING: other goproxy log lines (last 5):"
		tail -n 5 <<<"$other" | sed 's/^/    /'
	fi
done
# HAProxy's alert that the open-file limit is below 2 x maxconn is
# expected when the hard limit is lower (see its config above).
for f in "$tmp"/haproxy.*.log; do
	[[ -e $f ]] || continue
	if grep -q "FD limit ($fd_limit) too low for maxconn=$maxconn/" "$f"; then
		echo "note: HAProxy (${f##*/}) warned that its open-file limit $fd_limit is below 2 x maxconn $maxconn: harmless here, idle clients hold no backend connection"
	fi
	other=$(grep -v -F -e "FD limit ($fd_limit) too low for maxconn=$maxconn/" \
		-e ': haproxy version is ' -e ': path to executable is ' "$f" || true)
	if [[ -n $other ]]; then
		echo "note: ${f##*/} has $(wc -l <<<"$other") other lines; last ones:"
		tail -n 3 <<<"$other" | sed 's/^/    /'
	fi
done
for n in backend proxy; do
	if [[ -s $tmp/$n/error.log ]]; then
		lines=$(wc -l <"$tmp/$n/error.log")
		echo "note: nginx $n error.log has $lines lines; last ones:"
		tail -n 3 "$tmp/$n/error.log" | sed 's/^/    /'
	fi
done
