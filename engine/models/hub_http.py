"""Bounded HTTP to the hub: every answer is read with a byte cap and a deadline, redirects unread.

huggingface_hub's own calls (``HfApi.list_models``, ``model_info``, ``response.json()``)
read whole bodies into memory with no limit, and httpx reads a redirect's whole body
before following it; a hub, a mirror set by ``HF_ENDPOINT`` or anything in between that
sends an endless body would take all the memory. So Hearth makes the requests itself
with huggingface_hub's session and headers, streams the body, and stops at a byte cap
and at a deadline for the whole answer (a read timeout alone is defeated by a server
that trickles a byte at a time). Errors keep huggingface_hub's types
(``hf_raise_for_status`` on a bounded copy of the error answer), so callers map them to
messages as before. Functions block: call them off the GUI thread.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from engine.errors import DownloadError

#: Seconds to wait for a connection; short so that no network fails fast.
CONNECT_TIMEOUT = 5.0
#: Seconds of silence before a hub read gives up (the hub answers API calls in well
#: under a second; a large repository's listing can take a few).
READ_TIMEOUT = 10.0
#: Seconds for one whole hub answer, body included (a search, a file listing with all its
#: pages, a remote header). Checked between reads, so the last read may run up to
#: READ_TIMEOUT past it: 15 + 10 keeps every hub command's answer inside the 30 s a user
#: is asked to wait at most.
ANSWER_DEADLINE_S = 15.0
#: Redirects followed for one request: the hub sends a file from its resolve address to a
#: CDN in one or two; more is a loop.
MAX_REDIRECTS = 5
#: Bytes of an error answer read for its message: the hub's error bodies are one line of JSON.
ERROR_BODY_BYTES = 64 * 1024


def host_of(url: str) -> str:
    """The ``host:port`` of an address, for messages."""
    return urlsplit(url).netloc or url


def http_timeout(read: float = READ_TIMEOUT) -> Any:
    """An httpx timeout with the short connect timeout and the given read timeout."""
    import httpx2

    return httpx2.Timeout(read, connect=CONNECT_TIMEOUT)


def too_slow(what: str, url: str, seconds: float = ANSWER_DEADLINE_S) -> DownloadError:
    """The error for an answer that did not finish before its deadline."""
    return DownloadError(
        f"Could not {what}: {host_of(url)} did not finish answering within {seconds:.0f} s. "
        "Check the connection, or try again later."
    )


@contextlib.contextmanager
def open_answer(
    url: str,
    *,
    what: str,
    deadline: float,
    headers: dict[str, str],
    params: dict[str, Any] | None = None,
    read_timeout: float = READ_TIMEOUT,
) -> Iterator[Any]:
    """GET ``url`` and yield the ``httpx2.Response`` with its body not yet read.

    Redirects are followed here with their bodies left unread, and an error status
    raises huggingface_hub's error built from at most :data:`ERROR_BODY_BYTES` of its body.
    The response is closed on exit, unread bytes included (the connection is dropped).

    Args:
        url: the address.
        what: what is being done, for messages ("search the hub").
        deadline: ``time.monotonic()`` by which the answer must be complete.
        headers: request headers (``build_hf_headers()`` and any Range).
        params: query parameters.
        read_timeout: seconds of silence allowed; never more than what is left.

    Raises:
        DownloadError: the deadline passed, or too many redirects.
        huggingface_hub.errors.HfHubHTTPError: an error status.
        httpx2.HTTPError: the connection failed.
    """
    from huggingface_hub.utils import get_session

    session = get_session()
    left = max(0.5, deadline - time.monotonic())
    request = session.build_request(
        "GET", url, params=params, headers=headers, timeout=http_timeout(min(read_timeout, left))
    )
    response = session.send(request, stream=True, follow_redirects=False)
    try:
        for _ in range(MAX_REDIRECTS):
            if response.next_request is None:
                break
            # Its body is never read: a redirect's body can be as endless as any other.
            response.close()
            response = session.send(response.next_request, stream=True, follow_redirects=False)
        if 300 <= response.status_code < 400:
            raise DownloadError(
                f"Could not {what}: {host_of(url)} redirected too many times, or to an "
                "address Hearth cannot follow. Check HF_ENDPOINT, or try again later."
            )
        if response.status_code >= 400:
            _raise_for_status(response, deadline)
        if time.monotonic() > deadline:
            raise too_slow(what, url)
        yield response
    finally:
        response.close()


def _raise_for_status(response: Any, deadline: float) -> None:
    """Raise huggingface_hub's typed error for an error answer, reading a bounded part of it."""
    import httpx2
    from huggingface_hub.utils import hf_raise_for_status

    body = bytearray()
    with contextlib.suppress(httpx2.HTTPError):
        for chunk in response.iter_raw():
            body += chunk
            if len(body) >= ERROR_BODY_BYTES or time.monotonic() > deadline:
                break
    # A copy holding only the bytes read, so that hf_raise_for_status (which reads the
    # whole body for the server's message) cannot read on; raw bytes, hence no encoding.
    skip = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in skip]
    copy = httpx2.Response(
        response.status_code,
        headers=headers,
        content=bytes(body[:ERROR_BODY_BYTES]),
        request=response.request,
    )
    hf_raise_for_status(copy)


def read_at_most(response: Any, limit: int, *, what: str, deadline: float) -> tuple[bytes, bool]:
    """Read a streamed body up to ``limit`` bytes, whatever the server sends after them.

    Returns:
        The bytes (at most ``limit``) and whether the body went on past them.

    Raises:
        DownloadError: the deadline passed first.
    """
    data = bytearray()
    # Raw bytes, as sent: a compressed body decoded here could grow a thousandfold per read.
    for chunk in response.iter_raw():
        data += chunk
        if len(data) > limit:
            return bytes(data[:limit]), True
        if time.monotonic() > deadline:
            raise too_slow(what, str(response.request.url))
    return bytes(data), False


def get_json(
    url: str,
    *,
    what: str,
    limit: int,
    deadline: float,
    params: dict[str, Any] | None = None,
) -> tuple[Any, str | None]:
    """GET a JSON answer of at most ``limit`` bytes.

    Returns:
        The parsed value, and the next page's address from a ``Link: rel="next"`` header.

    Raises:
        DownloadError: the answer is larger than ``limit``, slower than the deadline, or
            not JSON; huggingface_hub and httpx errors as :func:`open_answer`.
    """
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers()
    # The body is read raw (see read_at_most), so it must come uncompressed.
    headers["Accept-Encoding"] = "identity"
    too_large = DownloadError(
        f"Could not {what}: the answer from {host_of(url)} is larger than "
        f"{limit // (1024 * 1024)} MB, more than Hearth reads for it. "
        "Check HF_ENDPOINT, or try again later."
    )
    with open_answer(url, what=what, deadline=deadline, headers=headers, params=params) as response:
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > limit:
            raise too_large
        body, more = read_at_most(response, limit, what=what, deadline=deadline)
        if more:
            raise too_large
        next_page = response.links.get("next", {}).get("url")
    try:
        return json.loads(body), next_page
    except (ValueError, RecursionError) as exc:  # RecursionError: [[[[... nested too deep
        raise DownloadError(
            f"Could not {what}: the answer from {host_of(url)} is not the JSON the hub sends. "
            "Check HF_ENDPOINT, or try again later."
        ) from exc
