#!/usr/bin/env bash
# run.sh - sealtag's milter benchmark (issue 5): the protocol floor (a no-op go-milter
# server), sealtag with the shipped configuration, and rspamd 3.4 from Debian's packages as
# a milter, driven by milterload over the same corpus on the same machine, at each
# concurrency, several runs each. Writes a Markdown table of medians and ratios to stdout
# and to bench-results.md.
#
#   make bench-milter                 (or: bash contrib/bench/run.sh)
#
# Environment (defaults): N=2000 messages per run, RUNS=3, CONNS="1 8", PER_CONN=10,
# SERVERS="noop sealtag rspamd" (the first is the reference of the ratios),
# CORPUS=/tmp/sealtag-load (made by testdata/load/gen.sh; remade when the script changed or
# REGEN=1), OUT=bench-results.md at the top of the repository,
# CACHE=/var/tmp/sealtag-bench (rspamd's compiled hyperscan database; the first start
# compiles it for about 20 s), KEEP=1 keeps the work dir (logs, configs, JSON reports).
#
# Needs root for apt-get (rspamd is installed when missing) and runs rspamd as root.
# Everything listens on unix sockets in a private temp dir; the only ports are rspamd's
# dead resolver (UDP) and sealtag's metrics address, picked free in 127.0.0.1:10025-10099.
# QUIET_WAIT=60: seconds to wait for other work on the machine to stop before measuring;
# PRIO=-10: the nice value of the benchmark's processes (root only; 0 leaves it).
# About 2-4 minutes on 2 cores (plus 20 s the first time rspamd compiles hyperscan).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GO=${GO:-go}
N=${N:-2000}
RUNS=${RUNS:-3}
CONNS=${CONNS:-"1 8"}
PER_CONN=${PER_CONN:-10}
SERVERS=${SERVERS:-"noop sealtag rspamd"}
CORPUS=${CORPUS:-/tmp/sealtag-load}
OUT=${OUT:-$ROOT/bench-results.md}
CACHE=${CACHE:-/var/tmp/sealtag-bench}
export LC_ALL=C TZ=UTC

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# Our processes (the servers, milterload) get priority over whatever else runs on the
# machine (PRIO, a nice value; root only; PRIO=0 to leave it). With the kernel's autogroup
# scheduling (sched_autogroup_enabled=1, the default) a nice value counts only inside its
# session, so the script reruns itself in a session of its own (setsid) and sets the nice
# value of that session's autogroup. Other work still costs cache and memory bandwidth:
# the table shows how much of it there was.
PRIO=${PRIO:--10}
if [ "$(id -u)" = 0 ] && [ "$PRIO" != 0 ]; then
	if [ -z "${SEALTAG_BENCH_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] &&
		command -v setsid >/dev/null; then
		# Job control is off in a script, so the background job is no process group
		# leader and setsid needs no fork: $! is the new session's bash.
		SEALTAG_BENCH_SESSION=1 setsid bash "${BASH_SOURCE[0]}" "$@" &
		inner=$!
		trap 'kill -TERM "$inner" 2>/dev/null' INT TERM
		rc=0
		while :; do
			wait "$inner" && rc=0 || rc=$?
			kill -0 "$inner" 2>/dev/null || break # wait was cut short by a signal: wait again
		done
		exit "$rc"
	fi
	[ -w "/proc/$$/autogroup" ] && echo "$PRIO" >"/proc/$$/autogroup" 2>/dev/null
	renice -n "$PRIO" -p $$ >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealtag-bench.XXXXXX")
chmod 755 "$WORK"
BIN=$WORK/bin
RES=$WORK/results
mkdir -p "$BIN" "$RES" "$WORK/probe"
declare -A PID=() ADDR=()

# stop_server NAME: SIGTERM, wait up to 30 s, then SIGKILL. Only our own children.
stop_server() {
	local s=$1 p=${PID[$1]:-} i
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	unset "PID[$s]"
}
cleanup() {
	local s
	for s in "${!PID[@]}"; do stop_server "$s"; done
	if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: sets REPLY to a port of 10025-10099 that no TCP or UDP socket uses (read from
# /proc/net, so no extra tool) and that this script has not handed out yet.
TAKEN=" "
free_port() {
	local f a p used=" "
	for f in /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; do
		[ -r "$f" ] || continue
		while read -r _ a _; do used+="$((16#${a##*:})) "; done < <(tail -n +2 "$f")
	done
	for ((p = 10025; p <= 10099; p++)); do
		case "$used$TAKEN" in *" $p "*) continue ;; esac
		TAKEN+="$p "
		REPLY=$p
		return 0
	done
	die "no free port in 10025-10099"
}

ensure_rspamd() {
	command -v rspamd >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "rspamd is missing; as root: apt-get install --no-install-recommends rspamd"
	log "installing rspamd from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	# No recommends: redis-server would come along and start. Debian's policy-rc.d (in
	# containers) keeps the packaged rspamd service from starting; it is never used here.
	apt-get install -y --no-install-recommends rspamd >&2 ||
		{ apt-get update >&2 && apt-get install -y --no-install-recommends rspamd >&2; }
}

# ------------------------------------------------------------------ build and corpus
log "building sealtag, milterload, noop, benchtable"
(
	cd "$ROOT"
	$GO build -trimpath -ldflags "-s -w" -o "$BIN/sealtag" .
	$GO build -trimpath -o "$BIN/milterload" ./contrib/milterload
	$GO build -trimpath -o "$BIN/noop" ./contrib/milterload/noop
	$GO build -trimpath -o "$BIN/benchtable" ./contrib/bench/benchtable
)

stamp=$(sha256sum "$ROOT/testdata/load/gen.sh" | cut -c1-16)
if [ "${REGEN:-0}" = 1 ] || [ "$(cat "$CORPUS/.gen-stamp" 2>/dev/null)" != "$stamp" ] ||
	[ ! -f "$CORPUS/big/huge-50mib.eml" ]; then
	log "making the corpus in $CORPUS"
	bash "$ROOT/testdata/load/gen.sh" "$CORPUS" >&2
	echo "$stamp" >"$CORPUS/.gen-stamp"
else
	log "corpus $CORPUS is current (REGEN=1 remakes it)"
fi
printf 'From: probe@load.test\nTo: probe@load.test\nSubject: probe\n\nprobe\n' >"$WORK/probe/probe.eml"

case " $SERVERS " in *" rspamd "*) ensure_rspamd ;; esac

# ------------------------------------------------------------------ servers
start_noop() {
	ADDR[noop]=unix:$WORK/noop.sock
	"$BIN/noop" -listen "${ADDR[noop]}" 2>>"$WORK/noop.log" &
	PID[noop]=$!
}

# sealtag with testdata/sealtag.example.toml (the shipped configuration): only the socket
# moves to the work dir, socket_group goes (no postfix group needed) and the metrics address
# moves to a free port of the range.
start_sealtag() {
	local conf=$WORK/sealtag.toml
	ADDR[sealtag]=unix:$WORK/sealtag.sock
	free_port
	sed -e "s|^listen = .*|listen = \"${ADDR[sealtag]}\"|" -e '/^socket_group/d' \
		-e "s|^metrics_listen = .*|metrics_listen = \"127.0.0.1:$REPLY\"|" \
		"$ROOT/testdata/sealtag.example.toml" >"$conf"
	grep -q "^listen = \"${ADDR[sealtag]}\"" "$conf" || die "could not point listen at the work dir in $conf"
	"$BIN/sealtag" check -config "$conf" >&2
	"$BIN/sealtag" serve -config "$conf" 2>>"$WORK/sealtag.log" &
	PID[sealtag]=$!
}

# rspamd 3.4 as Postfix would use it: one rspamd_proxy worker section in milter mode that
# scans itself (self_scan, no normal worker), 2 processes; no controller, fuzzy or redis;
# every module that would reach the network disabled; the resolver pointed at a loopback
# port nobody listens on (lookups fail at once instead of leaving the machine). The
# packaged /etc/rspamd/rspamd.conf is used as is: --var moves LOCAL_CONFDIR (local.d,
# override.d), DBDIR, RUNDIR and LOGDIR, nothing else would.
start_rspamd() {
	local r=$WORK/rspamd m
	mkdir -p "$r/etc/local.d" "$r/etc/override.d" "$r/run" "$r/log" "$CACHE/rspamd-db"
	for m in dkim dkim_signing arc spf dmarc rbl surbl emails asn fuzzy_check hfilter mx_check \
		rspamd_update url_redirector phishing; do
		echo 'enabled = false;' >"$r/etc/local.d/$m.conf"
	done
	free_port
	printf 'dns { nameserver = ["127.0.0.1:%s"]; timeout = 1s; retransmits = 1; }\n' "$REPLY" >"$r/etc/local.d/options.inc"
	echo 'enabled = false;' >"$r/etc/override.d/worker-normal.inc"
	echo 'enabled = false;' >"$r/etc/override.d/worker-controller.inc"
	cat >"$r/etc/override.d/worker-proxy.inc" <<-EOF
		bind_socket = "$r/rspamd.sock mode=0660";
		milter = yes;
		self_scan = yes;
		count = 2;
		timeout = 120s;
		upstream "local" {
		  default = yes;
		  self_scan = yes;
		}
	EOF
	ADDR[rspamd]=unix:$r/rspamd.sock
	: >"$r/log/rspamd.log"
	rspamd -f -u root -g root -c /etc/rspamd/rspamd.conf --var=LOCAL_CONFDIR="$r/etc" \
		--var=DBDIR="$CACHE/rspamd-db" --var=RUNDIR="$r/run" --var=LOGDIR="$r/log" \
		>>"$r/stdout" 2>&1 &
	PID[rspamd]=$!
}

# wait_ready NAME SECONDS: until a probe message gets an answer; for rspamd also until
# its hs_helper has finished (re)compiling hyperscan and the workers have loaded it.
wait_ready() {
	local s=$1 secs=$2 i
	for ((i = 0; i < secs * 5; i++)); do
		if ! kill -0 "${PID[$s]}" 2>/dev/null; then
			tail -n 20 "$WORK/$s.log" "$WORK/rspamd/log/rspamd.log" "$WORK/rspamd/stdout" 2>/dev/null >&2 || true
			die "$s exited during start"
		fi
		if "$BIN/milterload" -addr "${ADDR[$s]}" -corpus "$WORK/probe" -n 1 -timeout 5s >/dev/null 2>&1; then
			if [ "$s" != rspamd ] || grep -q 'rspamd_rs_compile_cb: compiled' "$WORK/rspamd/log/rspamd.log"; then
				[ "$s" = rspamd ] && sleep 3 # "postpone loaded notification for 1 seconds"
				return 0
			fi
		fi
		sleep 0.2
	done
	die "$s not ready after $secs s"
}

start() {
	"start_$1"
	if [ "$1" = rspamd ]; then wait_ready "$1" 300; else wait_ready "$1" 20; fi
	log "$1 ready: pid ${PID[$1]}, ${ADDR[$1]}"
}

# load NAME FILE ARGS...: one milterload run with -json into FILE; exit 3 (errors) is kept.
load() {
	local s=$1 f=$2 rc=0
	shift 2
	"$BIN/milterload" -addr "${ADDR[$s]}" -pid "${PID[$s]}" -json "$@" >"$f" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 3 ] || die "milterload against $s failed ($rc)"
	log "$(basename "$f" .json): $(grep -m1 '"msgs_per_s"' "$f" | tr -d ' ,')" \
		"p99=$(sed -n '/"latency_ms"/,/}/s/.*"p99": \([0-9.]*\).*/\1/p' "$f")ms" \
		"$(grep -m1 '"cpu_ms_per_msg"' "$f" | tr -d ' ,')" "$(grep -m1 '"errors"' "$f" | tr -d ' ,')"
}

