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
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
