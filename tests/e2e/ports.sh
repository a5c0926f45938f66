# Free loopback ports for tests and benchmarks (sourced, not run).
# Ports come from below the kernel's ephemeral range (32768+), so no client
# socket of a concurrent test can take one between two starts of a server.

# port_free PORT: no UDP or TCP socket on any address uses PORT, in any state.
port_free() {
    local hex
    hex=$(printf ':%04X ' "$1")
    ! cat /proc/net/udp /proc/net/tcp /proc/net/udp6 /proc/net/tcp6 2>/dev/null |
        awk '{print $2}' | grep -q "$hex"
}

# pick_port [N]: prints a port P such that P .. P+N-1 are all free (N = 1).
pick_port() {
    local p i n=${1:-1} ok
    for _ in $(seq 100); do
        p=$((10000 + RANDOM % 22000))
        ok=1
        for ((i = 0; i < n; i++)); do port_free $((p + i)) || { ok=0; break; }; done
        [ "$ok" = 1 ] && { echo "$p"; return 0; }
    done
    return 1
}
