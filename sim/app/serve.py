"""Start the classroom page: solara's server for sim/app/page.py on a local address, offline, telemetry off.

Solara's browser files normally come from a CDN; here they must be in solara's local cache
(`<venv>/share/solara/cdn`), filled from the npm registry by `scripts/fetch_solara_assets.sh`
(`make app-assets`). The server then needs no network, and serves nothing but the page: the app's
folder has no `public/` or `assets/` directory for solara to expose.

The server runs in a child process (sim/app/server.py) so that solara reads the settings below from a
fresh environment; this process forwards SIGTERM/SIGINT/SIGHUP to it and waits for it to stop.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.app.classplay_state import ClassOptions

PAGE = Path(__file__).resolve().parent / "page.py"
CLASS_PAGE = Path(__file__).resolve().parent / "classplay_page.py"  # `sim app --class`
# The packages solara 1.64.1's page template loads (solara/server/templates/solara.html.j2), the
# ECharts its FigureEcharts loads (solara/components/echarts.vue), and the world map's country shapes
# (read by sim/app/worldmap.py). scripts/fetch_solara_assets.sh fetches exactly these.
BROWSER_PACKAGES = (
    "@widgetti/solara-vuetify-app@10.1.1",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
    "font-awesome@4.5.0",
    "requirejs@2.3.6",
    "echarts@5.4.0",
    "world-atlas@2.0.2",
)
OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage reports to solara's servers
    "SOLARA_MODE": "production",
    "SOLARA_ASSETS_PROXY": "True",  # the page loads its browser files from this server, never from a CDN
    # Files missing from the local copy are refused by the gate (sim/app/guard.py); should one slip
    # through, solara's proxy would fetch it from here, a closed port on this machine, not the internet.
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",
}
MAX_SESSIONS = 60  # browser sessions at once (a class, its teacher, some reloads)
IDLE_EXPIRY_S = 600  # a session whose browser has gone is kept this long for it to come back
STOP_S = 15  # how long the server gets to stop after a signal before it is killed


class ServeError(Exception):
    """The page cannot be started (a missing install step or a bad address); exit 2."""


def assets_dir() -> Path:
    """Solara's local cache of its browser files: $SOLARA_ASSETS_PROXY_CACHE_DIR (solara's own setting)
    or the one in this environment."""
    folder = os.environ.get("SOLARA_ASSETS_PROXY_CACHE_DIR")
    return Path(folder) if folder else Path(sys.prefix) / "share" / "solara" / "cdn"


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


def server_command(host: str, port: int, max_sessions: int = MAX_SESSIONS, origins: Sequence[str] = ()) -> list[str]:
    """The child process that serves the page (sim/app/server.py)."""
    return [sys.executable, "-m", "sim.app.server", host, str(port), str(max_sessions), *origins]


def server_env(
    scenarios: Path | None = None, max_sessions: int = MAX_SESSIONS, idle_expiry_s: float = IDLE_EXPIRY_S,
    class_play: ClassOptions | None = None,
) -> dict[str, str]:
    """The child's environment: solara's settings (offline, production, session limits) and the presets
    folder, or with `class_play` the class's options and tokens (sim/app/classplay_state.py)."""
    from sim.app.classplay_state import CLASS_ENV
    from sim.app.presets import SCENARIOS_ENV

    env = {**os.environ, **OFFLINE_ENV}
    env.pop(CLASS_ENV, None)
    env["SOLARA_APP"] = str(PAGE if class_play is None else CLASS_PAGE)
    if class_play is not None:
        env[CLASS_ENV] = class_play.to_env()
    env["SOLARA_ASSETS_PROXY_CACHE_DIR"] = str(assets_dir())
    # Solara keeps a session whose websocket closed for this long (default 24 h), so a page reload
    # or a network blip can resume it; the gate releases the oldest of them early when the page is full.
    env["SOLARA_KERNEL_CULL_TIMEOUT"] = f"{idle_expiry_s:f}s"
    env["SOLARA_KERNEL_MAX_COUNT"] = str(max_sessions)  # solara's own bound on session threads
    # reacton's (solara's renderer) walk that skips the unchanged parts of the page: by default every
    # quarter re-walks all ~90 widgets of the page in every session. With 30 students playing it halves
    # the server's CPU (benchmarks/classroom.py --clients ws); REACTON_FAST=0 in the environment goes back.
    env.setdefault("REACTON_FAST", "1")
    if scenarios is not None:
        env[SCENARIOS_ENV] = str(Path(scenarios).resolve())
    return env