# busy_cores: REPLY = cores the machine kept busy over 2 s (/proc/stat), with nothing of ours running.
busy_cores() {
	local a b
	read -r _ a < <(awk '/^cpu / {print "x", $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)
	sleep 2
	read -r _ b < <(awk '/^cpu / {print "x", $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)
	REPLY=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", (b - a) / 100 / 2}')
}
# Someone else's work on the machine makes every figure noisy: wait up to QUIET_WAIT s
# (default 60) for it to drop below a third of a core, then go on and say so.
quiet_wait=${QUIET_WAIT:-60}
for ((i = 0; ; i += 2)); do
	busy_cores
	awk -v x="$REPLY" 'BEGIN {exit !(x < 0.33)}' && break
	if ((i >= quiet_wait)); then
		log "the machine stays busy ($REPLY cores used by other processes): the figures will be noisy"
		break
	fi
	((i == 0)) && log "the machine is busy ($REPLY cores used by other processes); waiting up to ${quiet_wait}s"
done
idle_before=$REPLY

started=$(date -u '+%Y-%m-%d %H:%M UTC')
t0=$SECONDS
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

# Phase 1: all servers up at once, runs interleaved (run r: each concurrency, each server),
# so a change of machine load touches all of them alike.
for s in $SERVERS; do start "$s"; done
for s in $SERVERS; do
	log "warming up $s"
	"$BIN/milterload" -addr "${ADDR[$s]}" -corpus "$CORPUS" -c 8 -per-conn "$PER_CONN" -n 400 >/dev/null ||
		die "warm-up of $s failed"
done
for ((r = 1; r <= RUNS; r++)); do
	for c in $CONNS; do
		for s in $SERVERS; do
			load "$s" "$RES/$s-c$c-r$r.json" -corpus "$CORPUS" -c "$c" -per-conn "$PER_CONN" -n "$N" \
				-reset-peak -label "$s c=$c run=$r"
		done
	done
done
for s in $SERVERS; do stop_server "$s"; done

# Phase 2: one 50 MiB message on a freshly started server, memory sampled every 20 ms.
for s in $SERVERS; do
	start "$s"
	load "$s" "$RES/$s-huge.json" -corpus "$CORPUS/big" -n 1 -timeout 300s -sample 20ms -label "$s 50 MiB"
	stop_server "$s"
done

# ------------------------------------------------------------------ the table
{
	echo "# Milter benchmark: no-op floor, sealtag, rspamd"
	echo
	echo "Made by \`make bench-milter\` (contrib/bench/run.sh) on $started in $((SECONDS - t0)) s."
	echo "sealtag $(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo '(no git)'), $($GO version | cut -d' ' -f3)," \
		"$(rspamd --version 2>/dev/null | head -n1 || true); $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1))," \
		"$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r);" \
		"before the run: load average $loadavg, $idle_before cores busy with other work; benchmark at nice $(ps -o ni= -p $$ | tr -d ' ')" \
		"(autogroup: $(sed 's/.*nice/nice/' /proc/$$/autogroup 2>/dev/null || echo none))."
	echo
	echo "Per run: \`milterload -addr unix:SOCKET -corpus $CORPUS -c C -per-conn $PER_CONN -n $N -pid PID -reset-peak -json\`;"
	echo "50 MiB: \`milterload -addr unix:SOCKET -corpus $CORPUS/big -n 1 -sample 20ms -pid PID -json\`."
	echo "Servers: \`noop -listen unix:…\`; \`sealtag serve -config\` testdata/sealtag.example.toml (listen on a private"
	echo "socket, no socket_group); \`rspamd -f -c /etc/rspamd/rspamd.conf --var=…\` with one rspamd_proxy worker"
	echo "(milter, self_scan, count 2), network modules disabled, resolver on a dead loopback port."
	echo
	"$BIN/benchtable" -dir "$RES" -servers "$SERVERS" -conns "$CONNS" -runs "$RUNS"
} >"$WORK/table.md"
cp "$WORK/table.md" "$OUT"
cat "$WORK/table.md"
log "wrote $OUT in $((SECONDS - t0)) s"
