#!/usr/bin/env bash
# bench/proxy.sh: phalanx vs nginx as reverse proxies, side by side, in one run.
#
# One nginx backend serves a fixed 6-byte body. Each proxy under test
# (phalanxd, then nginx with proxy_pass) is started in turn in front of
# that same backend, warmed up, then loaded with wrk. For each proxy the
# script reports requests/s, p99 latency and the proxy's CPU time per
# request (utime+stime from /proc/PID/stat across the wrk run).
#
# CPU pinning (taskset): the proxy under test runs alone on PROXY_CPU (0);
# the backend nginx and wrk share LOAD_CPU (1). Requests/s is therefore
# often capped by LOAD_CPU rather than by the proxy; CPU µs/request is the
# figure that compares the proxies.
#
# Environment:
#   DURATION  wrk run per proxy              (default 10s; wrk syntax: 10s, 1m)
#   WARMUP    wrk warm-up per proxy          (default 2s)
#   CONNS     wrk connections                (default 64)
#   PROXY_CPU CPU for the proxy under test   (default 0)
#   LOAD_CPU  CPU for backend and wrk        (default 1)
#
# Only 127.0.0.1 is used, on ports the kernel reports free. Everything
# lives in a temp dir; an EXIT trap stops every process the script started
# and removes it. Needs go, python3, taskset; installs nginx, wrk and curl
# with apt-get if missing (services kept from starting via policy-rc.d).
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

install_missing
for t in go python3 taskset getconf pgrep timeout; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found on PATH"
done
ncpu=$(getconf _NPROCESSORS_ONLN)
((ncpu >= 2)) || die "need at least 2 CPUs for pinning, have $ncpu"
((PROXY_CPU < ncpu && LOAD_CPU < ncpu)) || die "PROXY_CPU/LOAD_CPU out of range (have $ncpu CPUs)"
[[ $PROXY_CPU != "$LOAD_CPU" ]] || die "PROXY_CPU and LOAD_CPU must differ"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, got '$CONNS'"

dur_s=$(secs "$DURATION")
warm_s=$(secs "$WARMUP")
[[ $dur_s =~ ^[0-9]+$ && $warm_s =~ ^[0-9]+$ ]] || die "durations must be whole seconds/minutes/hours"
((dur_s > 0)) || die "DURATION must be positive"

clk_tck=$(getconf CLK_TCK)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/phalanx-bench.XXXXXX")

# ---------------------------------------------------------------- helpers

# Three distinct free loopback ports: all bound at once, then released.
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))
') || die "could not get free ports from the kernel"
read -r backend_port phalanx_port nginx_port <<<"$ports"

# wait_http NAME PID PORT: up to ~10 s for PORT to answer 200 "hello".
wait_http() {
	local name=$1 pid=$2 port=$3 i body
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) exited during start-up"
		if body=$(curl -fsS --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null); then
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
pid $d/nginx.pid;
error_log $d/error.log warn;
events {
    worker_connections 8192;
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
		>"$d/stdout.log" 2>&1 &
	started_pid=$!
	PIDS+=("$started_pid")
}

# bench NAME PID PORT: warm-up, measured wrk run; appends a result row.
RESULTS=()
bench() {
	local name=$1 pid=$2 port=$3 url out c0 c1 t0 t1 rps reqs p99 errs non2xx
	url="http://127.0.0.1:$port/"
	log "$name: warm-up $WARMUP"
	run_wrk "$tmp/$name.warmup.txt" "$warm_s" -t1 -c"$CONNS" -d"$WARMUP" "$url"
	log "$name: wrk -t1 -c$CONNS -d$DURATION --latency $url"
	c0=$(cpu_ticks "$pid")
	t0=$(date +%s.%N)
	run_wrk "$tmp/$name.wrk.txt" "$dur_s" -t1 -c"$CONNS" -d"$DURATION" --latency "$url"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$pid")
	out=$(<"$tmp/$name.wrk.txt")
	kill -0 "$pid" 2>/dev/null || die "$name died during the run"
	printf '%s\n' "$out" | sed 's/^/    /' >&2

	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	reqs=$(awk '/ requests in / {print $1}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	[[ -n $rps && -n $reqs && -n $p99 ]] || die "could not parse wrk output for $name"
	((reqs > 0)) || die "$name: wrk completed no requests"
	errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
	errs=$((${errs:-0} + ${non2xx:-0}))

	p99=$(to_ms "$p99")
	RESULTS+=("$(awk -v n="$name" -v rps="$rps" -v p99="$p99" \
		-v dc=$((c1 - c0)) -v hz="$clk_tck" -v reqs="$reqs" -v t0="$t0" -v t1="$t1" -v e="$errs" \
		'BEGIN { cpu = dc / hz
			printf "%s\t%.0f\t%s\t%.2f\t%.0f\t%d\t%d", n, rps, p99, cpu * 1e6 / reqs, 100 * cpu / (t1 - t0), reqs, e }')")
}

# ---------------------------------------------------------------- run

busy=$(busy_pct)
if ((busy > 10)); then
	log "WARNING: the machine is already ${busy}% busy before the benchmark; figures will be noisy"
fi

log "building phalanxd"
(cd "$repo" && go build -o "$tmp/phalanxd" ./examples/phalanxd)

log "backend nginx on 127.0.0.1:$backend_port (CPU $LOAD_CPU)"
nginx_conf backend "$backend_port" '        location / {
            default_type text/plain;
            return 200 "hello\n";
        }'
