"""The rich ``Console`` the commands print with.

rich ends the process with exit 1 when the reader of its output goes away (``snapcheck check m.tflite | head``),
which reads as failing findings. This one raises ``BrokenPipeError`` instead, and the CLI ends such a run with
exit 2 and nothing more said (``cli.main``), as it does output written without rich.
"""

from __future__ import annotations

from rich.console import Console as _RichConsole


class Console(_RichConsole):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError
