"""Start the classroom page: `solara run sim/app/page.py` on a local address, offline, telemetry off.

Solara's browser files normally come from a CDN; here they must be in solara's local cache
(`<venv>/share/solara/cdn`), filled from the npm registry by `scripts/fetch_solara_assets.sh`
(`make app-assets`). The server then needs no network, and serves nothing but the page: the app's
folder has no `public/` or `assets/` directory for solara to expose.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "page.py"
# The packages solara 1.64.1's page template loads (solara/server/templates/solara.html.j2).
BROWSER_PACKAGES = (
    "@widgetti/solara-vuetify-app@10.1.1",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
    "font-awesome@4.5.0",
    "requirejs@2.3.6",
)
OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage reports to solara's servers
}


class ServeError(Exception):
    """The page cannot be started (a missing install step or a bad address); exit 2."""


def assets_dir() -> Path:
    """Solara's local cache of its browser files in this environment."""
    return Path(sys.prefix) / "share" / "solara" / "cdn"


def missing_browser_packages(folder: Path | None = None) -> list[str]:
    folder = folder or assets_dir()
    return [name for name in BROWSER_PACKAGES if not (folder / name / "package.json").is_file()]


def check_address(host: str, port: int) -> None:
    """Raise ServeError unless this host and port can be listened on now."""
    if not 1 <= port <= 65535:
        raise ServeError(f"--port {port} is not a port number; use 1-65535, like 8765")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ServeError(f"--host {host!r} is not an address of this machine; use 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ServeError(f"port {port} is already in use; choose another with --port") from None
            raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def server_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "solara", "run", str(PAGE),
        "--host", host, "--port", str(port), "--production", "--no-open",
    ]  # fmt: skip


def server_env(scenarios: Path | None = None) -> dict[str, str]:
    from sim.app.presets import SCENARIOS_ENV

    env = {**os.environ, **OFFLINE_ENV}
    if scenarios is not None:
        env[SCENARIOS_ENV] = str(Path(scenarios).resolve())
    return env


def serve(host: str = "127.0.0.1", port: int = 8765, scenarios: Path | None = None) -> int:
    """Run the page until interrupted; the server's exit code."""
    missing = missing_browser_packages()
    if missing:
        raise ServeError(
            f"solara's browser files are not installed in {assets_dir()} (missing {', '.join(missing)}); "
            "run `make app-assets` (or scripts/fetch_solara_assets.sh) first"
        )
    if scenarios is not None and not Path(scenarios).is_dir():
        raise ServeError(f"--scenarios {scenarios}: no such folder")
    check_address(host, port)
    print(f"Classroom page on http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    with subprocess.Popen(server_command(host, port), env=server_env(scenarios)) as server:
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            server.wait()
            return 0
