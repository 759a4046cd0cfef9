#!/usr/bin/env bash
# bench/static.sh: phalanx vs nginx serving a static file, side by side, in one run.
#
# Both servers serve the same file (1 MiB of random bytes) from the same
# directory: phalanxd from a phalanx.conf with "route / { root DIR; }",
# nginx with "location / { root DIR; }" and sendfile on. Each is started
# in turn, checked to serve the file intact, warmed up, then loaded with
# wrk. For each the script reports requests/s, throughput, p99 latency and
# the server's CPU time per request (utime+stime from /proc/PID/stat
# across the wrk run), then the phalanx/nginx ratios.
#
# CPU pinning (taskset): the server under test runs alone on SERVER_CPU
# (0); wrk runs on LOAD_CPU (1). Reading 1 MiB per response costs wrk real
# CPU, so requests/s may be capped by LOAD_CPU rather than by the server
# ("server CPU %" below 100 says so); CPU µs/request is the figure that
# compares the servers.
#
# Environment:
#   DURATION   wrk run per server             (default 10s; wrk syntax: 10s, 1m)
#   WARMUP     wrk warm-up per server         (default 2s)
#   CONNS      wrk connections                (default 32)
#   SIZE       file size in bytes             (default 1048576)
#   SERVER_CPU CPU for the server under test  (default 0)
#   LOAD_CPU   CPU for wrk                    (default 1)
#
# Only 127.0.0.1 is used, on ports the kernel reports free. Everything
# lives in a temp dir; an EXIT trap stops every process the script started
# and removes it. Needs go, python3, taskset, sha256sum; installs nginx,
# wrk and curl with apt-get if missing (services kept from starting via
# policy-rc.d).
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
SIZE=${SIZE:-1048576}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

install_missing
for t in go python3 taskset getconf pgrep timeout sha256sum; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found on PATH"
done
ncpu=$(getconf _NPROCESSORS_ONLN)
((ncpu >= 2)) || die "need at least 2 CPUs for pinning, have $ncpu"
((SERVER_CPU < ncpu && LOAD_CPU < ncpu)) || die "SERVER_CPU/LOAD_CPU out of range (have $ncpu CPUs)"
[[ $SERVER_CPU != "$LOAD_CPU" ]] || die "SERVER_CPU and LOAD_CPU must differ"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, got '$CONNS'"
[[ $SIZE =~ ^[1-9][0-9]*$ ]] || die "SIZE must be a positive integer, got '$SIZE'"

dur_s=$(secs "$DURATION")
warm_s=$(secs "$WARMUP")
[[ $dur_s =~ ^[0-9]+$ && $warm_s =~ ^[0-9]+$ ]] || die "durations must be whole seconds/minutes/hours"
((dur_s > 0)) || die "DURATION must be positive"

clk_tck=$(getconf CLK_TCK)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/phalanx-static-bench.XXXXXX")

# ---------------------------------------------------------------- helpers

# Two distinct free loopback ports: both bound at once, then released.
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))
') || die "could not get free ports from the kernel"
read -r phalanx_port nginx_port <<<"$ports"

# The file both servers serve, and its digest.
www=$tmp/www
mkdir -p "$www"
head -c "$SIZE" /dev/urandom >"$www/file.bin"
want_sum=$(sha256sum <"$www/file.bin")
want_sum=${want_sum%% *}

# wait_file NAME PID PORT: up to ~10 s for PORT to serve the file intact.
wait_file() {
	local name=$1 pid=$2 port=$3 i got
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) exited during start-up"
		if curl -fsS --max-time 2 -o "$tmp/$name.check" "http://127.0.0.1:$port/file.bin" 2>/dev/null; then
			got=$(sha256sum <"$tmp/$name.check")
			got=${got%% *}
			[[ $got == "$want_sum" ]] || die "$name served another file.bin (sha256 $got, want $want_sum)"
			rm -f "$tmp/$name.check"
			return 0
		fi
		sleep 0.1
	done
	die "$name did not serve /file.bin on 127.0.0.1:$port within 10 s"
}

# bench NAME PID PORT: warm-up, measured wrk run; appends a result row:
# name, requests/s, MiB/s, p99 ms, CPU µs/request, server CPU %,
# requests, errors.
RESULTS=()
bench() {
	local name=$1 pid=$2 port=$3 url out c0 c1 t0 t1 rps reqs p99 errs non2xx
	url="http://127.0.0.1:$port/file.bin"
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
	RESULTS+=("$(awk -v n="$name" -v rps="$rps" -v p99="$p99" -v size="$SIZE" \
		-v dc=$((c1 - c0)) -v hz="$clk_tck" -v reqs="$reqs" -v t0="$t0" -v t1="$t1" -v e="$errs" \
		'BEGIN { cpu = dc / hz
			printf "%s\t%.0f\t%.0f\t%s\t%.2f\t%.0f\t%d\t%d", n, rps, rps * size / 1048576, p99, cpu * 1e6 / reqs, 100 * cpu / (t1 - t0), reqs, e }')")
}

# ---------------------------------------------------------------- run

