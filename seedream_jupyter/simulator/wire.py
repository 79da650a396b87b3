"""The simulator's side of the wire: JSON bodies and the provider's error envelope."""

from __future__ import annotations

import json
from typing import Any, Final

ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(status: int, code: str, message: str) -> bytes:
    """``{"error": {"message", "code", "type"}}`` as the provider sends it."""
    error_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "api_error")
    return dumps({"error": {"message": message, "code": code, "type": error_type}})


class ApiFailure(Exception):
    """An HTTP error answer: raised by the engine, rendered by the server."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> bytes:
        return error_body(self.status, self.code, self.message)
