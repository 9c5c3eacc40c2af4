"""Value normalisation: compare values the way RouterOS prints them.

RouterOS prints `25M` back as `25M` or `25000000`, `4h` as `4h` or `04:00:00`, `true` as `yes`…
Both sides of a comparison go through `normalise` so an unchanged router shows zero changes.
"""

from __future__ import annotations

import re

_BOOL = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}
_UNITS = {"": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3}
_RATE_RE = re.compile(r"^(\d+(?:\.\d+)?)([kKMG]?)$")
_TIME_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_CLOCK_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")
_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}

RATE_KEYS = {"max-limit", "limit-at", "burst-limit", "burst-threshold", "rate-limit", "total-max-limit",
             "total-limit-at"}
TIME_KEYS = {"session-timeout", "idle-timeout", "keepalive-timeout", "lease-time", "interval",
             "persistent-keepalive", "burst-time", "login-timeout", "ageing-time", "arp-timeout",
             "http-cookie-lifetime", "mac-cookie-timeout", "cache-max-ttl", "uptime-limit"}
# Sets printed in any order.
SET_KEYS = {"connection-state", "tagged", "untagged", "login-by", "servers"}


def rate(value: str) -> str:
    parts = re.split(r"([/ ])", value.strip())
    out = []
    for part in parts:
        m = _RATE_RE.match(part)
        if m:
            num = float(m.group(1)) * _UNITS[m.group(2)]
            out.append(str(int(num)) if num == int(num) else str(num))
        else:
            out.append(part)
    return "".join(out)


def duration(value: str) -> str:
    v = value.strip()
    if v in ("none", "", "0"):
        return "0s" if v == "0" else v
    m = _CLOCK_RE.match(v)
    if m:
        w, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
        total = w * 604800 + d * 86400 + h * 3600 + mi * 60 + s
        return f"{total}s"
    parts = _TIME_PART_RE.findall(v)
    if parts and "".join(a + b for a, b in parts) == v:
        total = sum(float(a) * _SECONDS[b] for a, b in parts)
        return f"{int(total) if total == int(total) else total}s"
    if v.isdigit():
        return f"{v}s"
    return v


def normalise(key: str, value: str) -> str:
    v = value.strip()
    if v.lower() in _BOOL:
        return _BOOL[v.lower()]
    if key in RATE_KEYS:
        return rate(v)
    if key in TIME_KEYS:
        return duration(v)
    if key in SET_KEYS:
        return ",".join(sorted(p.strip() for p in v.split(",") if p.strip()))
    return v


def same(key: str, a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return normalise(key, a) == normalise(key, b)
