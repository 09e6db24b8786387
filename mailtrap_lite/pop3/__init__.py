"""POP3 retrieval of captured mail: one maildrop per mailbox, the username naming the mailbox.

``machine`` is the conversation without sockets, ``wire`` the byte-level pieces (command lines in,
dot-stuffed messages out), ``maildrop`` the snapshot taken at login, ``server`` the asyncio listeners.
"""
