"""Relay and release: forward captured mail to a real mail server, as an MTA would, and record the
outbound SMTP conversation.

``policy`` decides who may receive relayed mail, ``mx`` finds the next hop, ``client`` talks to it,
``queue`` retries what failed for now, and ``relayer`` ties them to the store and the event hub.
"""
