"""How `--help` names parameters: as click does (`FILE`, a flag without a type), not as typer 0.2x
does (`{file}` on the usage line, `--json <bool>` for a flag that takes no value)."""

from __future__ import annotations

from typing import Any

from typer import core

__all__ = ["plain_help"]


def _argument_usage(self: Any) -> str:
    name = self.display_name_raw.upper()
    name = name if self.required else f"[{name}]"
    return name if self.nargs == 1 else f"{name}..."


def _argument_name(self: Any) -> str:
    name = self.display_name_raw.upper()
    return name if self.metavar is not None or self.nargs == 1 else f"{name}..."


def _option_type(
    self: Any, ctx: Any, *, _original: Any = core.TyperOption.display_type_rich
) -> Any:
    if self.metavar is None and (self.is_flag or self.count):
        return None  # a flag takes no value: nothing to show
    return _original(self, ctx)


def plain_help() -> None:
    """Name parameters in `--help` as click does; a typer without these hooks is left as it is."""
    argument, option = core.TyperArgument, getattr(core, "TyperOption", None)
    if hasattr(argument, "_usage_display_name") and hasattr(argument, "_rich_display_name"):
        argument._usage_display_name = _argument_usage  # type: ignore[method-assign]  # typer's help hook
        argument._rich_display_name = _argument_name  # type: ignore[method-assign]  # typer's help hook
    if option is not None and hasattr(option, "display_type_rich"):
        option.display_type_rich = _option_type
