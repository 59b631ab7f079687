#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# bench/run.sh - the gateway vs plain nginx as a reverse proxy, interleaved
# round by round in one run (APISIX's "hello world" proxy benchmark).
#
# See docs/benchmarks.md for what is measured and how to read the output.

set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=lib/servers.sh
source "$SCRIPT_DIR/lib/servers.sh"

usage() {
    cat <<'EOF'
Usage: bench/run.sh [options]

Runs wrk against the gateway and against plain nginx (reverse proxy to the
same upstream), alternating which goes first each round, and prints
per-round numbers, medians and gateway/nginx ratios.

Options (each also settable through the environment variable in brackets):
  -r, --rounds N          rounds per connection count            [ROUNDS=5]
  -d, --duration S        seconds per wrk run                    [DURATION=5]
  -c, --connections LIST  connection counts, e.g. "16 256"       [CONNECTIONS="16 256"]
  -t, --threads N         wrk threads                            [THREADS=1]
  -g, --gateway PATH      gateway binary                         [GATEWAY=bin/apisix-cpp,
                                                                  then build/release/bin/apisix-cpp]
  -w, --warmup S          unrecorded warm-up run per proxy, 0=off [WARMUP=1]
      --no-plugins        skip APISIX's second scenario (limit-count +
                          prometheus on the route)               [PLUGINS=0]
      --nginx-only        dry run: a second, identical nginx proxy takes the
                          gateway's place (ratios should be ~1.0) [NGINX_ONLY=1]
      --no-pin            do not pin processes to CPUs           [PIN=0]
      --nice N            run wrk, upstream and both proxies at nice
                          level N (negative needs root); off by default [NICE]
      --results-dir DIR   where the markdown report goes         [RESULTS_DIR=bench/results]
      --keep-tmp          keep the temporary directory           [KEEP_TMP=1]
  -h, --help              this text

CPU placement (defaults shown for a 2-CPU machine), overridable:
  PROXY_CPU=1  the proxy under test (gateway, or nginx master+worker)
  WRK_CPU=0    wrk
  UPSTREAM_CPU=0 the upstream nginx (its own CPU when 3+ CPUs are available)

Exit status: 0 ok; 1 a server failed to start or died, or a tool failed;
2 bad usage; 3 finished, but some wrk run saw socket errors or non-2xx.
EOF
}

# ------------------------------------------------------------- options -----

ORIG_ARGS=("$@")

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-"16 256"}
THREADS=${THREADS:-1}
GATEWAY=${GATEWAY:-}
WARMUP=${WARMUP:-1}
NGINX_ONLY=${NGINX_ONLY:-0}
PLUGINS=${PLUGINS:-1}
PIN=${PIN:-1}
NICE=${NICE:-}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
KEEP_TMP=${KEEP_TMP:-0}
START_TIMEOUT=${START_TIMEOUT:-15}

need_arg() { [[ $# -ge 2 && -n "$2" ]] || { echo "error: $1 needs a value (see --help)" >&2; exit 2; }; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
        -r|--rounds)      need_arg "$@"; ROUNDS=$2; shift 2 ;;
        -d|--duration)    need_arg "$@"; DURATION=$2; shift 2 ;;
        -c|--connections) need_arg "$@"; CONNECTIONS=$2; shift 2 ;;
        -t|--threads)     need_arg "$@"; THREADS=$2; shift 2 ;;
        -g|--gateway)     need_arg "$@"; GATEWAY=$2; shift 2 ;;
        -w|--warmup)      need_arg "$@"; WARMUP=$2; shift 2 ;;
        --results-dir)    need_arg "$@"; RESULTS_DIR=$2; shift 2 ;;
        --nginx-only)     NGINX_ONLY=1; shift ;;
        --no-plugins)     PLUGINS=0; shift ;;
        --no-pin)         PIN=0; shift ;;
        --nice)           need_arg "$@"; NICE=$2; shift 2 ;;
        --keep-tmp)       KEEP_TMP=1; shift ;;
        -h|--help)        usage; exit 0 ;;
        -[rdctgw]?*) set -- "${1:0:2}" "${1:2}" "${@:2}"; continue ;;
        *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

