"""pyinfra @deploy units of desa-digital (one module per role), wired by deploys/*.py.

Server roles (this package's server side): base, hardening, firewall, vpn, monitoring, backup; the
regency hub: hub. App roles: web, php, database, app, opaque_app. Every role reads its knobs from host
data with the documented defaults at the top of its module (`setting(key)`), its facts about the site
from the SiteIntent it is given.

Helpers shared by the roles:
    apt_lists(cache_time=…)           fresh apt lists, each `apt-get update` bounded in time and retried
    in_container() -> bool            systemd-detect-virt --container (nspawn in the lab)
    note(text)                        record what a role skipped ("skipped in container: …"); the runner
                                      reports it per host, pyinfra's output shows it
    setting(defaults, key)            host data `key`, else the role's default
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation
from pyinfra.operations import apt

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
logger = logging.getLogger("desa.roles")
APT_STAMP = apt.APT_UPDATE_FILENAME  # the stamp pyinfra's apt.update keeps and reads


@operation(is_idempotent=False)
def apt_lists(cache_time: int = 0, timeout: int | None = None, attempts: int | None = None):
    """Fresh apt lists, as pyinfra's `apt.update` makes them, but never waiting forever: each
    `apt-get update` is stopped after `timeout` seconds and run again, up to `attempts` times.
    (Seen in the lab: apt's http method and apt-get waiting on each other for ever after the proxy
    closed an answer to four hosts asking at once; a satellite link stalls the same way.) Apt
    resumes what a stopped run had fetched.

    + cache_time: skip when the last success is younger than this many seconds (0: always update)
    + timeout: seconds per attempt (host data `apt_update_timeout`, default 300)
    + attempts: how many runs before failing (host data `apt_update_attempts`, default 3)
    """
    timeout = int(timeout or host.data.get("apt_update_timeout") or 300)
    attempts = int(attempts or host.data.get("apt_update_attempts") or 3)
    if not any(apt.update._inner(cache_time=cache_time)):  # pyinfra's own check of the stamp (it says "up to date")
        return
    yield (f"n=1; until timeout --kill-after=10 {timeout} apt-get update; do "
           f"[ $n -ge {attempts} ] && exit 1; "
           f'echo "apt-get update: attempt $n of {attempts} failed or took over {timeout}s; again" >&2; '
           f"n=$((n + 1)); sleep 5; done")
    yield f"mkdir -p {shlex.quote(str(Path(APT_STAMP).parent))} && touch {APT_STAMP}"


class Container(FactBase):
    """The container technology this host runs in (`systemd-nspawn`, `lxc`, …) or "none"."""

    default = str

    def command(self) -> str:
        return "systemd-detect-virt --container 2>/dev/null || true"

    def process(self, output) -> str:
        lines = [line.strip() for line in output if line.strip()]
        return lines[0] if lines else "none"


class DeployClient(FactBase):
    """The address the deploy's own SSH connection comes from ($SSH_CLIENT; empty when not over SSH)."""

    default = str

    def command(self) -> str:
        return 'echo "${SSH_CLIENT%% *}"'

    def process(self, output) -> str:
        return "".join(output).strip()


def deploy_client() -> str | None:
    """The controller's address: host data `desa_controller`, else the deploy connection's source
    (read without sudo, which would drop $SSH_CLIENT)."""
    return host.data.get("desa_controller") or host.get_fact(DeployClient, _sudo=False) or None


def in_container() -> bool:
    return host.get_fact(Container) != "none"


def note(text: str) -> None:
    """Say what a role skipped or could not do here (never silently)."""
    try:
        from desa.runner import NOTES

        NOTES.setdefault(host.name, [])
        if text not in NOTES[host.name]:
            NOTES[host.name].append(text)
    except ImportError:  # pragma: no cover - plain pyinfra without the desa package
        pass
    logger.warning("%s: %s", host.name, text)


def setting(defaults: dict, key: str):
    if key not in defaults:
        raise KeyError(f"unknown setting {key}")
    try:
        value = host.data.get(key)
    except AttributeError:  # no pyinfra host in context (tests as data, a plan): the default
        value = None
    return defaults[key] if value is None else value


class Account(FactBase):
    """A local account in one round trip: passwd entry, groups, authorized keys, lock state (None: absent).

    pyinfra's `Users` fact runs lastlog for every account of the host (about a second in a small
    container, on every server.user call): too slow for a dozen people on a satellite link."""

    def command(self, user: str) -> str:
        return (f"if e=$(getent passwd {user}); then echo \"$e\"; echo @@; id -nG {user}; echo @@; "
                f"h=$(echo \"$e\" | cut -d: -f6); cat \"$h/.ssh/authorized_keys\" 2>/dev/null || true; echo @@; "
                f"passwd -S {user} 2>/dev/null | cut -d' ' -f2; chage -l {user} 2>/dev/null | grep -i 'account expires' "
                "| cut -d: -f2; fi")

    def process(self, output):
        parts, cur = [], []
        for line in output:
            if line.strip() == "@@":
                parts.append(cur)
                cur = []
            else:
                cur.append(line.rstrip("\n"))
        parts.append(cur)
        if len(parts) < 4 or not parts[0]:
            return None
        f = parts[0][0].split(":")
        state = [x.strip() for x in parts[3]]
        return {"comment": f[4], "home": f[5], "shell": f[6],
                "groups": sorted(" ".join(parts[1]).split()[1:]) if parts[1] else [],
                "primary": " ".join(parts[1]).split()[0] if parts[1] and " ".join(parts[1]).split() else "",
                "keys": [k for k in parts[2] if k.strip()],
                "locked": bool(state) and state[0] == "L",
                "expires": state[1] if len(state) > 1 else "never"}


