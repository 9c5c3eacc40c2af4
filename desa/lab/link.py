"""Link emulation per site (userspace relay for latency/jitter/stalls/drops + tbf bandwidth)."""

from __future__ import annotations


def stop_all(lab, st) -> None:
    for name in [n for n in st.procs if n.startswith("relay-")]:
        st.procs.pop(name).stop(timeout=5)
