"""The `session_stats` writes of one transaction, merged in memory for the rows that transaction creates.

A request's `session_stats` row is written by up to four events (`started`, `request_recorded`,
`response_recorded`, `completed`), usually all in one batch. When the row did not exist before the transaction,
each write is applied here to a dict instead of by SQL, and the row is inserted once when the transaction ends
(`Batch.finish`): the rollup triggers then fire once per request instead of once per write, and three
statements per request are saved. A `RowWrite` is one write rule: its UPDATE and INSERT, and for each bound value
how the UPDATE assigns it. The merge follows SQLite's semantics: `COALESCE`, and the multi-argument `MAX`, which
is NULL when an argument is NULL. A value of another type than numbers, text and NULL (or text where `MAX`
compares) is not merged: `merge` says so, and the caller inserts the row and writes by SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULTS", "RowWrite", "merge", "new_row"]

Mode = Literal["set", "new_or_old", "old_or_new", "max", "max_or_zero", "insert_only"]
"""How an UPDATE assigns a bound value `v` to column `c`: `c = v`, `c = COALESCE(v, c)`, `c = COALESCE(c, v)`,
`c = MAX(COALESCE(c, 0), v)`, `c = MAX(COALESCE(c, 0), COALESCE(v, 0))`, or not at all (only the INSERT binds it)."""

DEFAULTS: dict[str, object] = {
    **dict.fromkeys(
        (
            "input_tokens",
            "output_tokens",
            "thinking_tokens",
            "reasoning_tokens",
            "cache_read_tokens",
            "cache_creation_tokens",
            "audio_input_tokens",
            "audio_output_tokens",
            "has_tools",
            "has_refusal",
        ),
        0,
    )
}
"""The `session_stats` columns with a default other than NULL (v5 schema and its migrations)."""

_SCALARS = (type(None), bool, int, float, str)


@dataclass(frozen=True, slots=True)
class RowWrite:
    """One write rule of a per-request row: `update` binds the values whose mode is not `insert_only`, then the
    session and request ids; `insert` binds the ids, then every value (into `columns`, after `constants`)."""

    update: str
    insert: str
    columns: tuple[str, ...]
    modes: tuple[Mode, ...]
    constants: tuple[tuple[str, object], ...] = ()

    def update_values(self, values: Sequence[object]) -> list[object]:
        return [v for v, mode in zip(values, self.modes, strict=True) if mode != "insert_only"]


def _max(current: object, value: object) -> tuple[bool, object]:
    if current is None or value is None:
        return True, None
    if isinstance(current, str) or isinstance(value, str):
        return False, None  # SQLite orders text after numbers; not a case the write rules have
    return True, value if value > current else current  # type: ignore[operator]


def merge(row: dict[str, object], write: RowWrite, values: Sequence[object]) -> bool:
    """Apply `write`'s UPDATE with `values` to `row` (the explicitly set columns of a row not inserted yet);
    False, with `row` unchanged, when a value cannot be merged here."""
    if not all(isinstance(v, _SCALARS) for v in values):
        return False
    changes: dict[str, object] = {}
    for column, mode, value in zip(write.columns, write.modes, values, strict=True):
        current = row.get(column, DEFAULTS.get(column))
        match mode:
            case "set":
                changes[column] = value
            case "new_or_old":
                changes[column] = current if value is None else value
            case "old_or_new":
                changes[column] = value if current is None else current
            case "max" | "max_or_zero":
                ok, changes[column] = _max(
                    0 if current is None else current, 0 if value is None and mode == "max_or_zero" else value
                )
                if not ok:
                    return False
    row.update(changes)
    return True


def new_row(write: RowWrite, values: Sequence[object]) -> dict[str, object] | None:
    """The row `write`'s INSERT with `values` creates (its explicitly set columns); None when a value cannot be
    merged later."""
    if not all(isinstance(v, _SCALARS) for v in values):
        return None
    return {**dict(write.constants), **dict(zip(write.columns, values, strict=True))}
