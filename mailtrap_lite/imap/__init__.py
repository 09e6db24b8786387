"""IMAP4rev1 (RFC 3501) access to captured mail: the login names a mailbox, shown to the client as INBOX."""
