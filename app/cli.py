"""`python -m app <command>`: serve, worker, seed, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from app.settings import ConfigError, Settings, get_settings

SCHEMA_FILE = Path("schema.graphql")


def export_schema(settings: Settings) -> str:
    from app.schema.schema import build_schema

    return build_schema(settings).as_str() + "\n"


async def _seed(settings: Settings, tenant: str, customers: int) -> None:
    from app.models import TenantScope
    from app.runtime import start_services
    from app.seed import seed

    services = await start_services(settings)
    try:
        manifest = await seed(TenantScope(tenant), customers_per_product=customers)
        print(f"seeded tenant {tenant!r}: {manifest.counts}")
    finally:
        await services.close()


async def _rotate_credentials(settings: Settings) -> None:
    from app.resolvers.secret import rotate_all
    from app.runtime import start_services

    services = await start_services(settings)
    try:
        rotated, unreadable = await rotate_all(services.keyring)
        print(f"re-encrypted {rotated} credentials under key {services.keyring.current!r}")
        if unreadable:
            print(f"{unreadable} credentials use keys not in CREDENTIAL_KEYS; see the log")
    finally:
        await services.close()


def serve(settings: Settings, seed_demo: bool) -> None:
    import uvicorn

    from app.asgi import create_app, server_options

    app = create_app(settings, seed_demo=seed_demo, freeze_after_start=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        **server_options(settings),
    )


def worker(settings: Settings) -> None:
    from app.jobs.worker import build_worker
    from app.runtime import freeze_heap

    arq_worker = build_worker(settings)
    start_up = arq_worker.on_startup

    async def started(ctx: dict[str, Any]) -> None:
        if start_up is not None:
            await start_up(ctx)
        freeze_heap()

    arq_worker.on_startup = started
    arq_worker.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve the GraphQL API")
    serve_cmd.add_argument("--seed", action="store_true", help="load the demo dataset first")
    commands.add_parser("worker", help="run an arq worker (needs REDIS_URL)")
    seed_cmd = commands.add_parser("seed", help="write the synthetic demo dataset")
    seed_cmd.add_argument("--tenant", default=None, help="tenant id (default: DEMO_TENANT)")
    seed_cmd.add_argument("--customers", type=int, default=1000, help="customers per product")
    commands.add_parser(
        "rotate-credentials",
        help="re-encrypt tenant credentials under the first CREDENTIAL_KEYS key",
    )
    export = commands.add_parser("export-schema", help="print or write the GraphQL SDL")
    export.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = get_settings()
        if args.command == "serve":
            serve(settings, args.seed)
        elif args.command == "worker":
            worker(settings)
        elif args.command == "seed":
            asyncio.run(_seed(settings, args.tenant or settings.demo_tenant, args.customers))
        elif args.command == "rotate-credentials":
            asyncio.run(_rotate_credentials(settings))
        elif args.command == "export-schema":
            sdl = export_schema(settings)
            if args.output:
                args.output.write_text(sdl)
            else:
                sys.stdout.write(sdl)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    return 0
