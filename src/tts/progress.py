"""A progress bar of finished samples, fed by the ``tts_event`` hook."""

from __future__ import annotations

from typing import Any

from .records import Event
from .state import SampleState


class ProgressBar:
    """Counts finished samples and shows generated tokens; a plugin like any other."""

    name = "progress"

    def __init__(self) -> None:
        self._bar: Any = None
        self._tokens = 0

    def start(self, total: int) -> None:
        """Open the bar for ``total`` samples."""
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, unit="sample", desc="tts", dynamic_ncols=True)

    def tts_event(self, event: Event, sample: SampleState) -> None:
        if self._bar is None:
            return
        if event.kind == "segment":
            self._tokens += len(event.token_ids)
            self._bar.set_postfix(tokens=self._tokens, refresh=False)
        elif event.kind == "finish":
            self._bar.update(1)
        elif event.kind == "fork":  # a new branch is one more sample to finish
            self._bar.total += 1
            self._bar.refresh()

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
