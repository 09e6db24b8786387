"""Who is asking, and which mailboxes they may see: ``--ui-auth`` users and ``--mailbox-access``.

``BasicAuth`` (web/app.py) records the user it let in under ``USER_KEY`` in the ASGI scope. A user that
``--mailbox-access`` names sees only those mailboxes, in every list, search, wait, delete, bulk change,
session list, single-message route and websocket event; any other user sees everything.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import HTTPConnection

from mailtrap_lite.config import Config
from mailtrap_lite.errors import ConfigError, NotFound
from mailtrap_lite.model import MessageSummary, Session
from mailtrap_lite.search import Query, with_mailbox
from mailtrap_lite.smtp.credentials import read_users
from mailtrap_lite.web.context import context

USER_KEY = "mailtrap.user"


def ui_users(config: Config) -> dict[str, bytes] | None:
    """The ``--ui-auth`` users and their passwords (None: no auth). Raises ConfigError when the users file
    cannot be read or ``--mailbox-access`` names a user it does not hold."""
    if config.ui_auth is None:
        return None
    if isinstance(config.ui_auth, Path):
        users = read_users(config.ui_auth, "--ui-auth")
    else:
        users = {config.ui_auth[0]: config.ui_auth[1].encode()}
    unknown = sorted({entry.user for entry in config.mailbox_access} - set(users))
    if unknown:
        raise ConfigError(f"--mailbox-access: no --ui-auth user {', '.join(map(repr, unknown))}")
    return users


def allowed(connection: HTTPConnection) -> frozenset[str] | None:
    """The mailboxes this request's user may see; None when unrestricted."""
    user = connection.scope.get(USER_KEY)
    for entry in context(connection).config.mailbox_access:
        if entry.user == user:
            return frozenset(entry.mailboxes)
    return None


def scoped(connection: HTTPConnection, query: Query | None) -> Query | None:
    """``query`` confined to the mailboxes the user may see."""
    names = allowed(connection)
    return query if names is None else with_mailbox(query, ",".join(sorted(names)))


def only_visible(connection: HTTPConnection, summary: MessageSummary, asked: str) -> MessageSummary:
    """``summary`` when the user may see its mailbox; otherwise NotFound, as for a message that is not
    there (so a restricted user learns nothing of other mailboxes' ids)."""
    names = allowed(connection)
    if names is not None and summary.mailbox not in names:
        raise NotFound(f"no message {asked!r}")
    return summary


async def message_id(connection: HTTPConnection, asked: str) -> str:
    """The message a request for ``asked`` (an id, or ``latest``) reaches, among those the user may see;
    NotFound otherwise. Unrestricted users reach ``asked`` as it stands."""
    names = allowed(connection)
    if names is None:
        return asked
    service = context(connection).service
    if asked == "latest":
        page = await service.list_messages(scoped(connection, None), 1, 0)
        if not page.messages:
            raise NotFound("no messages stored")
        return page.messages[0].id
    return only_visible(connection, await service.summary(asked), asked).id


async def session_visible(connection: HTTPConnection, session: Session) -> Session:
    """``session`` when the user may see one of the messages it delivered; otherwise NotFound (a restricted
    user sees no session that delivered nothing)."""
    names = allowed(connection)
    if names is None:
        return session
    service = context(connection).service
    for delivered in session.message_ids:
        try:
            if (await service.summary(delivered)).mailbox in names:
                return session
        except NotFound:
            continue
    raise NotFound(f"no session {session.id!r}")


def session_mailboxes(connection: HTTPConnection, mailbox: str | None) -> frozenset[str] | None:
    """The mailboxes a session list is confined to: ``mailbox`` (the parameter), the user's, or both."""
    names = allowed(connection)
    if not mailbox:
        return names
    asked = frozenset({mailbox.strip().lower()})
    return asked if names is None else asked & names
