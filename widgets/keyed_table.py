"""Widgets room: KeyedTable, a DataTable whose rows are keyed (pod UID, check name) and synced in place:
only changed cells are rewritten, gone rows removed, new rows added — never a full rebuild."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import DataTable


class KeyedTable(DataTable):
    COLUMNS: tuple[str, ...] = ()

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._rows: dict[str, tuple[Text, ...]] = {}
        self.cell_updates = 0  # how many cells were rewritten (tests check the update is in place)

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        """Columns exist before the first row, whoever comes first: under load the screen's catch-up can
        run before this table's own mount handler."""
        if not self.columns:
            for column in self.COLUMNS:
                self.add_column(column, key=column)

    def sync(self, rows: Mapping[str, tuple[Text, ...]]) -> None:
        self._add_columns()
        with self.app.batch_update():
            for key in [k for k in self._rows if k not in rows]:
                self.remove_row(key)
                del self._rows[key]
            for key, cells in rows.items():
                old = self._rows.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                else:
                    for column, before, after in zip(self.COLUMNS, old, cells):
                        if before.plain != after.plain or before.style != after.style:
                            self.update_cell(key, column, after)
                            self.cell_updates += 1
                self._rows[key] = cells
