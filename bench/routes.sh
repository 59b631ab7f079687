#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# bench/routes.sh - the router through the real binary (issue "Router", macro-benchmark):
#
#   1. req/s and p99 of GET /hello on a gateway holding 1 route vs one holding ROUTES routes
#      (exact, prefix, host-bound, vars and wildcard fillers), interleaved round by round;
#   2. p99 on the big gateway while UPDATE_RATE route updates per second arrive through the
#      Admin API, interleaved with quiet rounds and with "elsewhere" rounds, where the same
#      update stream goes to the origin nginx instead: the client CPU is equally busy, but the
#      measured gateway does no update work. Comparing "updates" with "elsewhere" isolates
#      the gateway's own cost from the load the update client puts on wrk's CPU.
#
# Both gateways run the embedded provider with one worker, pinned to the same CPU (only one
# is under load at a time); wrk, the origin nginx and the Admin API client share the other.

set -Eeuo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=lib/servers.sh
source "$SCRIPT_DIR/lib/servers.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CONNS=${CONNS:-16}
ROUTES=${ROUTES:-50000}
UPDATE_RATE=${UPDATE_RATE:-100}
GATEWAY=${GATEWAY:-$ROOT/build/release/bin/apisix-cpp}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
PIN=${PIN:-1}
KEY=bench-admin-key-0123456789
[[ -x "$GATEWAY" ]] || die "gateway binary '$GATEWAY' not found; build the release preset or set GATEWAY"
# The update stream's client (bench/routes/admin_updater.cc), built with the benchmarks.
UPDATER=${UPDATER:-$(dirname "$(dirname "$GATEWAY")")/bench/admin_updater}
[[ -x "$UPDATER" ]] || die "'$UPDATER' not found; build the admin_updater target or set UPDATER"
for tool in nginx wrk curl python3 taskset; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done

