"""Network gear as pyinfra hosts: RouterOS connector, facts, structured diff operations, templates.

Modules, one per concept: `connection` (netmiko session), `connector` (pyinfra connector),
`export` (parse `/export`), `quoting` (RouterOS script escaping), `facts`, `operations` (the diff),
`desired` (site intent → template context), `render` (jinja2), `safety` (backups, armed revert),
`deploy` (plan_site / deploy_site).
"""
