#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# bench/admin_latency.sh - Admin API write acknowledged → new behaviour visible at the proxy
# (issue "Control plane"), for the embedded provider and for etcd:
#
#   embedded: one gateway (traditional, embedded store); the probe watches its own proxy.
#   etcd:     a real etcd, a traditional gateway taking the writes and a data_plane gateway
#             following the same etcd; the probe watches both proxies.
#
# COUNT updates at RATE per second replace route "probe" (bench/admin/latency_probe.cc); each
# is timed from the Admin API's answer to the first 200 of the request only the new version
# matches. Meanwhile wrk loads another route on every gateway (keep-alive, one thread), and
# must see no error and no non-2xx answer.
set -Eeuo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=lib/servers.sh
source "$SCRIPT_DIR/lib/servers.sh"

COUNT=${COUNT:-1000}
RATE=${RATE:-20}
CONNS=${CONNS:-8}
MODES=${MODES:-"embedded etcd"}
GATEWAY=${GATEWAY:-$ROOT/build/release/bin/apisix-cpp}
PROBE=${PROBE:-$(dirname "$(dirname "$GATEWAY")")/bench/latency_probe}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
KEY=bench-admin-key-0123456789
[[ -x "$GATEWAY" ]] || die "gateway binary '$GATEWAY' not found; build the release preset or set GATEWAY"
[[ -x "$PROBE" ]] || die "'$PROBE' not found; build the latency_probe target or set PROBE"
for tool in nginx wrk curl etcd; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/apisix-admin-latency.XXXXXX")
chmod 755 "$BENCH_TMP"
declare -a WRK_PIDS=()
cleanup() {
    trap - EXIT INT TERM
    local p
    for p in "${WRK_PIDS[@]}"; do stop_pid "$p" 2; done
    stop_all
    rm -rf "$BENCH_TMP"
}
trap cleanup EXIT INT TERM

# start_etcd: a real etcd on free loopback ports with its own data dir; sets ETCD_URL.
start_etcd() {
    local client peer pid deadline
    pick_port client || die "no free port for etcd"
    pick_port peer || die "no free port for etcd"
    ETCD_URL="http://127.0.0.1:$client"
    etcd --name=bench --data-dir="$BENCH_TMP/etcd" --listen-client-urls="$ETCD_URL" \
        --advertise-client-urls="$ETCD_URL" --listen-peer-urls="http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
        --initial-cluster="bench=http://127.0.0.1:$peer" --log-level=error \
        >"$BENCH_TMP/etcd.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    deadline=$(( $(now_ms) + 20000 ))
    until curl -fsS --max-time 1 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; do
        alive "$pid" || server_failed etcd "$BENCH_TMP/etcd.log" "exited during startup"
        (( $(now_ms) < deadline )) || server_failed etcd "$BENCH_TMP/etcd.log" "not healthy"
        sleep 0.05
    done
    log "started etcd (pid $pid) at $ETCD_URL"
}

# start_node NAME PROVIDER ROLE: a gateway with one worker; sets <NAME>_PORT, _ADMIN, _PID.
start_node() {
    local name=$1 provider=$2 role=$3 prefix="$BENCH_TMP/$1" pid deadline http admin=""
    mkdir -p "$prefix/conf" "$prefix/logs"
    {
        printf 'apisix:\n  node_listen:\n    - ip: 127.0.0.1\n      port: 0\n'
        printf '  enable_ipv6: false\n  enable_control: false\n'
        printf 'deployment:\n  role: %s\n  role_%s:\n    config_provider: %s\n' "$role" "$role" "$provider"
        if [[ $role == traditional ]]; then
            printf '  admin:\n    admin_listen:\n      ip: 127.0.0.1\n      port: 0\n'
            printf '    admin_key:\n      - name: admin\n        key: %s\n        role: admin\n' "$KEY"
        fi
        if [[ $provider == etcd ]]; then
            printf '  etcd:\n    host:\n      - "%s"\n    prefix: /apisix\n' "$ETCD_URL"
        fi
        printf 'nginx_config:\n  worker_processes: 1\n  http:\n    enable_access_log: false\n'
    } >"$prefix/conf/config.yaml"
    "$GATEWAY" start -p "$prefix" --foreground >"$prefix/gateway.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    deadline=$(( $(now_ms) + 15000 ))
    http=""
    while (( $(now_ms) < deadline )); do
        alive "$pid" || server_failed "$name" "$prefix/gateway.log" "exited during startup"
        if [[ -f "$prefix/logs/listen" ]]; then
            http=$(awk '$1 == "http" { print $2; exit }' "$prefix/logs/listen")
            admin=$(awk '$1 == "admin" { print $2; exit }' "$prefix/logs/listen")
            [[ -n "$http" ]] && break
        fi
        sleep 0.05
    done
    [[ -n "$http" ]] || server_failed "$name" "$prefix/gateway.log" "no listen file"
    printf -v "${name^^}_PORT" '%s' "${http##*:}"
    printf -v "${name^^}_ADMIN" '%s' "${admin##*:}"
    printf -v "${name^^}_PID" '%s' "$pid"
    log "started $name (pid $pid, $role/$provider) http $http${admin:+ admin $admin}"
}