def check_origins(origins: Sequence[str]) -> list[str]:
    """The --allow-origin values as browsers send them; ServeError for one that is not an origin."""
    from sim.app.guard import OriginError, normalize_origin

    try:
        return [normalize_origin(o) for o in origins]
    except OriginError as error:
        raise ServeError(str(error)) from None


def open_class_for(options: ClassOptions, host: str, port: int) -> ClassOptions:
    """Check that the class opens (ServeError saying why not), print its links, and return the options
    with the join link the teacher's page shows."""
    from dataclasses import replace

    from sim.app.classplay_state import ClassError, links, open_class

    try:
        room = open_class(options)
    except ClassError as error:
        raise ServeError(f"--class: {error}") from None
    teacher, join = links(host, port, options)
    length = "a year" if room.round_quarters == 4 else "a quarter"
    first, last = room.round_quarters_of(1)[0], room.round_quarters_of(room.rounds)[1]
    print(f"Class play on {options.preset}: {room.rounds} rounds of {length}, {first} to {last} "
          "(Ctrl-C ends the class)", flush=True)  # fmt: skip
    print(f"  Teacher (keep it to yourself): {teacher}", flush=True)
    print(f"  Students join at:              {join}", flush=True)
    print(f"  or at http://{host}:{port}/ with the code {options.join_code}", flush=True)
    return replace(options, join_url=join)


def stop(server: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    """Pass a stop signal on to the server and wait for it; kill it if it does not stop in STOP_S."""
    if server.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signum)
    try:
        server.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    scenarios: Path | None = None,
    allow_origins: Sequence[str] = (),
    max_sessions: int = MAX_SESSIONS,
    idle_expiry_s: float = IDLE_EXPIRY_S,
    class_play: ClassOptions | None = None,
) -> int:
    """Run the page until interrupted (Ctrl-C: exit 0); the server's exit code.

    With `class_play` (`sim app --class`) the server holds one class for its lifetime and serves the
    class-play pages; the teacher's link and the students' join link and code are printed first.

    SIGTERM or SIGHUP stop the server too, then propagate (sim.cli turns them into exit 128 + signal).
    """
    missing = missing_browser_packages()
    if missing:
        raise ServeError(
            f"solara's browser files are not installed in {assets_dir()} (missing {', '.join(missing)}); "
            "run `make app-assets` (or scripts/fetch_solara_assets.sh) first"
        )
    if scenarios is not None and not Path(scenarios).is_dir():
        raise ServeError(f"--scenarios {scenarios}: no such folder")
    if max_sessions < 1:
        raise ServeError(f"--max-sessions {max_sessions}: allow at least 1 session")
    if not 0 < idle_expiry_s < 10**9:  # also refuses nan and inf, which solara cannot parse
        raise ServeError(f"--idle-expiry {idle_expiry_s:g}: give a number of seconds above 0, like 600")
    origins = check_origins(allow_origins)
    check_address(host, port)
    if class_play is not None:
        class_play = open_class_for(class_play, host, port)
    else:
        print(f"Classroom page on http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    from sim.app.guard import is_loopback_host

    if not is_loopback_host(host) and not origins:
        print(
            f"Note: browsers of other machines are refused until you name the address they use, e.g. "
            f"sim app --host {host} --allow-origin http://THIS-MACHINE'S-ADDRESS:{port}",
            flush=True,
        )
    server = subprocess.Popen(
        server_command(host, port, max_sessions, origins),
        env=server_env(scenarios, max_sessions, idle_expiry_s, class_play),
    )
    try:
        code = server.wait()
        return 128 - code if code < 0 else code  # a server ended by signal N exits 128 + N, as a shell says
    except KeyboardInterrupt:  # Ctrl-C: the usual way to stop the page
        stop(server, signal.SIGINT)
        return 0
    except BaseException as error:  # SIGTERM, SIGHUP (sim.cli.Terminated) or anything else: never orphan it
        stop(server, signal.SIGTERM)  # uvicorn stops gracefully on SIGTERM (SIGHUP would kill it outright)
        error.output_state = "the classroom page has stopped"  # type: ignore[attr-defined]  # sim.cli says it
        raise
