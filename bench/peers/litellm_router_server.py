"""LiteLLM's Router library behind a minimal HTTP endpoint, so the same load generator
can drive it. Runs in the LiteLLM virtualenv (bench/.peers/litellm), not the project's:

    bench/.peers/litellm/bin/python bench/peers/litellm_router_server.py \
        --port 0 --port-file F --simulator-v1 http://127.0.0.1:8090/v1

POST /v1/chat/completions {"model": "primary", "messages": [...]} calls
`Router.acompletion` with the two simulated models and a fallback primary -> backup,
the same configuration the LiteLLM proxy gets. The wrapper is aiohttp on uvloop, as
thin as an HTTP server in Python gets, so what is measured is mostly the library.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from aiohttp import web
from litellm import Router


def make_router(simulator_v1: str) -> Router:
    def deployment(name: str, upstream: str) -> dict[str, object]:
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{upstream}",
                "api_base": simulator_v1,
                "api_key": "sk-bench",
            },
        }

    return Router(
        model_list=[deployment("primary", "instant"), deployment("backup", "backup")],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )


async def serve(port: int, port_file: str, simulator_v1: str) -> None:
    router = make_router(simulator_v1)

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            response = await router.acompletion(
                model=body.get("model", "primary"),
                messages=body["messages"],
                max_tokens=body.get("max_tokens"),
            )
        except Exception as exc:  # an upstream failure the fallback could not cover
            return web.json_response({"error": {"message": str(exc)[:500]}}, status=502)
        return web.json_response(response.model_dump())

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    if port_file:
        tmp = Path(port_file + ".tmp")
        tmp.write_text(str(bound))
        os.replace(tmp, port_file)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", default="")
    parser.add_argument("--simulator-v1", required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.port_file, args.simulator_v1))
    except ImportError:
        asyncio.run(serve(args.port, args.port_file, args.simulator_v1))


if __name__ == "__main__":
    main()
