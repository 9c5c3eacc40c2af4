"""Render a site's RouterOS configuration from `templates/routeros/` (jinja2, StrictUndefined).

The rendered text is a RouterOS script in export form; `desired_state` parses it back with the
same parser as the router's own `/export`, so both sides of the diff are read the same way.
Secrets appear as `«secret:REF»` placeholders: never their values.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from desa.intent import SiteIntent
from desa.network import desired
from desa.network.export import Export, parse
from desa.network.quoting import quote

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "routeros"
MAIN = "router.rsc.j2"


def environment(template_dir: Path = TEMPLATE_DIR) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = quote
    return env


def render_context(ctx: dict, template_dir: Path = TEMPLATE_DIR) -> str:
    return environment(template_dir).get_template(MAIN).render(**ctx)


def render_site(intent: SiteIntent, *, management_sources: list[str] | None = None) -> str:
    """The site's RouterOS configuration as a script (`.rsc`)."""
    return render_context(desired.context(intent, management_sources=management_sources))


def desired_state(intent: SiteIntent, *, management_sources: list[str] | None = None) -> Export:
    return parse(render_site(intent, management_sources=management_sources))


def write_site(intent: SiteIntent, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{intent.router.identity}.rsc"
    path.write_text(render_site(intent))
    return path
