"""The one small tree of errors the service raises; only soc.main maps them to HTTP."""


class SocError(Exception):
    """Base of every error the service raises on purpose."""


class ConfigError(SocError):
    """A configuration file or value is wrong; the message names the place."""


class NodeError(SocError):
    """The local OpenSearch node could not be fetched, started, or reached."""


class BootstrapError(SocError):
    """OpenSearch holds something that conflicts with what the service needs."""


class NotFound(SocError):
    """The named object does not exist (or is outside the caller's scope)."""


class Invalid(SocError):
    """A request is well-formed but not acceptable; the message says why."""


class Forbidden(SocError):
    """The caller's role or agency scope does not allow this."""


class Conflict(SocError):
    """The object changed or already exists."""


class BadQuery(Invalid):
    """A search query that cannot be parsed or would cost too much; ``position`` is where (0-based), if known."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        super().__init__(f"position {position}: {reason}" if position is not None else reason)
        self.reason = reason
        self.position = position


class TooMany(SocError):
    """A costly request came too often from one caller; ``retry_after`` says in how many seconds to retry."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
