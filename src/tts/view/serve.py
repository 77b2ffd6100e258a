"""``tts view --serve``: the page on a local port, for browsers or remote shells that cannot open files.

The server binds 127.0.0.1 only (a comparison's traces are nobody else's business), serves the one page from
memory at ``/`` and nothing else, and runs until interrupted.
"""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Callable

HOST = "127.0.0.1"


def make_server(page: bytes, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server on ``127.0.0.1:port`` (0: a free port) answering ``GET /`` with ``page``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            if self.path not in ("/", "/index.html", "/view.html"):
                self.send_error(404, "only / is served")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:  # quiet: one line at start is enough
            return

    return http.server.ThreadingHTTPServer((HOST, port), Handler)


def serve(page: bytes, port: int = 0, *, open_browser: bool = True,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve ``page`` until Ctrl-C; print its address (and open it in a browser unless told not to)."""
    from ..errors import TTSError

    try:
        server = make_server(page, port)
    except OSError as exc:
        raise TTSError(f"cannot listen on {HOST}:{port} ({exc.strerror}); pass another --port.") from None
    url = f"http://{HOST}:{server.server_address[1]}/"
    print(f"tts: serving the view at {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if ready is not None:
        ready(url)
    if open_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("tts: stopped serving.", file=sys.stderr)
    finally:
        server.server_close()
