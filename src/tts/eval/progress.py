"""Progress of a comparison on stderr: one bar for the whole grid (problems x settings, with ETA) and one for
the setting running now (finished samples)."""

from __future__ import annotations

from typing import Any


class CompareProgress:
    """Two tqdm bars; every method is a no-op when disabled, so callers need no checks."""

    def __init__(self, total: int, done: int, enabled: bool = True) -> None:
        self._overall: Any = None
        self._setting: Any = None
        if not enabled:
            return
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        # initial= keeps the ETA honest on a resume: the rate is measured on new work only.
        self._overall = tqdm(total=total, initial=done, unit="problem", desc="grid", position=0, dynamic_ncols=True)

    def start_setting(self, setting: str, problems: int) -> None:
        """Open the per-setting bar for ``problems`` problems of ``setting``."""
        if self._overall is None:
            return
        if self._setting is not None:
            self._setting.close()
        self._setting = self._tqdm(total=problems, unit="problem", desc=setting[:48], position=1, leave=False,
                                   dynamic_ncols=True)
        self._samples = 0

    def on_event(self, event: Any, sample: Any) -> None:
        """``on_event`` callback of :func:`tts.run`: count finished samples on the setting bar."""
        if self._setting is not None and event.kind == "finish":
            self._samples += 1
            self._setting.set_postfix(samples=self._samples, refresh=False)

    def problem_done(self) -> None:
        """One (setting, problem) pair finished and saved."""
        if self._overall is not None:
            self._overall.update(1)
            self._setting.update(1)

    def close(self) -> None:
        """Close both bars."""
        for bar in (self._setting, self._overall):
            if bar is not None:
                bar.close()
        self._setting = self._overall = None
