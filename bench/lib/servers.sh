# shellcheck shell=bash
# Starting the servers used by bench/run.sh: the upstream origin, the nginx
# baseline proxy and the gateway. Sourced, not executed; needs common.sh.
#
# Every PID started here is appended to STARTED_PIDS so that the EXIT trap
# can stop exactly those processes (and nothing else).

# Globals set here and read by run.sh:
# shellcheck disable=SC2034
STARTED_PIDS=()
declare -A SERVER_LOG=()
GATEWAY_PID="" GATEWAY_PORT=""

# pin_prefix CPU: command prefix (one word per line) that applies the NICE
# level, if any, and pins to CPU unless pinning is disabled or CPU is empty.
pin_prefix() {
    if [[ -n "${NICE:-}" ]]; then
        printf 'nice\n-n\n%s\n' "$NICE"
    fi
    if [[ "${PIN:-1}" == 1 && -n "${1:-}" ]]; then
        printf 'taskset\n-c\n%s\n' "$1"
    fi
}

# render TEMPLATE OUT KEY=VALUE...: substitute @KEY@ placeholders.
render() {
    local tpl=$1 out=$2 kv expr=()
    shift 2
    for kv in "$@"; do
        expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
    done
    sed "${expr[@]}" "$tpl" >"$out"
}

# server_failed NAME LOGFILE MESSAGE: print diagnostics and exit non-zero.
server_failed() {
    local name=$1 logf=$2 msg=$3
    log "error: $name: $msg"
    if [[ -s "$logf" ]]; then
        log "---- last lines of $name log ----"
        tail -n 20 "$logf" >&2
        log "----"
    fi
    exit 1
}

# start_nginx NAME TEMPLATE CPU PORT [UPSTREAM_PORT]: start one nginx in its
# own prefix below BENCH_TMP, wait until /hello answers "hello world", and
# set the globals <NAME>_PID and <NAME>_PORT (NAME upper-cased, '-' -> '_').
start_nginx() {
    local name=$1 tpl=$2 cpu=$3 port=$4 upstream_port=${5:-} prefix var pid
    local -a pin
    prefix="$BENCH_TMP/$name"
    mkdir -p "$prefix/tmp"
    render "$tpl" "$prefix/nginx.conf" "PREFIX=$prefix" "PORT=$port" "UPSTREAM_PORT=$upstream_port"
    mapfile -t pin < <(pin_prefix "$cpu")
    SERVER_LOG[$name]="$prefix/error.log"
    "${pin[@]}" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
        -g 'daemon off;' >"$prefix/stdout.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    if ! wait_hello "http://127.0.0.1:$port/hello" "$pid" "${START_TIMEOUT:-15}"; then
        cat "$prefix/stdout.log" >>"$prefix/error.log" 2>/dev/null || true
        server_failed "$name" "$prefix/error.log" "did not answer 'hello world' on 127.0.0.1:$port"
    fi
    var=${name^^}; var=${var//-/_}
    printf -v "${var}_PID" '%s' "$pid"
    printf -v "${var}_PORT" '%s' "$port"
    log "started $name (pid $pid) on 127.0.0.1:$port${cpu:+, cpu $cpu}"
}

# start_gateway CPU UPSTREAM_PORT: start the gateway in a prefix below
# BENCH_TMP with a single route /hello -> upstream, wait for logs/listen,
# check that it proxies "hello world", and set GATEWAY_PID / GATEWAY_PORT.
# A second route, for Host: limited.bench, carries APISIX's second benchmark
# scenario: limit-count (a limit never reached) + prometheus.
start_gateway() {
    local cpu=$1 upstream_port=$2 prefix pid deadline addr port export_port=""
    local -a pin
    prefix="$BENCH_TMP/gateway"
    mkdir -p "$prefix/conf" "$prefix/logs"
    pick_port export_port || die "no free port for the prometheus export server"
    cat >"$prefix/conf/config.yaml" <<EOF
plugin_attr:
  prometheus:
    export_addr:
      ip: 127.0.0.1
      port: $export_port
apisix:
  node_listen:
    - ip: 127.0.0.1
      port: 0
  enable_ipv6: false
  enable_control: false
  enable_admin: false
deployment:
  role: data_plane
  role_data_plane:
    config_provider: yaml
nginx_config:
  worker_processes: 1
  enable_access_log: false
  http:
    enable_access_log: false
EOF
    cat >"$prefix/conf/apisix.yaml" <<EOF
routes:
  - id: hello
    uri: /hello
    upstream:
      type: roundrobin
      nodes:
        "127.0.0.1:$upstream_port": 1
  - id: limited
    uri: /hello
    host: limited.bench
    plugins:
      limit-count:
        count: 2000000000
        time_window: 60
        rejected_code: 503
        key: remote_addr
      prometheus: {}
    upstream:
      type: roundrobin
      nodes:
        "127.0.0.1:$upstream_port": 1
#END
EOF
    mapfile -t pin < <(pin_prefix "$cpu")
    SERVER_LOG[gateway]="$prefix/gateway.log"
    "${pin[@]}" "$GATEWAY" start -p "$prefix" --foreground >"$prefix/gateway.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")

    # Wait for the listen file written once the listener is bound.
    deadline=$(( $(now_ms) + ${START_TIMEOUT:-15} * 1000 ))
    addr=""
    while (( $(now_ms) < deadline )); do
        alive "$pid" || server_failed gateway "$prefix/gateway.log" "exited during startup"
        if [[ -f "$prefix/logs/listen" ]]; then
            addr=$(awk '$1 == "http" { print $2; exit }' "$prefix/logs/listen")
            [[ -n "$addr" ]] && break
        fi
        sleep 0.05
    done
    [[ -n "$addr" ]] || server_failed gateway "$prefix/gateway.log" \
        "no 'http' line in logs/listen after ${START_TIMEOUT:-15}s"
    port=${addr##*:}
    [[ "$port" =~ ^[0-9]+$ ]] || server_failed gateway "$prefix/gateway.log" "bad listen address '$addr'"

    if ! wait_hello "http://127.0.0.1:$port/hello" "$pid" 5; then
        server_failed gateway "$prefix/gateway.log" \
            "listening on $addr but GET /hello did not return 'hello world'"
    fi
    GATEWAY_PID=$pid
    GATEWAY_PORT=$port
    log "started gateway (pid $pid) on 127.0.0.1:$port${cpu:+, cpu $cpu}"
}

# stop_all: stop every PID started here, newest first.
stop_all() {
    local i
    for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${STARTED_PIDS[i]}" 5
    done
    STARTED_PIDS=()
}