admin_put() {  # ADMIN_PORT PATH BODY
    curl -fsS --max-time 5 -X PUT -H "X-API-KEY: $KEY" -d "$3" "http://127.0.0.1:$1$2" >/dev/null
}

# wait_load PORT PID: until GET /hello with Host load.test answers "hello world".
wait_load() {
    local deadline=$(( $(now_ms) + 10000 ))
    until [[ "$(curl -sS --max-time 1 -H 'Host: load.test' "http://127.0.0.1:$1/hello" 2>/dev/null)" == "hello world" ]]; do
        alive "$2" || die "gateway $2 exited"
        (( $(now_ms) < deadline )) || die "gateway on port $1 does not serve the load route"
        sleep 0.05
    done
}

pick_port ORIGIN_PORT || die "no free port for the origin"
start_nginx upstream "$SCRIPT_DIR/nginx/upstream.conf.in" "" "$ORIGIN_PORT"

declare -A RESULT
for mode in $MODES; do
    observers=()
    if [[ $mode == embedded ]]; then
        start_node "emb" embedded traditional
        writer_admin=$EMB_ADMIN; observers=("$EMB_PORT"); pids=("$EMB_PID")
    else
        start_etcd
        start_node "cp" etcd traditional
        start_node "dp" etcd data_plane
        writer_admin=$CP_ADMIN; observers=("$CP_PORT" "$DP_PORT"); pids=("$CP_PID" "$DP_PID")
    fi
    admin_put "$writer_admin" /apisix/admin/upstreams/u1 \
        "{\"nodes\":{\"127.0.0.1:$UPSTREAM_PORT\":1}}"
    admin_put "$writer_admin" /apisix/admin/routes/load \
        '{"uri":"/hello","host":"load.test","upstream_id":"u1"}'
    for i in "${!observers[@]}"; do wait_load "${observers[i]}" "${pids[i]}"; done

    seconds=$(( COUNT / RATE + 5 ))
    WRK_PIDS=()
    for port in "${observers[@]}"; do
        wrk -t1 -c"$CONNS" -d"${seconds}s" --latency -H 'Host: load.test' \
            "http://127.0.0.1:$port/hello" >"$BENCH_TMP/wrk.$mode.$port" 2>&1 &
        WRK_PIDS+=("$!")
    done
    probe_out="$BENCH_TMP/probe.$mode"
    probe_status=0
    "$PROBE" "$writer_admin" "$KEY" "$COUNT" "$RATE" "$(IFS=,; echo "${observers[*]}")" \
        >"$probe_out" 2>"$probe_out.err" || probe_status=$?
    for p in "${WRK_PIDS[@]}"; do wait "$p" || true; done
    WRK_PIDS=()
    cat "$probe_out" >&2
    (( probe_status == 0 )) || warn "$mode: probe reported failures: $(head -5 "$probe_out.err")"
    load_summary=""
    for port in "${observers[@]}"; do
        read -r rps p99 reqs errs non2xx < <(parse_wrk "$BENCH_TMP/wrk.$mode.$port")
        load_summary+="port $port: $reqs requests, $errs errors, $non2xx non-2xx, p99 ${p99} ms; "
        (( errs == 0 && non2xx == 0 )) || warn "$mode: load on $port saw $errs errors, $non2xx non-2xx"
    done
    RESULT[$mode]="$(cat "$probe_out")"$'\n'"load: $load_summary"
    log "$mode: $load_summary"
    stop_all
    start_nginx upstream "$SCRIPT_DIR/nginx/upstream.conf.in" "" "$ORIGIN_PORT"
done

mkdir -p "$RESULTS_DIR"
report="$RESULTS_DIR/admin-latency-$(date -u +%Y%m%dT%H%M%SZ).md"
{
    echo "# Admin write → visible at the proxy ($(date -u +%F))"
    echo
    echo "bench/admin_latency.sh: COUNT=$COUNT updates at RATE=$RATE/s; wrk -t1 -c$CONNS on another"
    echo "route of every gateway throughout; one worker per gateway."
    for mode in $MODES; do
        echo
        echo "## $mode"
        echo '```'
        echo "${RESULT[$mode]}"
        echo '```'
    done
} | tee "$report"
log "report: $report"
