"""``hearth-cli serve``: Hearth's models over an OpenAI-compatible HTTP API.

Listens on 127.0.0.1:8080 by default, requires a bearer token always (given with
``--token``, from ``$HEARTH_API_TOKEN``, or generated once, kept with 0600 permissions
and printed when it is made), and answers only requests addressed to the address it
listens on. ``--no-token`` is allowed on loopback only. Each request is one line on
stderr. Runs until interrupted (Ctrl+C).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from engine.cli.common import add_backend_option, add_load_options
from engine.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def add_parser(sub: Any) -> None:
    """The ``serve`` command."""
    serve = sub.add_parser("serve", help="serve models over an OpenAI-compatible HTTP API")
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: 127.0.0.1, this computer only; 0.0.0.0 opens "
        "it to the network, with the token required)",
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (default: 8080; 0: any free one)"
    )
    serve.add_argument("--model", help="model to load first (default: starter model)")
    serve.add_argument("--token", help="the bearer token to require (default: a kept one)")
    serve.add_argument(
        "--no-token", action="store_true", help="require no token (loopback addresses only)"
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="a browser origin allowed to call the API (repeatable; default: none)",
    )
    serve.add_argument(
        "--fixed-model",
        action="store_true",
        help="serve only the loaded model; a request naming another gets 404",
    )
    add_load_options(serve)
    add_backend_option(serve)


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli serve``; returns the exit status when it is stopped."""
    from engine.data.config import get_paths
    from engine.models.store import ModelStore
    from engine.runtime.client import EngineClient
    from engine.server.app import RequestRecord, ServerConfig, create_app, is_loopback
    from engine.server.serving import listen, uvicorn_server
    from engine.server.token import api_token, token_file

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be 0 to 65535.")
    paths = get_paths()
    if args.no_token:
        if not is_loopback(args.host):
            raise UsageError(
                f"--no-token is refused on {args.host}: an API open to the network needs a "
                "token. Leave --no-token out (a token is made and kept for you)."
            )
        token, made = "", False
    else:
        token, made = api_token(paths, args.token)
    sock = listen(args.host, args.port)
    port = sock.getsockname()[1]
    store = ModelStore.configured(paths)

    async def list_models() -> list[str]:
        models = await asyncio.to_thread(store.list)
        return [m.id for m in models]

    def on_request(r: RequestRecord) -> None:
        tokens = f" {r.prompt_tokens}+{r.completion_tokens} tokens" if r.completion_tokens else ""
        print(
            f"{r.method} {r.path} {r.status}{tokens} {r.seconds * 1000:.0f} ms",
            file=sys.stderr,
            flush=True,
        )

    config = ServerConfig(
        host=args.host,
        port=port,
        token=token,
        cors_origins=tuple(args.cors_origin),
        load_models=not args.fixed_model,
    )
    async with EngineClient() as client:
        info = await client.load(
            args.model,
            n_ctx=args.ctx,
            threads=args.threads,
            backend=args.backend,
        )
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        app = create_app(client, config, list_models=list_models, on_request=on_request)
        shown = f"[{args.host}]" if ":" in args.host else args.host
        print(f"Hearth API: http://{shown}:{port}/v1 (model {info.model_id})", flush=True)
        if made:
            print(f"API token (shown once; kept in {token_file(paths)}): {token}", flush=True)
        elif token:
            print("API token: the one given, or kept in " + str(token_file(paths)), flush=True)
        server = uvicorn_server(app, embedded=False)
        await server.serve(sockets=[sock])
    return 0


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "add_parser", "run"]