busy=$(busy_pct)
if ((busy > 10)); then
	log "WARNING: the machine is already ${busy}% busy before the benchmark; figures will be noisy"
fi

log "building phalanxd"
(cd "$repo" && go build -o "$tmp/phalanxd" ./examples/phalanxd)

# (a) phalanxd. worker_threads sets GOMAXPROCS (phalanxd applies it over
# the environment's). The per-client rate limit is on by default (50/s)
# and would throttle wrk, so it is off.
cat >"$tmp/phalanx.conf" <<EOF
worker_threads 1;
tcp_bind off;
http {
    server {
        listen 127.0.0.1:$phalanx_port;
        rate_limit_per_ip 0;
        route / { root "$www"; }
    }
}
EOF
if ! "$tmp/phalanxd" -t -c "$tmp/phalanx.conf" 2>"$tmp/phalanxd-t.log"; then
	sed 's/^/    /' "$tmp/phalanxd-t.log" >&2
	die "phalanxd rejected $tmp/phalanx.conf"
fi
log "phalanxd on 127.0.0.1:$phalanx_port serving $www (CPU $SERVER_CPU, worker_threads 1)"
taskset -c "$SERVER_CPU" "$tmp/phalanxd" -c "$tmp/phalanx.conf" 2>"$tmp/phalanxd.log" &
phalanx_pid=$!
PIDS+=("$phalanx_pid")
wait_file phalanxd "$phalanx_pid" "$phalanx_port"
bench phalanx "$phalanx_pid" "$phalanx_port"
stop_pid "$phalanx_pid"
forget_pid "$phalanx_pid"

# (b) nginx: one process (master_process off: it is the worker), sendfile
# and tcp_nopush on as its docs advise for static files, no
# open_file_cache (phalanx has none).
nd=$tmp/nginx
mkdir -p "$nd"
cat >"$nd/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $nd/nginx.pid;
error_log $nd/error.log warn;
events {
    worker_connections 8192;
}
http {
    access_log off;
    client_body_temp_path $nd/client_body;
    proxy_temp_path $nd/proxy;
    fastcgi_temp_path $nd/fastcgi;
    uwsgi_temp_path $nd/uwsgi;
    scgi_temp_path $nd/scgi;
    keepalive_requests 1000000;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            root $www;
        }
    }
}
EOF
nginx -t -q -p "$nd" -e "$nd/error.log" -c "$nd/nginx.conf" || die "nginx config $nd/nginx.conf rejected"
log "nginx on 127.0.0.1:$nginx_port serving $www (CPU $SERVER_CPU)"
taskset -c "$SERVER_CPU" nginx -p "$nd" -e "$nd/error.log" -c "$nd/nginx.conf" >"$nd/stdout.log" 2>&1 &
nginx_pid=$!
PIDS+=("$nginx_pid")
wait_file nginx "$nginx_pid" "$nginx_port"
bench nginx "$nginx_pid" "$nginx_port"
stop_pid "$nginx_pid"
forget_pid "$nginx_pid"

# ---------------------------------------------------------------- report

nginx_version=$(nginx -v 2>&1) || true
go_version=$(go env GOVERSION) || true
echo
echo "phalanx vs nginx serving a static file: $SIZE bytes, wrk -t1 -c$CONNS -d$DURATION"
echo "server on CPU $SERVER_CPU; wrk on CPU $LOAD_CPU; machine ${busy}% busy before start; CLK_TCK=$clk_tck; ${nginx_version#nginx version: }; ${go_version}"
echo
{
	printf 'server\trequests/s\tMiB/s\tp99 (ms)\tCPU µs/request\tserver CPU %%\trequests\terrors\n'
	printf '%s\n' "${RESULTS[@]}"
} | column -t -s $'\t'
echo
awk -F'\t' -v a="${RESULTS[0]}" -v b="${RESULTS[1]}" 'BEGIN {
	split(a, p, "\t"); split(b, n, "\t")
	if (n[2] > 0) printf "requests/s,      phalanx/nginx: %.2fx\n", p[2] / n[2]
	if (n[5] > 0) printf "CPU per request, phalanx/nginx: %.2fx\n", p[5] / n[5]
}'
for r in "${RESULTS[@]}"; do
	IFS=$'\t' read -r name _ _ _ _ _ _ e <<<"$r"
	((e == 0)) || echo "WARNING: $name: $e socket errors or non-2xx responses"
done
# wrk drops its connections at the end of each run, which phalanxd may
# log. Anything else but the start-up lines is worth a look.
other=$(grep -v -e 'msg=listening' -e 'msg="config: ' -e 'status=499 ' "$tmp/phalanxd.log" || true)
if [[ -n $other ]]; then
	echo "note: phalanxd logged $(wc -l <<<"$other") other lines; last ones:"
	tail -n 5 <<<"$other" | sed 's/^/    /'
fi
if [[ -s $nd/error.log ]]; then
	echo "note: nginx error.log has $(wc -l <"$nd/error.log") lines; last ones:"
	tail -n 3 "$nd/error.log" | sed 's/^/    /'
fi
