"""A papermill engine that saves the running notebook less often.

papermill's manager writes (and re-validates) the whole output notebook at the start and the
end of every cell, markdown included: for a runbook of ~30 cells with a dozen figures that
is about a third of the run. This engine keeps the same guarantees that matter for evidence
(a killed run leaves a partial notebook no older than ``SAVE_INTERVAL_S``; a failed cell and
the end of the run are always saved) and skips the saves in between.
"""

from __future__ import annotations

from typing import Any

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

ENGINE_NAME = "festsafe"
SAVE_INTERVAL_S = 2.0


class ThrottledSaveManager(NotebookExecutionManager):  # type: ignore[misc]
    """Saves at most every ``SAVE_INTERVAL_S`` while cells run; always on failure and at the end."""

    _force = False

    def save(self, **kwargs: Any) -> None:
        elapsed = (self.now() - self.last_save_time).total_seconds()
        if self._force or elapsed >= SAVE_INTERVAL_S:
            super().save(**kwargs)

    def _forced(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        self._force = True
        try:
            return method(*args, **kwargs)
        finally:
            self._force = False

    def cell_exception(self, *args: Any, **kwargs: Any) -> Any:
        return self._forced(super().cell_exception, *args, **kwargs)

    def notebook_complete(self, *args: Any, **kwargs: Any) -> Any:
        return self._forced(super().notebook_complete, *args, **kwargs)


class FestsafeEngine(NBClientEngine):  # type: ignore[misc]
    """nbclient execution, as papermill's default engine, with :class:`ThrottledSaveManager`."""

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = False,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        nb_man = ThrottledSaveManager(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


def register() -> str:
    """Make the engine available to ``papermill.execute_notebook(engine_name=...)``."""
    papermill_engines.register(ENGINE_NAME, FestsafeEngine)
    return ENGINE_NAME
