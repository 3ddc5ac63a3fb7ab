"""The API server panel: the switch, the port, the address and the token to copy, and the
log of the requests answered.

Thread: the Qt thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets import BackgroundTasks, MessageBar, read_only_table
from engine.data.config import MAX_PORT

if TYPE_CHECKING:
    from desktop.window.api_server import ApiServerHost, LoggedRequest

#: The request log's columns.
TIME, METHOD, PATH, STATUS, TOKENS, DURATION = range(6)


class ApiServerDialog(QDialog):
    """The API server panel (non-modal): everything here acts at once, on ``host``.

    Args:
        host: the window's API server.
        parent: the main window.
    """

    def __init__(self, host: ApiServerHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("apiServerDialog")
        self._host = host
        self._tasks = BackgroundTasks()

        self.switch = QCheckBox(self)
        self.switch.toggled.connect(self._on_switch_toggled)
        self.port_label = QLabel(self)
        self.port_spin = QSpinBox(self)
        self.port_spin.setRange(1, MAX_PORT)
        self.port_spin.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self.port_label.setBuddy(self.port_spin)
        self.error_bar = MessageBar(self)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.address_label = QLabel(self)
        self.address_edit = QLineEdit(self)
        self.address_edit.setReadOnly(True)
        self.address_label.setBuddy(self.address_edit)
        self.copy_address_button = QPushButton(self)
        self.copy_address_button.setAutoDefault(False)
        self.copy_address_button.clicked.connect(self._on_copy_address_button_clicked)
        address_row = QHBoxLayout()
        address_row.addWidget(self.address_edit, 1)
        address_row.addWidget(self.copy_address_button)

        self.token_label = QLabel(self)
        self.token_edit = QLineEdit(self)
        self.token_edit.setReadOnly(True)
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_label.setBuddy(self.token_edit)
        self.show_token_button = QPushButton(self)
        self.show_token_button.setAutoDefault(False)
        self.show_token_button.setCheckable(True)
        self.show_token_button.toggled.connect(self._on_show_token_button_toggled)
        self.copy_token_button = QPushButton(self)
        self.copy_token_button.setAutoDefault(False)
        self.copy_token_button.clicked.connect(self._on_copy_token_button_clicked)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_edit, 1)
        token_row.addWidget(self.show_token_button)
        token_row.addWidget(self.copy_token_button)

        port_row = QHBoxLayout()
        port_row.addWidget(self.port_spin)
        port_row.addStretch(1)
        form = QFormLayout()
        form.addRow(self.port_label, port_row)
        form.addRow(self.address_label, address_row)
        form.addRow(self.token_label, token_row)

        self.log_label = QLabel(self)
        self.log_table = read_only_table(6, self)
        self.log_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.log_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(PATH, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.log_label.setBuddy(self.log_table)
        self.clear_button = QPushButton(self)
        self.clear_button.setAutoDefault(False)
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.addButton(self.clear_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.switch)
        layout.addWidget(self.error_bar)
        layout.addWidget(self.status_label)
        layout.addLayout(form)
        layout.addWidget(self.log_label)
        layout.addWidget(self.log_table, 1)
        layout.addWidget(self.buttons)
        em = self.fontMetrics().horizontalAdvance("M")
        self.resize(em * 60, em * 40)
        self.switch.setFocus()

        host.state_changed.connect(self._on_host_state_changed)
        host.activity_changed.connect(self._on_host_activity_changed)
        host.request_logged.connect(self._on_host_request_logged)
        self.port_spin.setValue(host.port or 8080)
        for entry in host.log:
            self._add_row(entry)
        self.retranslate_ui()
        self._show_state()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setWindowTitle(self.tr("API server"))
        self.switch.setText(self.tr("Serve the OpenAI-compatible API"))
        self.switch.setAccessibleName(self.tr("Serve the API"))
        self.port_label.setText(self.tr("&Port:"))
        self.port_spin.setToolTip(self.tr("Turn the server off to change its port."))
        self.address_label.setText(self.tr("&Address:"))
        self.address_edit.setPlaceholderText(self.tr("Off"))
        self.copy_address_button.setText(self.tr("Copy"))
        self.copy_address_button.setAccessibleName(self.tr("Copy the address"))
        self.token_label.setText(self.tr("&Token:"))
        self.token_edit.setPlaceholderText(self.tr("Made when the server first starts"))
        self.token_edit.setToolTip(
            self.tr("Clients send it as their API key. It is kept in Hearth's config folder.")
        )
        self.copy_token_button.setText(self.tr("Copy"))
        self.copy_token_button.setAccessibleName(self.tr("Copy the token"))
        self.show_token_button.setAccessibleName(self.tr("Show the token"))
        self.show_token_button.setText(
            self.tr("Hide") if self.show_token_button.isChecked() else self.tr("Show")
        )
        self.log_label.setText(self.tr("&Requests:"))
        self.log_table.setHorizontalHeaderLabels(
            [
                self.tr("Time"),
                self.tr("Method"),
                self.tr("Path"),
                self.tr("Status"),
                self.tr("Tokens"),
                self.tr("Duration"),
            ]
        )
        self.log_table.setAccessibleName(self.tr("Request log"))
        tokens_header = self.log_table.horizontalHeaderItem(TOKENS)
        if tokens_header is not None:
            tokens_header.setToolTip(self.tr("Prompt tokens + generated tokens"))
        self.clear_button.setText(self.tr("C&lear log"))
        self._show_state()

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether the server is being switched on or off from here."""
        return len(self._tasks) > 0

    # -- state -------------------------------------------------------------------------

    def _show_state(self) -> None:
        host = self._host
        running = host.running
        switching = host.starting or host.stopping
        self.switch.blockSignals(True)
        self.switch.setChecked(host.starting if switching else running)
        self.switch.blockSignals(False)
        self.switch.setEnabled(not switching)
        self.port_spin.setEnabled(not running and not switching)
        self.address_edit.setText(host.base_url)
        self.copy_address_button.setEnabled(running)
        self.token_edit.setText(host.token)
        self.copy_token_button.setEnabled(bool(host.token))
        self.show_token_button.setEnabled(bool(host.token))
        error = host.error
        if switching:
            text = self.tr("Starting…") if host.starting else self.tr("Stopping…")
        elif not running:
            text = self.tr(
                "Other programs on this computer can use Hearth's model through an "
                "OpenAI-compatible API. Turn it on to serve it on 127.0.0.1 only."
            )
        elif host.active:
            text = self.tr(
                "Answering requests: {count}. The chat and the other panes wait their turn."
            ).format(count=host.active)
        else:
            text = self.tr(
                "Serving the model loaded in the window, to this computer only. Give clients "
                "the address as their OpenAI base URL and the token as their API key."
            )
        self.status_label.setText(text)
        if error and not switching:
            self.error_bar.show_message(error)
        else:
            self.error_bar.hide()

    def _on_host_state_changed(self) -> None:
        self._show_state()

    def _on_host_activity_changed(self, _active: int) -> None:
        self._show_state()

    def _on_switch_toggled(self, on: bool) -> None:
        self._tasks.start(self._switch(on), name="api-switch")

    async def _switch(self, on: bool) -> None:
        await self._host.switch(on, self.port_spin.value())

    # -- the log -----------------------------------------------------------------------

    def _on_host_request_logged(self, entry: LoggedRequest) -> None:
        bar = self.log_table.verticalScrollBar()
        at_end = bar.value() >= bar.maximum()
        self._add_row(entry)
        if at_end:
            self.log_table.scrollToBottom()

    def _add_row(self, entry: LoggedRequest) -> None:
        table = self.log_table
        if table.rowCount() >= (self._host.log.maxlen or 0) > 0:
            table.removeRow(0)
        r = entry.record
        tokens = (
            self.tr("{prompt} + {completion}").format(
                prompt=r.prompt_tokens, completion=r.completion_tokens
            )
            if r.prompt_tokens or r.completion_tokens
            else ""
        )
        if r.seconds < 1:
            duration = self.tr("{ms} ms").format(ms=round(r.seconds * 1000))
        else:
            duration = self.tr("{s:.1f} s").format(s=r.seconds)
        texts = {
            TIME: entry.received.strftime("%H:%M:%S"),
            METHOD: r.method,
            PATH: r.path,
            STATUS: str(r.status) if r.status else "—",
            TOKENS: tokens,
            DURATION: duration,
        }
        row = table.rowCount()
        table.insertRow(row)
        for column, text in texts.items():
            item = QTableWidgetItem(text)
            if column in (STATUS, TOKENS, DURATION):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, column, item)

    def _on_clear_button_clicked(self) -> None:
        self._host.log.clear()
        self.log_table.setRowCount(0)

    # -- copying -----------------------------------------------------------------------

    def _copy(self, text: str) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None and text:
            clipboard.setText(text)

    def _on_copy_address_button_clicked(self) -> None:
        self._copy(self._host.base_url)

    def _on_copy_token_button_clicked(self) -> None:
        self._copy(self._host.token)

    def _on_show_token_button_toggled(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.token_edit.setEchoMode(mode)
        self.retranslate_ui()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Hide the token again when the panel closes."""
        self.show_token_button.setChecked(False)
        super().closeEvent(event)


__all__ = ["ApiServerDialog"]
