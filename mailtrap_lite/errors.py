"""The exceptions of mailtrap-lite.

    MailtrapError
    ├── ConfigError        bad configuration: the CLI prints it as one line and exits 2
    ├── StoreError         the database cannot be opened or written: exit 2 at start-up, SMTP 451 later
    │   └── StoreUnavailable  the store cannot write for now (disk full, writer restarting): SMTP 451,
    │                         HTTP 503; it clears by itself when the cause is gone
    ├── NotFound           an unknown message, part or session id: HTTP 404
    ├── RelayRefused       release to recipients the --relay-allow/--relay-deny lists refuse: HTTP 403
    └── BadRequest         bad HTTP input (limit, offset, body): HTTP 400
        └── QueryError     (mailtrap_lite.search) a malformed query: HTTP 400

Errors become HTTP responses in one place: ``mailtrap_lite.web.app``.
"""


class MailtrapError(Exception):
    pass


class ConfigError(MailtrapError):
    pass


class StoreError(MailtrapError):
    pass


class StoreUnavailable(StoreError):
    pass


class NotFound(MailtrapError):
    pass


class BadRequest(MailtrapError):
    pass


class RelayRefused(MailtrapError):
    def __init__(self, addresses: tuple[str, ...]) -> None:
        super().__init__(
            f"the relay lists (--relay-allow, --relay-deny) refuse {', '.join(addresses)}: nothing was sent"
        )
        self.addresses = addresses
