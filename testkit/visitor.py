"""A visitor of the deposit page without a browser: its own cookies, the form's CSRF token read as a
browser reads it, the multipart body a browser sends. The web tests and the load benches both use it."""

from __future__ import annotations

import os
import re
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(fields: dict[str, str], file: tuple[str, str, bytes] | None) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends it: the fields in order, then the file
    (field name, file name, content). Returns the body and its Content-Type."""
    boundary = "----csac" + os.urandom(8).hex()
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    if file:
        name, filename, data = file
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Visitor:
    """A client without a browser, with cookies of its own: it reads the form's token as a browser would."""

    def __init__(self, url: str):
        import http.cookiejar
        import urllib.request

        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def open(self, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, str, str]:
        """(status, page, final address) of a GET, or of a POST when `body` is given; redirects followed."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.url + path, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode(), response.geturl()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), exc.geturl()

    def token(self) -> str:

        page = self.open("/depot")[1]
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def post(self, path: str, fields: dict[str, str], token: bool = True) -> tuple[int, str, str]:
        """A small form (urlencoded) posted with this session's token (one per session, whatever the
        page), unless told otherwise: what a desk's button sends."""
        from urllib.parse import urlencode

        sent = ({"csrf_token": self.token()} if token else {}) | fields
        return self.open(
            path, urlencode(sent).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def deposit(
        self, fields: dict[str, str], data: bytes | None, filename: str = "depot.zip", token: bool = True
    ):
        """The form posted as the page posts it (with this visitor's token unless told otherwise)."""
        sent = ({"csrf_token": self.token()} if token else {}) | fields
        body, kind = multipart(sent, ("fichier", filename, data) if data is not None else None)
        return self.open("/depot", body, {"Content-Type": kind})
