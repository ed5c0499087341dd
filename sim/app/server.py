"""The classroom page's server process, started by `sim app` (sim/app/serve.py) as
`python -m sim.app.server HOST PORT MAX_SESSIONS [ORIGIN ...]`.

With `sim app --class` the server first opens the class ($SIM_APP_CLASS, sim/app/classplay_state.py) and
checks the links' tokens (sim/app/classgate.py) inside the gate.

What `solara run` does, with three differences: solara's app sits behind the gate (sim/app/guard.py),
uvicorn's graceful shutdown is bounded (by default it waits for every websocket, so a SIGTERM with a
student connected never ended the server), and nothing contacts the internet (`solara run` asks PyPI
for a newer version at start). Solara's own settings come from the environment serve.py sets.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

FULL_COLLECTION_EVERY = 1000  # middle-generation passes between full ones (default 10): see _freeze_what_stays
SHUTDOWN_S = 5  # how long open websockets get to close on SIGTERM/SIGINT before the server stops anyway

LOGGING: dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"}},
    "handlers": {"default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
    "loggers": {
        "solara": {"handlers": ["default"], "level": "ERROR"},
        "reacton": {"handlers": ["default"], "level": "ERROR"},
        "uvicorn": {"handlers": ["default"], "level": "ERROR"},
        "sim.app": {"handlers": ["default"], "level": "WARNING"},
    },
}


def _watch_parent(server: object, parent: int) -> None:
    # A parent killed outright (SIGKILL) cannot stop its child; the server then stops on its own.
    while getattr(server, "should_exit", False) is False:
        if os.getppid() != parent:
            server.should_exit = True  # type: ignore[attr-defined]
            return
        time.sleep(1)


def _freeze_what_stays() -> None:
    """Import what every page uses and move it, with the libraries, out of the cyclic collector's reach.

    With a class playing, the collector's full passes scanned every long-lived object of the process (the
    libraries, the model, the world's shapes) and held all sessions at once: three pauses of about 0.3 s in
    a 30-student class, each delaying every page's next quarter (benchmarks/classroom.py --clients ws).
    Frozen objects (`gc.freeze`, as `sim.frozen_imports` does for the command line) are never scanned;
    what the sessions create is collected as before.
    """
    import contextlib
    import gc
    import importlib

    for module in ("sim.app.views", "sim.app.stories", "sim.app.charts", "sim.app.worldmap", "sim.app.lessons",
                   "sim.app.levers", "sim.app.presets", "sim.model.model"):
        importlib.import_module(module)
    from sim.app.worldmap import MapUnavailable, world_geojson

    # the world's shapes, loaded once and kept for the server's life; if they are not installed the page
    # says so where the map would be (sim/app/page.py), and there is nothing to keep
    with contextlib.suppress(MapUnavailable):
        world_geojson()
    gc.collect()
    gc.freeze()
    # Full passes a hundred times rarer (every 1,000 middle-generation passes instead of 10): the sessions'
    # garbage is mostly freed by reference counting, a class with the collector off entirely grew the
    # server's peak by 3 MB, and closed sessions are collected in full when they go (sim/app/page.py).
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def main(argv: list[str]) -> int:
    """Serve solara's app behind the gate until SIGTERM/SIGINT or until the parent `sim app` is gone."""
    host, port, max_sessions, *origins = argv
    import uvicorn
    from solara.server import settings as solara_settings
    from solara.server import starlette as solara_starlette

    from sim.app.classplay_state import the_class
    from sim.app.guard import Gate

    app: Any = solara_starlette.app  # the ASGI app the gate wraps (solara's, or the class's gate around it)
    if the_class() is not None:  # `sim app --class`: the class exists before the first page asks for it
        from sim.app.classgate import ClassGate

        app = ClassGate(app, the_class)
    gate = Gate(
        app,
        allowed_origins=origins,
        max_sessions=int(max_sessions),
        cdn_dir=solara_settings.assets.proxy_cache_dir,
    )
    config = uvicorn.Config(
        gate, host=host, port=int(port), log_config=LOGGING, access_log=False, loop="asyncio",
        timeout_graceful_shutdown=SHUTDOWN_S,
    )  # fmt: skip
    server = uvicorn.Server(config)
    threading.Thread(target=_watch_parent, args=(server, os.getppid()), daemon=True).start()
    _freeze_what_stays()
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
