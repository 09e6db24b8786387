"""The HTTP side: the JSON API, the websocket and the web UI, on Starlette."""
