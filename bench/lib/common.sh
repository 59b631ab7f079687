# shellcheck shell=bash
# Generic helpers for bench/run.sh: logging, free ports, CPU accounting,
# wrk output parsing and small statistics. Sourced, not executed.

log()  { printf '%s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# now_ms: monotonic-enough wall clock in milliseconds (for deadlines only).
now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- CPUs -----

# allowed_cpus: CPUs this process may run on, one per line, ascending.
allowed_cpus() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import os; print("\n".join(str(c) for c in sorted(os.sched_getaffinity(0))))'
    else
        local n i
        n=$(nproc)
        for ((i = 0; i < n; i++)); do echo "$i"; done
    fi
}

# ---------------------------------------------------------------- ports ----

# port_is_free PORT: true when nothing listens on 127.0.0.1:PORT and it can
# be bound right now.
port_is_free() {
    local port=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
    else
        [[ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]]
    fi
}

# pick_port VAR: store in VAR a free TCP port below the usual ephemeral
# range (so outgoing client connections cannot grab it before the server
# binds). Ports already handed out in this run (PICKED_PORTS) are skipped.
# Not meant for command substitution: it records the port in this shell.
PICKED_PORTS=" "
pick_port() {
    local _try _port
    for ((_try = 0; _try < 200; _try++)); do
        _port=$((20000 + RANDOM % 12000))
        [[ "$PICKED_PORTS" == *" $_port "* ]] && continue
        if port_is_free "$_port"; then
            PICKED_PORTS+="$_port "
            printf -v "$1" '%s' "$_port"
            return 0
        fi
    done
    return 1
}

# ------------------------------------------------------------ processes ----

# proc_tree PID: PID and all of its descendants, one per line.
proc_tree() {
    ps -e -o pid= -o ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            if (!(root in parent)) exit
            keep[root] = 1
            do {
                changed = 0
                for (p in parent)
                    if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 }
            } while (changed)
            for (p in keep) print p
        }'
}

# tree_cpu_ticks PID: utime+stime (clock ticks) summed over PID and its
# descendants, read from /proc/<pid>/stat. Threads are included, since the
# per-process counters of a thread-group leader cover all of its threads.
tree_cpu_ticks() {
    local total=0 p line rest
    local -a f
    for p in $(proc_tree "$1"); do
        line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        # Skip "pid (comm) "; comm may contain spaces and parentheses.
        rest=${line##*) }
        read -r -a f <<<"$rest"
        # After comm: state(0) ppid(1) ... utime(11) stime(12).
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# alive PID: true while PID exists and is not a zombie.
alive() {
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n "$st" && "$st" != Z ]]
}

# stop_pid PID [GRACE_SECONDS]: SIGTERM, wait, then SIGKILL the PID and any
# descendants that survived. Only used on PIDs this script started.
stop_pid() {
    local pid=$1 grace=${2:-5} deadline kids
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kids=$(proc_tree "$pid" | grep -vx "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now_ms) + grace * 1000 ))
    while alive "$pid" && (( $(now_ms) < deadline )); do sleep 0.05; done
    if alive "$pid"; then
        warn "pid $pid ignored SIGTERM for ${grace}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    { wait "$pid"; } 2>/dev/null || true
    local k
    for k in $kids; do
        if alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
    done
    return 0
}

# --------------------------------------------------------------- HTTP ------

# wait_hello URL PID TIMEOUT_S: poll URL until it answers "hello world",
# failing early if PID dies. Polling, not a fixed sleep.
wait_hello() {
    local url=$1 pid=$2 timeout=${3:-10} deadline body
    deadline=$(( $(now_ms) + timeout * 1000 ))
    while (( $(now_ms) < deadline )); do
        alive "$pid" || return 2
        body=$(curl -sS --max-time 1 "$url" 2>/dev/null || true)
        [[ "$body" == "hello world" ]] && return 0
        sleep 0.05
    done
    return 1
}

# ------------------------------------------------------------------ wrk ----

# parse_wrk FILE: print "rps p99_ms requests errors non2xx" from wrk
# --latency output. Latencies are normalised to milliseconds.
parse_wrk() {
    awk '
        function to_ms(v,   n, u) {
            n = v + 0
            u = v; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n / 1000
            if (u == "ms") return n
            if (u == "s")  return n * 1000
            if (u == "m")  return n * 60000
            if (u == "h")  return n * 3600000
            return n
        }
        /Latency Distribution/        { dist = 1; next }
        dist && $1 == "99%"           { p99 = to_ms($2) }
        / requests in /               { reqs = $1 }
        /^Requests\/sec:/             { rps = $2 }
        /Socket errors:/ {
            gsub(/,/, "")
            # Socket errors: connect N read N write N timeout N
            errs = $4 + $6 + $8 + $10
        }
        /Non-2xx or 3xx responses:/   { non2xx = $NF }
        END {
            if (rps == "" || reqs == "" || p99 == "") exit 1
            printf "%s %.3f %s %d %d\n", rps, p99, reqs, errs, non2xx
        }' "$1"
}

# --------------------------------------------------------------- stats -----

# median: median of the numbers on stdin (mean of the middle two when even).
median() {
    sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) print v[(NR + 1) / 2]
            else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# calc EXPR: floating point arithmetic via awk, e.g. calc "3 / 2".
calc() { awk "BEGIN { printf \"%.6f\n\", $1 }"; }

# div A B: A / B, or "nan" when B is zero.
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.6f\n", a / b }'; }

# fmt FORMAT VALUE: printf for numbers that may be "nan".
fmt() { awk -v f="$1" -v v="$2" 'BEGIN { if (v == "nan") print "n/a"; else printf f "\n", v }'; }
