"""``python -m desa.routeros serve --listen HOST:PORT …``"""

from desa.commands.router import app

if __name__ == "__main__":
    app(prog_name="python -m desa.routeros")