start_nginx backend "$LOAD_CPU"
backend_pid=$started_pid
wait_http "backend nginx" "$backend_pid" "$backend_port"

# (a) phalanx
log "phalanxd on 127.0.0.1:$phalanx_port -> backend (CPU $PROXY_CPU, GOMAXPROCS=1)"
GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$tmp/phalanxd" \
	-listen "127.0.0.1:$phalanx_port" -backend "127.0.0.1:$backend_port" \
	-algorithm roundrobin -shutdown-timeout 2s 2>"$tmp/phalanxd.log" &
phalanx_pid=$!
PIDS+=("$phalanx_pid")
wait_http phalanxd "$phalanx_pid" "$phalanx_port"
bench phalanx "$phalanx_pid" "$phalanx_port"
stop_pid "$phalanx_pid"
forget_pid "$phalanx_pid"
phalanx_log_lines=$(wc -l <"$tmp/phalanxd.log")

# (b) nginx as reverse proxy. The forwarding headers match what phalanx
# sets on every proxied request (X-Forwarded-For/-Proto/-Host,
# X-Request-Id), so both proxies do comparable work. The $variables are
# nginx's, hence the single quotes.
log "nginx proxy on 127.0.0.1:$nginx_port -> backend (CPU $PROXY_CPU)"
# shellcheck disable=SC2016
nginx_conf proxy "$nginx_port" '        location / {
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
start_nginx proxy "$PROXY_CPU"
nginx_pid=$started_pid
wait_http "nginx proxy" "$nginx_pid" "$nginx_port"
bench nginx "$nginx_pid" "$nginx_port"
stop_pid "$nginx_pid"
forget_pid "$nginx_pid"

# ---------------------------------------------------------------- report

nginx_version=$(nginx -v 2>&1) || true
go_version=$(go env GOVERSION) || true
echo
echo "phalanx vs nginx reverse proxy: wrk -t1 -c$CONNS -d$DURATION, 1 backend (nginx)"
echo "proxy on CPU $PROXY_CPU; backend + wrk on CPU $LOAD_CPU; machine ${busy}% busy before start; CLK_TCK=$clk_tck; ${nginx_version#nginx version: }; ${go_version}"
echo
{
	printf 'proxy\trequests/s\tp99 (ms)\tCPU µs/request\tproxy CPU %%\trequests\terrors\n'
	printf '%s\n' "${RESULTS[@]}"
} | column -t -s $'\t'
echo
awk -F'\t' -v a="${RESULTS[0]}" -v b="${RESULTS[1]}" 'BEGIN {
	split(a, p, "\t"); split(b, n, "\t")
	if (n[4] > 0) printf "CPU per request, phalanx/nginx: %.2fx\n", p[4] / n[4]
	if (n[2] > 0) printf "requests/s,      phalanx/nginx: %.2fx\n", p[2] / n[2]
}'
for r in "${RESULTS[@]}"; do
	IFS=$'\t' read -r name _ _ _ _ _ e <<<"$r"
	((e == 0)) || echo "WARNING: $name: $e socket errors or non-2xx responses"
done
# wrk drops its connections at the end of each run (warm-up included), so
# up to CONNS requests per wrk run may be in flight; phalanx logs each of
# those as a 499 "context canceled" at INFO. Anything else but the start-up
# "listening" line is worth a look.
if ((phalanx_log_lines > 1)); then
	n499=$(grep -c 'status=499 .*cause="context canceled"' "$tmp/phalanxd.log" || true)
	echo "note: phalanxd logged $phalanx_log_lines lines, $n499 of them 499s for requests that wrk abandoned when a run ended"
	other=$(grep -v -e 'status=499 .*cause="context canceled"' -e 'msg=listening' "$tmp/phalanxd.log" || true)
	if [[ -n $other ]]; then
		echo "WARNING: other phalanxd log lines (last 5):"
		tail -n 5 <<<"$other" | sed 's/^/    /'
	fi
fi
for n in backend proxy; do
	if [[ -s $tmp/$n/error.log ]]; then
		lines=$(wc -l <"$tmp/$n/error.log")
		echo "note: nginx $n error.log has $lines lines; last ones:"
		tail -n 3 "$tmp/$n/error.log" | sed 's/^/    /'
	fi
done