@operation()
def account(user: str, groups: list[str], keys: list[str] | None, comment: str = "", shell: str = "/bin/bash",
            home: str | None = None, system: bool = False, primary_group: str | None = None):
    """A login with exactly these supplementary `groups` and authorized `keys` (None: keys not managed),
    unlocked; created when missing."""
    have = host.get_fact(Account, user=user)
    want_groups = sorted(set(groups))
    if have is None:
        args = ["useradd", "-s", shell, "-c", shlex.quote(comment)]
        args += ["-d", home, "-M"] if home else ["-m"]
        if system:
            args.append("-r")
        if primary_group:
            args += ["-g", primary_group]
        else:
            args.append("-U")
        if want_groups:
            args += ["-G", ",".join(want_groups)]
        yield " ".join(args + [user])
        home = home or f"/home/{user}"
        have_keys = None
    else:
        home = have["home"]
        if sorted(set(have["groups"]) - {have["primary"]}) != want_groups:
            yield f"usermod -G '{','.join(want_groups)}' {user}"
        if have["shell"] != shell:
            yield f"usermod -s {shell} {user}"
        if have["comment"] != comment:
            yield f"usermod -c {shlex.quote(comment)} {user}"
        if have["expires"].lower() != "never":  # a person back in the inventory after being locked out
            yield f"usermod --expiredate '' {user}"
        have_keys = have["keys"]
    if keys is not None and have_keys != list(keys):
        yield f"install -d -m 0700 -o {user} -g $(id -gn {user}) {home}/.ssh"
        yield FileUploadCommand(StringIO("".join(k + "\n" for k in keys)), f"{home}/.ssh/authorized_keys")
        yield f"chown {user}:$(id -gn {user}) {home}/.ssh/authorized_keys && chmod 0600 {home}/.ssh/authorized_keys"


class FileStates(FactBase):
    """Mode, owner, group and sha256 of many files in one round trip ({path: (mode, user, group, sha) | None})."""

    default = dict

    def command(self, paths: list[str]) -> str:
        quoted = " ".join(shlex.quote(p) for p in paths)
        return (f"for f in {quoted}; do if [ -f \"$f\" ]; then printf '%s|%s|' \"$f\" \"$(stat -c '%a|%U|%G' \"$f\")\"; "
                "sha256sum \"$f\" | cut -d' ' -f1; else printf '%s|-\\n' \"$f\"; fi; done")

    def process(self, output) -> dict:
        out = {}
        for line in output:
            parts = line.strip().split("|")
            if len(parts) == 2 and parts[1] == "-":
                out[parts[0]] = None
            elif len(parts) == 5:
                out[parts[0]] = (parts[1].zfill(4), parts[2], parts[3], parts[4])
        return out


UPLOAD_DIR = ".desa-tmp"  # pyinfra's TEMP_DIR, relative to the deploy user's home (see private_uploads)


class PrivateDir(FactBase):
    """Mode of a folder of the connecting user (empty when missing)."""

    default = str

    def command(self, path: str) -> str:
        return f"stat -c %a {shlex.quote(path)} 2>/dev/null || true"

    def process(self, output) -> str:
        return "".join(output).strip()


@operation()
def private_uploads():
    """The deploy user's own 0700 upload folder: pyinfra uploads there before `sudo cp`, so a secret is
    never readable by other accounts on its way (pyinfra's default is a world-readable file in /tmp)."""
    if host.get_fact(PrivateDir, path=UPLOAD_DIR) != "700":
        yield f"install -d -m 0700 {UPLOAD_DIR} && chmod 0700 {UPLOAD_DIR}"


_BUNDLES: dict[tuple, dict] = {}


def bundle(paths: list[str]) -> tuple:
    """A set of files whose states one fact reads (once per host and run, when its first file is checked)."""
    key = (host.name, "files", tuple(paths))
    _BUNDLES.pop(key, None)  # a new run (or a new deploy in this process) reads them afresh
    return key


@operation()
def file_text(dest: str, content: str, mode: str = "0644", user: str = "root", group: str = "root",
              states: tuple | None = None):
    """A file with exactly `content`, mode and owner (pyinfra's files.put needs two facts per file; with
    `states` from `bundle(paths)` the files of a role are checked in one round trip)."""
    import hashlib

    if states is not None:
        if states not in _BUNDLES:
            _BUNDLES[states] = host.get_fact(FileStates, paths=list(states[2]))
        have = _BUNDLES[states].get(dest)
    else:
        have = host.get_fact(FileStates, paths=[dest]).get(dest)
    want_sha = hashlib.sha256(content.encode()).hexdigest()
    mode = mode.zfill(4)
    if have is None and not int(mode, 8) & 0o077:
        # a private file is created with its mode first: `cp` onto it keeps the mode
        yield f"install -m {mode} -o {user} -g {group} /dev/null {shlex.quote(dest)}"
    if have is None or have[3] != want_sha:
        yield FileUploadCommand(StringIO(content), dest)
        yield f"chown {user}:{group} {shlex.quote(dest)} && chmod {mode} {shlex.quote(dest)}"
    elif have[:3] != (mode, user, group):
        yield f"chown {user}:{group} {shlex.quote(dest)} && chmod {mode} {shlex.quote(dest)}"
    else:
        host.noop(f"{dest} is up to date")


def render(template: str, **values) -> str:
    """A template of templates/ rendered here (StrictUndefined: a missing value is an error)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(template).render(**values)