DURATION=${DURATION%s}
WARMUP=${WARMUP%s}
CONNECTIONS=${CONNECTIONS//,/ }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_pos()  { [[ "$1" =~ ^[0-9]+$ ]] && (( 10#$1 > 0 )); }
bad_usage() { echo "error: $*" >&2; exit 2; }
is_pos "$ROUNDS"   || bad_usage "ROUNDS must be a positive integer"
is_pos "$DURATION" || bad_usage "DURATION must be a positive integer (seconds)"
is_pos "$THREADS"  || bad_usage "THREADS must be a positive integer"
is_uint "$WARMUP"  || bad_usage "WARMUP must be a non-negative integer (seconds)"
[[ -z "$NICE" || "$NICE" =~ ^-?[0-9]+$ ]] || bad_usage "NICE must be an integer"
read -r -a CONN_LIST <<<"$CONNECTIONS"
(( ${#CONN_LIST[@]} > 0 )) || bad_usage "CONNECTIONS is empty"
for c in "${CONN_LIST[@]}"; do
    if ! is_pos "$c" || (( c < THREADS )); then
        bad_usage "bad connection count '$c' (must be an integer >= THREADS)"
    fi
done

# With scheduler autogroups (kernel.sched_autogroup_enabled=1) CPU time is
# shared fairly between sessions first, so a per-process nice level means
# nothing against other sessions' work. For --nice, re-run this script in a
# session of its own and give that session's autogroup the nice level; only
# processes started by this script live in it.
if [[ -n "$NICE" && -z "${BENCH_OWN_SESSION:-}" && -w /proc/self/autogroup \
      && "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" == 1 ]] \
      && command -v setsid >/dev/null 2>&1; then
    BENCH_OWN_SESSION=1 setsid "$SCRIPT_DIR/run.sh" "${ORIG_ARGS[@]}" &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM
    rc=0
    while true; do
        wait "$child" && rc=0 || rc=$?
        alive "$child" || break
    done
    exit "$rc"
fi
if [[ -n "$NICE" && -n "${BENCH_OWN_SESSION:-}" ]]; then
    echo "$NICE" 2>/dev/null >/proc/self/autogroup || warn "could not set the autogroup nice level"
fi

for tool in nginx wrk curl awk sed ps; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found in PATH"
done

if [[ "$NGINX_ONLY" == 1 ]]; then
    A_LABEL="nginx-b"
else
    A_LABEL="gateway"
    if [[ -z "$GATEWAY" ]]; then
        for cand in "$ROOT/bin/apisix-cpp" "$ROOT/build/release/bin/apisix-cpp"; do
            [[ -x "$cand" ]] && { GATEWAY=$cand; break; }
        done
        [[ -n "$GATEWAY" ]] || die "gateway binary not found (looked for bin/apisix-cpp and build/release/bin/apisix-cpp); build it, pass --gateway PATH, or use --nginx-only for a dry run"
    fi
    [[ "$GATEWAY" == */* ]] || GATEWAY=$(command -v "$GATEWAY" || echo "$GATEWAY")
    [[ -x "$GATEWAY" ]] || die "gateway binary '$GATEWAY' is not executable"
    GATEWAY=$(cd "$(dirname "$GATEWAY")" && pwd)/$(basename "$GATEWAY")
fi
B_LABEL="nginx"

CLK_TCK=$(getconf CLK_TCK)
is_pos "$CLK_TCK" || die "getconf CLK_TCK failed"

# ----------------------------------------------------------- placement -----

mapfile -t CPUS < <(allowed_cpus)
NCPU=${#CPUS[@]}
if [[ "$PIN" == 1 ]]; then
    if (( NCPU < 2 )); then
        warn "only $NCPU CPU available; running without pinning"
        PIN=0
    else
        command -v taskset >/dev/null 2>&1 || die "'taskset' not found (use --no-pin)"
        PROXY_CPU=${PROXY_CPU:-${CPUS[1]}}
        WRK_CPU=${WRK_CPU:-${CPUS[0]}}
        if (( NCPU >= 3 )); then
            UPSTREAM_CPU=${UPSTREAM_CPU:-${CPUS[2]}}
        else
            UPSTREAM_CPU=${UPSTREAM_CPU:-${CPUS[0]}}
        fi
    fi
fi
if [[ "$PIN" != 1 ]]; then
    PROXY_CPU="" WRK_CPU="" UPSTREAM_CPU=""
fi
if [[ "$PIN" == 1 ]]; then
    PLACEMENT="proxy under test on CPU $PROXY_CPU; wrk on CPU $WRK_CPU; upstream nginx on CPU $UPSTREAM_CPU"
else
    PLACEMENT="no pinning"
fi
if [[ -n "$NICE" ]]; then
    nice -n "$NICE" true 2>/dev/null || die "cannot run at nice level $NICE (negative levels need root)"
    PLACEMENT+="; all at nice $NICE"
fi

# ------------------------------------------------------------ temp dir -----

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/apisix-bench.XXXXXX")
# nginx workers may run as an unprivileged user when started as root.
chmod 755 "$BENCH_TMP"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n "${WRK_PID:-}" ]] && stop_pid "$WRK_PID" 2
    stop_all
    if [[ "$KEEP_TMP" == 1 ]]; then
        log "temporary files kept in $BENCH_TMP"
    else
        rm -rf "$BENCH_TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- servers -----

log "== starting servers ($PLACEMENT)"
UPSTREAM_PORT="" NGINX_PID="" NGINX_PORT="" NGINX_B_PID="" NGINX_B_PORT="" port=""
pick_port UPSTREAM_PORT || die "no free port for the upstream"
start_nginx upstream "$SCRIPT_DIR/nginx/upstream.conf.in" "$UPSTREAM_CPU" "$UPSTREAM_PORT"

pick_port NGINX_PORT || die "no free port for the nginx proxy"
start_nginx nginx "$SCRIPT_DIR/nginx/proxy.conf.in" "$PROXY_CPU" "$NGINX_PORT" "$UPSTREAM_PORT"

if [[ "$NGINX_ONLY" == 1 ]]; then
    pick_port port || die "no free port for the second nginx proxy"
    start_nginx nginx-b "$SCRIPT_DIR/nginx/proxy.conf.in" "$PROXY_CPU" "$port" "$UPSTREAM_PORT"
    A_PID=$NGINX_B_PID A_PORT=$NGINX_B_PORT
else
    start_gateway "$PROXY_CPU" "$UPSTREAM_PORT"
    A_PID=$GATEWAY_PID A_PORT=$GATEWAY_PORT
fi
B_PID=$NGINX_PID B_PORT=$NGINX_PORT

declare -A T_LABEL=([A]=$A_LABEL [B]=$B_LABEL)
declare -A T_PID=([A]=$A_PID [B]=$B_PID)
declare -A T_PORT=([A]=$A_PORT [B]=$B_PORT)
declare -A T_HOST=([A]="" [B]="")
# P: the gateway's plugin route (APISIX's second scenario), measured in the same
# rounds as the plugin-free gateway (A) and nginx (B).
TARGETS=(A B)
if [[ "$PLUGINS" == 1 && "$NGINX_ONLY" != 1 ]]; then
    T_LABEL[P]="plugins" T_PID[P]=$A_PID T_PORT[P]=$A_PORT T_HOST[P]="limited.bench"
    TARGETS=(A P B)
else
    PLUGINS=0
fi

mapfile -t WRK_PIN < <(pin_prefix "$WRK_CPU")

check_alive() {
    local t=$1
    alive "${T_PID[$t]}" || server_failed "${T_LABEL[$t]}" "${SERVER_LOG[${T_LABEL[$t]}]:-/dev/null}" "died during the benchmark"
    alive "$UPSTREAM_PID" || server_failed upstream "${SERVER_LOG[upstream]}" "died during the benchmark"
}

# ----------------------------------------------------------- measuring -----

RESULTS_TSV="$BENCH_TMP/results.tsv"
: >"$RESULTS_TSV"
ANY_ERRORS=0

# run_wrk TARGET CONNS SECONDS OUTFILE
# wrk runs in the background and is waited for, so that INT/TERM traps fire
# immediately instead of after the run; the EXIT trap stops it.
WRK_PID=""
run_wrk() {
    local t=$1 c=$2 secs=$3 out=$4 rc=0
    local -a host=()
    [[ -n "${T_HOST[$t]}" ]] && host=(-H "Host: ${T_HOST[$t]}")
    "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$c" -d"${secs}s" --latency "${host[@]}" \
        "http://127.0.0.1:${T_PORT[$t]}/hello" >"$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    if (( rc != 0 )); then
        cat "$out" >&2
        die "wrk failed against ${T_LABEL[$t]} (exit $rc)"
    fi
}

# measure TARGET CONNS ROUND POSITION: one recorded wrk run; appends a row to
# RESULTS_TSV and prints a one-line summary.
measure() {
    local t=$1 c=$2 r=$3 pos=$4 out t0 t1 w0 w1 rps p99 reqs errs non2xx cpu_s wall_s cpu_pct rpc flag=""
    out="$BENCH_TMP/wrk-c$c-r$r-$t.txt"
    check_alive "$t"
    t0=$(tree_cpu_ticks "${T_PID[$t]}"); w0=$(now_ms)
    run_wrk "$t" "$c" "$DURATION" "$out"
    t1=$(tree_cpu_ticks "${T_PID[$t]}"); w1=$(now_ms)
    check_alive "$t"
    read -r rps p99 reqs errs non2xx < <(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk output"; }
    cpu_s=$(div "$((t1 - t0))" "$CLK_TCK")
    wall_s=$(div "$((w1 - w0))" 1000)
    cpu_pct=$(calc "$cpu_s / $wall_s * 100")
    rpc=$(div "$reqs" "$cpu_s")
    if (( errs > 0 || non2xx > 0 )); then
        ANY_ERRORS=1
        flag="  !! socket errors=$errs non-2xx=$non2xx"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$c" "$r" "$t" "$pos" "$rps" "$p99" "$reqs" "$cpu_s" "$cpu_pct" "$rpc" "$errs" "$non2xx" >>"$RESULTS_TSV"
    printf '  c=%-4s round %d/%d  %-8s req/s %10s  p99 %8s ms  cpu %6s s (%5s%%)  req/CPU-s %10s%s\n' \
        "$c" "$r" "$ROUNDS" "${T_LABEL[$t]}" "$(fmt %.1f "$rps")" "$(fmt %.3f "$p99")" \
        "$(fmt %.2f "$cpu_s")" "$(fmt %.1f "$cpu_pct")" "$(fmt %.0f "$rpc")" "$flag"
}

# field CONNS ROUND TARGET COLUMN: one value from RESULTS_TSV.
# Columns: 1 conns 2 round 3 target 4 pos 5 rps 6 p99 7 reqs 8 cpu_s
#          9 cpu_pct 10 req/CPU-s 11 socket errors 12 non-2xx
field() {
    awk -F'\t' -v c="$1" -v r="$2" -v t="$3" -v k="$4" \
        '$1 == c && $2 == r && $3 == t { print $k; exit }' "$RESULTS_TSV"
}

START_TS=$(date -u +%Y%m%dT%H%M%SZ)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
for c in "${CONN_LIST[@]}"; do
    if (( WARMUP > 0 )); then
        log "== warm-up at -c$c (${WARMUP}s per proxy, not recorded)"
        for t in "${TARGETS[@]}"; do
            run_wrk "$t" "$c" "$WARMUP" "$BENCH_TMP/warmup-c$c-$t.txt"
        done
    fi
    log "== wrk -t$THREADS -c$c -d${DURATION}s --latency, $ROUNDS rounds"
    for ((r = 1; r <= ROUNDS; r++)); do
        # Rotate who goes first each round.
        order=()
        for ((i = 0; i < ${#TARGETS[@]}; i++)); do
            order+=("${TARGETS[$(( (i + r - 1) % ${#TARGETS[@]} ))]}")
        done
        for ((i = 0; i < ${#order[@]}; i++)); do
            measure "${order[$i]}" "$c" "$r" "$((i + 1))"
        done
        printf '  c=%-4s round %d/%d  %s/%s ratios: req/s %s  req/CPU-s %s  p99 %s\n' \
            "$c" "$r" "$ROUNDS" "$A_LABEL" "$B_LABEL" \
            "$(fmt %.3f "$(div "$(field "$c" "$r" A 5)" "$(field "$c" "$r" B 5)")")" \
            "$(fmt %.3f "$(div "$(field "$c" "$r" A 10)" "$(field "$c" "$r" B 10)")")" \
            "$(fmt %.3f "$(div "$(field "$c" "$r" A 6)" "$(field "$c" "$r" B 6)")")"
    done
done

# ------------------------------------------------------------- summary -----

# med CONNS TARGET COLUMN: median of a column over all rounds.
med() {
    awk -F'\t' -v c="$1" -v t="$2" -v k="$3" '$1 == c && $3 == t { print $k }' "$RESULTS_TSV" | median
}
# med_ratio CONNS COLUMN: median over rounds of the per-round A/B ratio.
med_ratio() {
    local c=$1 k=$2 r
    for ((r = 1; r <= ROUNDS; r++)); do
        div "$(field "$c" "$r" A "$k")" "$(field "$c" "$r" B "$k")"
    done | grep -v nan | median
}
# med_ratio_of CONNS COLUMN X Y: median over rounds of the per-round X/Y ratio.
med_ratio_of() {
    local c=$1 k=$2 x=$3 y=$4 r
    for ((r = 1; r <= ROUNDS; r++)); do
        div "$(field "$c" "$r" "$x" "$k")" "$(field "$c" "$r" "$y" "$k")"
    done | grep -v nan | median
}
PLUGIN_HEADER="| conns | plugins req/s | gateway req/s | nginx req/s | plugins/gateway req/s | plugins/nginx req/s | plugins req/CPU-s | plugins/gateway req/CPU-s | plugins/nginx req/CPU-s | plugins p99 ms | errors plugins |"
PLUGIN_RULE="|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
plugin_rows() {
    local c
    for c in "${CONN_LIST[@]}"; do
        printf '| %s | %s | %s | %s | **%s** | **%s** | %s | %s | %s | %s | %s |\n' "$c" \
            "$(fmt %.0f "$(med "$c" P 5)")" "$(fmt %.0f "$(med "$c" A 5)")" "$(fmt %.0f "$(med "$c" B 5)")" \
            "$(fmt %.3f "$(med_ratio_of "$c" 5 P A)")" "$(fmt %.3f "$(med_ratio_of "$c" 5 P B)")" \
            "$(fmt %.0f "$(med "$c" P 10)")" \
            "$(fmt %.3f "$(med_ratio_of "$c" 10 P A)")" "$(fmt %.3f "$(med_ratio_of "$c" 10 P B)")" \
            "$(fmt %.3f "$(med "$c" P 6)")" "$(( $(total "$c" P 11) + $(total "$c" P 12) ))"
    done
}
# ratio_range CONNS COLUMN: "min–max" of the per-round A/B ratio.
ratio_range() {
    local c=$1 k=$2 r
    for ((r = 1; r <= ROUNDS; r++)); do
        div "$(field "$c" "$r" A "$k")" "$(field "$c" "$r" B "$k")"
    done | grep -v nan | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.3f–%.3f\n", lo, hi; else print "n/a" }'
}
# total CONNS TARGET COLUMN
total() {
    awk -F'\t' -v c="$1" -v t="$2" -v k="$3" '$1 == c && $3 == t { s += $k } END { print s + 0 }' "$RESULTS_TSV"
}

A=$A_LABEL B=$B_LABEL
SUMMARY_HEADER="| conns | $A req/s | $B req/s | req/s ratio | $A p99 ms | $B p99 ms | p99 ratio | $A req/CPU-s | $B req/CPU-s | req/CPU-s ratio | $A CPU % | $B CPU % | errors $A/$B |"
SUMMARY_RULE="|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
summary_rows() {
    local c ea eb
    for c in "${CONN_LIST[@]}"; do
        ea=$(( $(total "$c" A 11) + $(total "$c" A 12) ))
        eb=$(( $(total "$c" B 11) + $(total "$c" B 12) ))
        printf '| %s | %s | %s | **%s** | %s | %s | **%s** | %s | %s | **%s** | %s | %s | %s/%s |\n' "$c" \
            "$(fmt %.0f "$(med "$c" A 5)")" "$(fmt %.0f "$(med "$c" B 5)")" "$(fmt %.3f "$(med_ratio "$c" 5)")" \
            "$(fmt %.3f "$(med "$c" A 6)")" "$(fmt %.3f "$(med "$c" B 6)")" "$(fmt %.3f "$(med_ratio "$c" 6)")" \
            "$(fmt %.0f "$(med "$c" A 10)")" "$(fmt %.0f "$(med "$c" B 10)")" "$(fmt %.3f "$(med_ratio "$c" 10)")" \
            "$(fmt %.1f "$(med "$c" A 9)")" "$(fmt %.1f "$(med "$c" B 9)")" "$ea" "$eb"
    done
}

spread_rows() {
    local c
    for c in "${CONN_LIST[@]}"; do
        printf '| %s | %s | %s | %s |\n' "$c" "$(ratio_range "$c" 5)" "$(ratio_range "$c" 6)" "$(ratio_range "$c" 10)"
    done
}

round_rows() {
    local c=$1 r first
    for ((r = 1; r <= ROUNDS; r++)); do
        if (( r % 2 )); then first=$A; else first=$B; fi
        printf '| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$first" \
            "$(fmt %.0f "$(field "$c" "$r" A 5)")" "$(fmt %.3f "$(field "$c" "$r" A 6)")" \
            "$(fmt %.0f "$(field "$c" "$r" A 10)")" "$(fmt %.1f "$(field "$c" "$r" A 9)")" \
            "$(fmt %.0f "$(field "$c" "$r" B 5)")" "$(fmt %.3f "$(field "$c" "$r" B 6)")" \
            "$(fmt %.0f "$(field "$c" "$r" B 10)")" "$(fmt %.1f "$(field "$c" "$r" B 9)")" \
            "$(fmt %.3f "$(div "$(field "$c" "$r" A 5)" "$(field "$c" "$r" B 5)")")" \
            "$(fmt %.3f "$(div "$(field "$c" "$r" A 6)" "$(field "$c" "$r" B 6)")")" \
            "$(fmt %.3f "$(div "$(field "$c" "$r" A 10)" "$(field "$c" "$r" B 10)")")"
    done
}

if (( WARMUP > 0 )); then
    WARMUP_DESC="${WARMUP}s unrecorded warm-up per proxy before each connection count"
else
    WARMUP_DESC="no warm-up"
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
first_line() { "$@" 2>&1 | head -n 1 || true; }
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
NGINX_VERSION=$(first_line nginx -v | sed 's/^nginx version: //')
WRK_VERSION=$(first_line wrk -v | awk '{ print $2 }')
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1)" ]]; then GIT_REV+=" (dirty tree)"; fi
if [[ "$NGINX_ONLY" == 1 ]]; then
    SUBJECT="DRY RUN — nginx proxy vs an identical second nginx proxy (sanity check; ratios should be ~1.0)"
    GW_DESC="none (--nginx-only)"
else
    SUBJECT="gateway vs nginx reverse proxy"
    GW_VERSION=$(timeout 3 "$GATEWAY" version 2>/dev/null | head -n 1 || true)
    GW_DESC="$(basename "$GATEWAY")${GW_VERSION:+ ($GW_VERSION)}"
fi

report() {
    cat <<EOF
# Proxy benchmark: $SUBJECT

- started: $START_TS (UTC)
- machine: ${CPU_MODEL:-unknown CPU}, $NCPU usable CPU(s), kernel $(uname -r); load average $LOAD_START at start, $LOAD_END at end
- tools: $NGINX_VERSION, wrk $WRK_VERSION; gateway: $GW_DESC; source rev $GIT_REV
- load: \`wrk -t$THREADS -c<conns> -d${DURATION}s --latency http://127.0.0.1:<port>/hello\`, $ROUNDS rounds per connection count, order alternated each round, $WARMUP_DESC
- proxies: 1 worker each; placement: $PLACEMENT
- CPU: utime+stime of the proxy's whole process tree from /proc/<pid>/stat, delta over each wrk run, CLK_TCK=$CLK_TCK

## Summary

Medians over $ROUNDS rounds. Ratios are $A/$B, the median of the per-round
(paired) ratios. req/s and req/CPU-s: higher is better; p99: lower is better.

$SUMMARY_HEADER
$SUMMARY_RULE
$(summary_rows)

Spread of the per-round ratios (min–max); a wide range means the machine
was noisy during the run:

| conns | req/s ratio | p99 ratio | req/CPU-s ratio |
|---:|---:|---:|---:|
$(spread_rows)
EOF
    if [[ "$PLUGINS" == 1 ]]; then
        cat <<EOF

## Plugin scenario: limit-count + prometheus on the route

APISIX's second benchmark: the same upstream through a route (Host:
limited.bench) with \`limit-count\` (a limit never reached, key remote_addr)
and \`prometheus\`, measured in the same rounds as the plugin-free route
("gateway") and nginx. Ratios are medians of the per-round ratios.

$PLUGIN_HEADER
$PLUGIN_RULE
$(plugin_rows)
EOF
    fi
    local c
    for c in "${CONN_LIST[@]}"; do
        cat <<EOF

## Rounds at $c connections

| round | first | $A req/s | $A p99 ms | $A req/CPU-s | $A CPU % | $B req/s | $B p99 ms | $B req/CPU-s | $B CPU % | req/s ratio | p99 ratio | req/CPU-s ratio |
|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(round_rows "$c")
EOF
    done
}

REPORT=$(report)
mkdir -p "$RESULTS_DIR"
REPORT_FILE="$RESULTS_DIR/$START_TS.md"
[[ "$NGINX_ONLY" == 1 ]] && REPORT_FILE="$RESULTS_DIR/$START_TS-nginx-only.md"
printf '%s\n' "$REPORT" >"$REPORT_FILE"

echo
echo "== summary: $SUBJECT"
echo "   (medians of $ROUNDS rounds; ratios = median of per-round $A/$B ratios)"
echo
{ echo "$SUMMARY_HEADER"; echo "$SUMMARY_RULE"; summary_rows; } | column -t -s '|' -o '|' 2>/dev/null \
    || { echo "$SUMMARY_HEADER"; echo "$SUMMARY_RULE"; summary_rows; }
if [[ "$PLUGINS" == 1 ]]; then
    echo
    echo "   plugin scenario (limit-count + prometheus on the route):"
    { echo "$PLUGIN_HEADER"; echo "$PLUGIN_RULE"; plugin_rows; } | column -t -s '|' -o '|' 2>/dev/null \
        || plugin_rows
fi
echo
echo "   per-round ratio spread (min–max):"
{ echo "| conns | req/s ratio | p99 ratio | req/CPU-s ratio |"; echo "|---:|---:|---:|---:|"; spread_rows; } \
    | column -t -s '|' -o '|' 2>/dev/null || spread_rows
echo
echo "report written to ${REPORT_FILE#"$ROOT"/}"

if (( ANY_ERRORS )); then
    warn "some wrk runs reported socket errors or non-2xx responses (see the errors column)"
    exit 3
fi
