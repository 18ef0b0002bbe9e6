"""Every error Stratum raises on purpose.

    StratumError
     ├── ConfigError (also ValueError)    a setting is missing, malformed or out of range
     ├── DataFileError (also ValueError)  an input file (JSONL data set) cannot be used
     ├── EngineError                      an engine (llama-server) is missing or won't start
     ├── StackError                       the local stack cannot start, or is not running
     ├── TargetError                      a benchmark target is unreachable or refuses all
     └── HTTPError                        answers an HTTP request with an OpenAI-style error
          ├── BadRequest             400  the request body or a parameter is wrong
          ├── Unauthorized           401  missing or wrong API key
          ├── NotFound               404  unknown path or model
          ├── MethodNotAllowed       405
          ├── PayloadTooLarge        413  body over the configured limit
          └── UpstreamUnavailable    503  no tier could answer (the message says why)

Lower-layer errors (OSError, json, tomllib, yaml, aiohttp) are translated into these at the
boundary, so callers catch one tree and users read one clear line.
"""

from __future__ import annotations

from typing import Any


class StratumError(Exception):
    """Base class of every error Stratum raises on purpose."""


class ConfigError(StratumError, ValueError):
    """A configuration value is invalid; the message names the field and what is allowed."""


class DataFileError(StratumError, ValueError):
    """An input data file cannot be used; the message names the file and the line."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class EngineError(StratumError):
    """An engine is missing, or a server would not start or become healthy."""


class StackError(StratumError):
    """The local stack cannot start (port in use, already running) or is not running."""


class TargetError(StratumError):
    """A target cannot be benchmarked: it is unreachable, or it rejects every request."""


class HTTPError(StratumError):
    """An error answered to an HTTP client as ``{"error": {...}}`` with ``status``."""

    status = 500
    type = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The OpenAI-style error object."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class BadRequest(HTTPError):
    status = 400
    type = "invalid_request_error"


class Unauthorized(HTTPError):
    status = 401
    type = "invalid_request_error"


class NotFound(HTTPError):
    status = 404
    type = "invalid_request_error"


class MethodNotAllowed(HTTPError):
    status = 405
    type = "invalid_request_error"


class PayloadTooLarge(HTTPError):
    status = 413
    type = "invalid_request_error"


class UpstreamUnavailable(HTTPError):
    status = 503
    type = "upstream_unavailable"
