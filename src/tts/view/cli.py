"""``tts view DIR [DIR ...]``: write (and optionally serve) the HTML view of comparison directories."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any


def add_view_command(sub: Any) -> None:
    """Register ``tts view`` on the top-level subparsers."""
    view = sub.add_parser(
        "view", help="write one self-contained HTML page for tts compare directories (tables, plots, traces)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write one HTML file showing the summary table, the accuracy vs thinking plot, the problem "
                    "x setting grid and every trace with its interventions. It needs no server and no network.",
        epilog=textwrap.dedent("""\
            examples:
              tts view runs/table3                          # writes runs/table3/view.html
              tts view runs/s1-32B runs/qwq -o models.html  # several comparisons side by side
              tts view runs/table3 --serve                  # also serve it on http://127.0.0.1:PORT/
            """),
    )
    view.add_argument("directories", type=Path, nargs="+", metavar="DIR", help="tts compare output directory")
    view.add_argument("-o", "--output", type=Path, default=None, help="HTML file to write (default: DIR/view.html)")
    view.add_argument("--serve", action="store_true", help="serve the page on 127.0.0.1 until Ctrl-C")
    view.add_argument("--port", type=int, default=0, help="port for --serve (default: a free one)")
    view.add_argument("--no-browser", action="store_true", help="with --serve, do not open a browser")
    view.set_defaults(func=_view_command)


def _view_command(args: argparse.Namespace) -> int:
    from .page import write_view
    from .serve import serve

    path = write_view(args.directories, args.output)
    print(f"tts: wrote {path}", file=sys.stderr)
    if args.serve:
        serve(path.read_bytes(), args.port, open_browser=not args.no_browser)
    return 0
