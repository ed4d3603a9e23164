# shellcheck shell=bash
# Progress lines for the test bed's build scripts (sourced, not run). A first run builds for about
# 25 minutes with Go (toolchain, API server, gateway, authz) and Maven (Keycloak): before each long
# step the scripts say what they build and why, and while it runs a heartbeat says every
# $MCP_PROGRESS_INTERVAL seconds (default 30) how long it has taken and about how long it takes:
# the last duration recorded in the cache when there is one, else a table measured on 2 cores.
# A warm run calls none of this and starts no process for it.
#
#   . "$ROOT/testbed/progress.sh"; PROGRESS_PREFIX=authz-build
#   progress_run "building authz-eval" "first run only" "$OUT/build.seconds" 66 "$logf" go build .
#
# Lines go to file descriptor $MCP_PROGRESS_FD (default 2, stderr; sandbox.sh passes its own stderr
# there while the scripts' other output goes to its log). stdout is never written: scripts that
# print `export X=...` lines keep a clean stdout.

PROGRESS_PREFIX=${PROGRESS_PREFIX:-testbed}
PROGRESS_FD=${MCP_PROGRESS_FD:-2}
# A descriptor that is not open (the variable inherited without it) falls back to stderr.
if ! [[ $PROGRESS_FD =~ ^[0-9]+$ ]] || ! { true >&"$PROGRESS_FD"; } 2>/dev/null; then PROGRESS_FD=2; fi
PROGRESS_INTERVAL=${MCP_PROGRESS_INTERVAL:-30}
[[ $PROGRESS_INTERVAL =~ ^[1-9][0-9]*$ ]] || PROGRESS_INTERVAL=30
PROGRESS_HB=     # pid of the running heartbeat
PROGRESS_WHAT=   # what it builds
PROGRESS_T0=     # when it started, in microseconds
PROGRESS_FILE=   # where its duration is recorded
PROGRESS_EST=    # about how long it takes, in seconds
PROGRESS_EST_SRC= # where that estimate comes from

# progress_say TEXT...: one line "PREFIX: TEXT" on the progress descriptor.
progress_say() { printf '%s: %s\n' "$PROGRESS_PREFIX" "$*" >&"$PROGRESS_FD"; }

# progress_now VAR: VAR = microseconds since the epoch, without a process (EPOCHREALTIME: bash 5;
# its decimal point follows the locale, so every non-digit goes).
progress_now() { local t=${EPOCHREALTIME:-$(date +%s.%N)}; t=${t//[!0-9]/}; printf -v "$1" '%s' "${t:0:16}"; }

# progress_dur VAR SECONDS: VAR = "42s" or "6m05s".
progress_dur() {
	if (($2 < 60)); then printf -v "$1" '%ds' "$2"; else printf -v "$1" '%dm%02ds' $(($2 / 60)) $(($2 % 60)); fi
}

# progress_start WHAT WHY SECONDS_FILE TYPICAL: says "WHAT (WHY): about ..." and starts the
# heartbeat. The estimate is SECONDS_FILE's number (the last such build here) or TYPICAL seconds.
progress_start() {
	local what=$1 why=$2 file=$3 typical=$4 last= est owner=$BASHPID
	[[ -n $file && -f $file ]] && read -r last <"$file" 2>/dev/null
	if [[ $last =~ ^[1-9][0-9]*$ ]]; then
		PROGRESS_EST=$last PROGRESS_EST_SRC="its last build here"
	else
		PROGRESS_EST=$typical PROGRESS_EST_SRC="measured on 2 cores"
	fi
	PROGRESS_WHAT=$what PROGRESS_FILE=$file
	progress_now PROGRESS_T0
	progress_dur est "$PROGRESS_EST"
	progress_say "$what${why:+ ($why)}: about $est ($PROGRESS_EST_SRC)"
	progress_heartbeat "$owner" </dev/null >/dev/null &
	PROGRESS_HB=$!
}

# The heartbeat: a line every PROGRESS_INTERVAL seconds while OWNER (the shell that started it)
# lives. It waits with `read -t` on a FIFO of its own instead of `sleep`, so killing it leaves no
# child behind; when OWNER dies (Ctrl-C, kill, exit on an error) it ends within a second.
progress_heartbeat() {
	local owner=$1 tick= fifo next=$PROGRESS_INTERVAL now elapsed so_far est
	fifo=$(mktemp -u "${TMPDIR:-/tmp}/progress.XXXXXX")
	if mkfifo -m 600 "$fifo" 2>/dev/null; then
		exec {tick}<>"$fifo"
		rm -f "$fifo"
	fi
	progress_dur est "$PROGRESS_EST"
	while kill -0 "$owner" 2>/dev/null; do
		if [[ -n $tick ]]; then read -r -t 1 -u "$tick" || true; else sleep 1; fi
		progress_now now
		elapsed=$(((now - PROGRESS_T0) / 1000000))
		((elapsed >= next)) || continue
		next=$((next + PROGRESS_INTERVAL))
		kill -0 "$owner" 2>/dev/null || break
		progress_dur so_far "$elapsed"
		if ((elapsed <= PROGRESS_EST)); then
			progress_say "still $PROGRESS_WHAT: $so_far so far, about $est in all ($PROGRESS_EST_SRC)"
		else
			progress_say "still $PROGRESS_WHAT: $so_far so far, longer than the $est ($PROGRESS_EST_SRC)"
		fi
	done
}

# progress_stop: ends the heartbeat (on failure: nothing recorded).
progress_stop() {
	[[ -n $PROGRESS_HB ]] || return 0
	kill "$PROGRESS_HB" 2>/dev/null || true
	wait "$PROGRESS_HB" 2>/dev/null || true
	PROGRESS_HB=
}

# progress_done: ends the heartbeat, records the duration in SECONDS_FILE, says "WHAT: done in ...".
progress_done() {
	progress_stop
	local now s took
	progress_now now
	s=$(((now - PROGRESS_T0) / 1000000))
	[[ -z $PROGRESS_FILE ]] || echo "$((s > 0 ? s : 1))" >"$PROGRESS_FILE"
	progress_dur took "$s"
	progress_say "$PROGRESS_WHAT: done in $took"
}

# progress_run WHAT WHY SECONDS_FILE TYPICAL LOG COMMAND...: progress_start, COMMAND with its
# stdout and stderr appended to LOG ("-": left as they are), then progress_done, or progress_stop
# when it fails. Returns COMMAND's exit code.
progress_run() {
	local rc=0
	progress_start "$1" "$2" "$3" "$4"
	local log=$5
	shift 5
	if [[ $log == - ]]; then "$@" || rc=$?; else "$@" >>"$log" 2>&1 || rc=$?; fi
	if ((rc == 0)); then progress_done; else progress_stop; fi
	return "$rc"
}