mapfile -t CPUS < <(allowed_cpus)
(( ${#CPUS[@]} >= 2 )) || PIN=0
PROXY_CPU=${PROXY_CPU:-${CPUS[1]:-}}
CLIENT_CPU=${CLIENT_CPU:-${CPUS[0]}}
[[ "$PIN" == 1 ]] || { PROXY_CPU=""; CLIENT_CPU=""; }

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/apisix-routes.XXXXXX")
chmod 755 "$BENCH_TMP"
cleanup() {
    trap - EXIT INT TERM
    [[ -n "${UPDATER_PID:-}" ]] && stop_pid "$UPDATER_PID" 2
    stop_all
    rm -rf "$BENCH_TMP"
}
trap cleanup EXIT INT TERM

# start_embedded NAME CPU: a gateway with the embedded provider; sets <NAME>_PORT/_ADMIN.
start_embedded() {
    local name=$1 cpu=$2 prefix="$BENCH_TMP/$1" pid deadline http admin
    local -a pin
    mkdir -p "$prefix/conf" "$prefix/logs"
    cat >"$prefix/conf/config.yaml" <<YAML
apisix:
  node_listen:
    - ip: 127.0.0.1
      port: 0
  enable_ipv6: false
  enable_control: false
deployment:
  role: traditional
  role_traditional:
    config_provider: embedded
  admin:
    admin_listen:
      ip: 127.0.0.1
      port: 0
    admin_key:
      - name: admin
        key: $KEY
        role: admin
nginx_config:
  worker_processes: 1
  http:
    enable_access_log: false
YAML
    mapfile -t pin < <(pin_prefix "$cpu")
    "${pin[@]}" "$GATEWAY" start -p "$prefix" --foreground >"$prefix/gateway.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    deadline=$(( $(now_ms) + 15000 ))
    http="" admin=""
    while (( $(now_ms) < deadline )); do
        alive "$pid" || server_failed "$name" "$prefix/gateway.log" "exited during startup"
        if [[ -f "$prefix/logs/listen" ]]; then
            http=$(awk '$1 == "http" { print $2; exit }' "$prefix/logs/listen")
            admin=$(awk '$1 == "admin" { print $2; exit }' "$prefix/logs/listen")
            [[ -n "$http" && -n "$admin" ]] && break
        fi
        sleep 0.05
    done
    [[ -n "$admin" ]] || server_failed "$name" "$prefix/gateway.log" "no listen file"
    printf -v "${name^^}_PORT" '%s' "${http##*:}"
    printf -v "${name^^}_ADMIN" '%s' "${admin##*:}"
    printf -v "${name^^}_PID" '%s' "$pid"
    log "started $name (pid $pid) http ${http} admin ${admin}"
}

mapfile -t client_pin < <(pin_prefix "$CLIENT_CPU")
pick_port ORIGIN_PORT || die "no free port for the origin"
start_nginx upstream "$SCRIPT_DIR/nginx/upstream.conf.in" "$CLIENT_CPU" "$ORIGIN_PORT"
start_embedded small "$PROXY_CPU"
start_embedded big "$PROXY_CPU"
"${client_pin[@]}" python3 "$SCRIPT_DIR/routes/admin_load.py" load "$SMALL_ADMIN" "$KEY" "$UPSTREAM_PORT" 0 >&2
"${client_pin[@]}" python3 "$SCRIPT_DIR/routes/admin_load.py" load "$BIG_ADMIN" "$KEY" "$UPSTREAM_PORT" "$ROUTES" >&2
wait_hello "http://127.0.0.1:$SMALL_PORT/hello" "$SMALL_PID" 10 || die "small gateway does not serve /hello"
wait_hello "http://127.0.0.1:$BIG_PORT/hello" "$BIG_PID" 10 || die "big gateway does not serve /hello"
log "big gateway RSS: $(ps -o rss= -p "$BIG_PID") KiB; small: $(ps -o rss= -p "$SMALL_PID") KiB"

# run_wrk PORT OUT: one wrk run against /hello; prints "rps p99_ms requests errors non2xx".
run_wrk() {
    "${client_pin[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/hello" >"$2" 2>&1
    parse_wrk "$2"
}

declare -a S_RPS S_P99 B_RPS B_P99 Q_P99 U_P99 E_P99
for ((r = 1; r <= ROUNDS; r++)); do
    order=(small big); (( r % 2 == 0 )) && order=(big small)
    for which in "${order[@]}"; do
        port_var="${which^^}_PORT"
        read -r rps p99 _ errs non2xx < <(run_wrk "${!port_var}" "$BENCH_TMP/wrk.$which.$r")
        (( errs == 0 && non2xx == 0 )) || warn "round $r $which: $errs socket errors, $non2xx non-2xx"
        if [[ $which == small ]]; then S_RPS+=("$rps"); S_P99+=("$p99"); else B_RPS+=("$rps"); B_P99+=("$p99"); fi
        log "round $r $which: $rps req/s, p99 $p99 ms"
    done
done
for ((r = 1; r <= ROUNDS; r++)); do
    for mode in quiet elsewhere updates; do
        if [[ $mode != quiet ]]; then
            target=$BIG_ADMIN sink=""
            # "elsewhere": the origin nginx (on the client CPU) answers the PUTs instead.
            [[ $mode == elsewhere ]] && { target=$ORIGIN_PORT; sink=sink; }
            "${client_pin[@]}" "$UPDATER" "$target" "$KEY" "$ROUTES" "$UPDATE_RATE" \
                "$((DURATION + 1))" $sink >"$BENCH_TMP/updater.$r" 2>&1 &
            UPDATER_PID=$!
        fi
        read -r rps p99 _ errs non2xx < <(run_wrk "$BIG_PORT" "$BENCH_TMP/wrk.$mode.$r")
        (( errs == 0 && non2xx == 0 )) || warn "round $r $mode: $errs socket errors, $non2xx non-2xx"
        if [[ $mode != quiet ]]; then
            wait "$UPDATER_PID" || die "updater failed: $(cat "$BENCH_TMP/updater.$r")"
            UPDATER_PID=""
            if [[ $mode == updates ]]; then U_P99+=("$p99"); else E_P99+=("$p99"); fi
            log "round $r $mode: $rps req/s, p99 $p99 ms; $(cat "$BENCH_TMP/updater.$r")"
        else
            Q_P99+=("$p99")
            log "round $r quiet: $rps req/s, p99 $p99 ms"
        fi
    done
done

med() { printf '%s\n' "$@" | median; }
s_rps=$(med "${S_RPS[@]}"); b_rps=$(med "${B_RPS[@]}")
s_p99=$(med "${S_P99[@]}"); b_p99=$(med "${B_P99[@]}")
q_p99=$(med "${Q_P99[@]}"); u_p99=$(med "${U_P99[@]}"); e_p99=$(med "${E_P99[@]}")
mkdir -p "$RESULTS_DIR"
report="$RESULTS_DIR/routes-$(date -u +%Y%m%dT%H%M%SZ).md"
{
    echo "# Router macro-benchmark ($ROUTES routes, $(date -u +%F))"
    echo
    echo "bench/routes.sh: ROUNDS=$ROUNDS DURATION=${DURATION}s wrk -t1 -c$CONNS GET /hello; one worker each;"
    echo "gateways on CPU ${PROXY_CPU:-any}, wrk + origin + admin client on CPU ${CLIENT_CPU:-any}."
    echo
    echo "| measure | 1 route | $ROUTES routes | ratio |"
    echo "|---|---|---|---|"
    echo "| req/s (median) | $(fmt %.0f "$s_rps") | $(fmt %.0f "$b_rps") | $(fmt %.3f "$(div "$b_rps" "$s_rps")") |"
    echo "| p99 ms (median) | $(fmt %.3f "$s_p99") | $(fmt %.3f "$b_p99") | $(fmt %.3f "$(div "$b_p99" "$s_p99")") |"
    echo
    echo "| $ROUTES routes, p99 ms (median) | quiet | updates elsewhere | $UPDATE_RATE updates/s | updates / quiet | updates / elsewhere |"
    echo "|---|---|---|---|---|---|"
    echo "| GET /hello | $(fmt %.3f "$q_p99") | $(fmt %.3f "$e_p99") | $(fmt %.3f "$u_p99") | $(fmt %.3f "$(div "$u_p99" "$q_p99")") | $(fmt %.3f "$(div "$u_p99" "$e_p99")") |"
    echo
    echo "Per round: 1 route req/s ${S_RPS[*]}; $ROUTES routes req/s ${B_RPS[*]};"
    echo "quiet p99 ${Q_P99[*]}; elsewhere p99 ${E_P99[*]}; updating p99 ${U_P99[*]}."
} | tee "$report"
log "report: $report"
