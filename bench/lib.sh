# shellcheck shell=bash
# Shared by the bench/ scripts (source it): logging, an EXIT trap that
# stops every process listed in PIDS and removes $tmp, and installing
# nginx, wrk and curl (and whatever else a script asks for, e.g. haproxy)
# with apt-get when missing.

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- cleanup

PIDS=()
tmp=""

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL; children included.
stop_pid() {
	local pid=$1 kids i k
	kill -0 "$pid" 2>/dev/null || {
		wait "$pid" 2>/dev/null || true
		return 0
	}
	kids=$(pgrep -P "$pid" || true)
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
	wait "$pid" 2>/dev/null || true
}

# forget_pid PID: drop it from PIDS once stopped, so that cleanup can never
# signal a recycled pid.
forget_pid() {
	local keep=() p
	for p in ${PIDS[@]+"${PIDS[@]}"}; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=(${keep[@]+"${keep[@]}"})
}

cleanup() {
	local rc=$? p
	set +e
	trap - EXIT INT TERM HUP
	for p in ${PIDS[@]+"${PIDS[@]}"}; do stop_pid "$p"; done
	[[ -n $tmp && -d $tmp ]] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- tools

# install_missing [TOOL...]: apt-get install the tools (each a command and
# the Debian package of the same name) that are not on PATH; by default
# nginx, wrk and curl. A policy-rc.d that exits 101, created for the
# install and removed after it, keeps Debian's maintainer scripts from
# starting the packages' services (nginx, haproxy).
# shellcheck disable=SC2120 # the arguments are optional
install_missing() {
	local missing=() t created="" tools=("$@")
	((${#tools[@]} > 0)) || tools=(nginx wrk curl)
	for t in "${tools[@]}"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]} with apt-get"
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install ${missing[*]}"
		sudo=(sudo)
	fi
	# Keep Debian's maintainer scripts from starting any service.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
		created=1
	fi
	local rc=0
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
		rc=$?
	[[ -z $created ]] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
	((rc == 0)) || die "apt-get could not install ${missing[*]} (status $rc)"
	for t in "${missing[@]}"; do
		command -v "$t" >/dev/null 2>&1 || die "$t is still not on PATH after installing it"
	done
}

# ---------------------------------------------------------------- measuring

# secs DUR: wrk duration (10, 10s, 2m, 1h) to whole seconds.
secs() {
	local d=$1
	case $d in
	*[0-9]s) echo "${d%s}" ;;
	*[0-9]m) echo $((${d%m} * 60)) ;;
	*[0-9]h) echo $((${d%h} * 3600)) ;;
	*[0-9]) echo "$d" ;;
	*) die "bad duration '$d' (want e.g. 10s, 1m)" ;;
	esac
}

# cpu_ticks PID: utime+stime of PID and its direct children, in clock
# ticks. /proc/PID/stat covers all threads of a process. The fields after
# the ")" that closes comm start at field 3 (state), so utime (14) and
# stime (15) are the 12th and 13th of them.
cpu_ticks() {
	local total=0 p rest f
	for p in "$1" $(pgrep -P "$1" || true); do
		rest=$(<"/proc/$p/stat") 2>/dev/null || continue
		rest=${rest##*) }
		read -r -a f <<<"$rest"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# to_ms WRK_LATENCY: "850.00us" / "2.10ms" / "1.02s" / "2.00m" -> ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n
	}'
}

# run_wrk OUTFILE SECS ARGS...: wrk pinned to LOAD_CPU, killed if still
# running 30 s after its SECS-long run should have ended. It
# runs in the background and the script waits for it, because bash defers
# a trap until a foreground command ends but runs it at once during wait:
# Ctrl-C or SIGTERM stops everything without waiting for the run to end.
run_wrk() {
	local out=$1 limit=$(($2 + 30)) p rc=0
	shift 2
	timeout -k 5 "$limit" taskset -c "$LOAD_CPU" wrk "$@" >"$out" 2>&1 &
	p=$!
	PIDS+=("$p")
	wait "$p" || rc=$?
	forget_pid "$p"
	((rc == 0)) || {
		sed 's/^/    /' "$out" >&2
		die "wrk exited with status $rc"
	}
}

# busy_pct: share of all CPUs busy over the next second, from /proc/stat.
busy_pct() {
	local a b
	a=$(head -n 1 /proc/stat)
	sleep 1
	b=$(head -n 1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		n = split(a, x); split(b, y); tot = 0
		for (i = 2; i <= n; i++) tot += y[i] - x[i]
		idle = (y[5] - x[5]) + (y[6] - x[6])
		printf "%.0f", (tot > 0 ? 100 * (tot - idle) / tot : 0)
	}'
}

# rss_kib PID: the resident set of PID (VmRSS from /proc/PID/status), in
# KiB. It covers the process's own memory, not the kernel's socket buffers.
rss_kib() {
	awk '$1 == "VmRSS:" { print $2; found = 1 } END { exit !found }' "/proc/$1/status" 2>/dev/null ||
		die "could not read VmRSS of pid $1"
}
