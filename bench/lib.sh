# Shared by the bench/ scripts (source it): logging, an EXIT trap that
# stops every process listed in PIDS and removes $tmp, and installing
# nginx, wrk and curl with apt-get when missing.

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

install_missing() {
	local missing=() t created=""
	for t in nginx wrk curl; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]} with apt-get"
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install ${missing[*]}"
		sudo=(sudo)
	fi
	# Keep Debian's maintainer scripts from starting the nginx service.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
		created=1
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	[[ -n $created ]] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
	return 0
}

