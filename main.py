"""uyquyen: digital authorizations for Hanoi's online public service agents.

`python main.py --help` lists the commands. `create_app` builds the HTTP service; `bootstrap`
prepares the data dir and database (migrations, keys, development secrets) once, before any
server process starts.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel import Session, select

from core import openapi
from core.clock import utcnow
from core.db import make_autocommit_engine, make_engine, read_engine, upgrade_schema
from core.errors import NotFound, install_error_handlers
from core.files import read_or_create_secret
from core.http import (
    BodySizeLimit,
    CatchUnexpected,
    RejectControlCharacters,
    TrustedProxies,
    UploadsPerSender,
)
from core.metrics import Metrics, RequestMetrics
from core.settings import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from signing.configured import ConfiguredKeys
    from signing.keyring import Keyring
    from signing.service import SigningService

log = logging.getLogger("uyquyen")


# -- secrets that development keeps in the data dir --------------------------------------------
def key_passphrase(settings: Settings) -> bytes:
    if settings.key_passphrase is not None:
        return settings.key_passphrase.get_secret_value().encode()
    if not settings.is_development:
        raise ConfigurationError("UYQUYEN_KEY_PASSPHRASE is required in production")
    return read_or_create_secret(settings.data_dir / "secrets" / "key-passphrase").encode()


def derived_key(passphrase: bytes, purpose: bytes) -> bytes:
    """A key of its own for each purpose, from the one passphrase the service is given."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, None, purpose).derive(passphrase)


def admin_token(settings: Settings) -> str:
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    if not settings.is_development:
        raise ConfigurationError("UYQUYEN_ADMIN_TOKEN is required in production")
    return read_or_create_secret(settings.data_dir / "secrets" / "admin-token")


def bootstrap(settings: Settings) -> None:
    """Create what the service needs on first start; a no-op when it is all there."""
    from agents.models import Agency
    from identity.dev_provider import DevVneidProvider
    from signing.keyring import ensure_current_key
    from signing.pki import DevPki

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade_schema(engine)
        with Session(engine) as session:
            ensure_current_key(session, key_passphrase(settings), utcnow())
            session.commit()
        if settings.is_development:
            # The development PKI: root, agency CA, TSA, and a certificate per known agency.
            pki = DevPki(engine, key_passphrase(settings), settings.public_url)
            with Session(engine) as session:
                pki.ensure_authorities(session, utcnow())
                session.commit()
                for agency in session.exec(select(Agency)).all():
                    if agency.code not in settings.pkcs11_keys:  # HSM keys: certified on first use
                        pki.ensure_identity(session, agency.code, agency.name, utcnow())
                session.commit()
    finally:
        engine.dispose()
    admin_token(settings)
    if settings.is_development:
        DevVneidProvider(
            settings.data_dir, settings.effective_vneid_issuer, settings.vneid_client_id
        )


# -- the application ---------------------------------------------------------------------------
def create_app(settings: Settings | None = None) -> FastAPI:
    from cryptography.fernet import Fernet

    from agents.requests import RequestConfig
    from agents.router import router as agents_router
    from agents.service import CatalogueDirectory, StaffRoster
    from agents.submissions import IssuedResults
    from audit.router import router as audit_router
    from audit.service import AuditLog, BackgroundSequencer
    from core.concurrency import install_executor
    from delegation.router import router as delegation_router
    from delegation.service import DelegationConfig, StatusListPublisher
    from identity import dev_provider
    from identity.browser import BrowserLogins
    from identity.callers import Callers
    from identity.router import browser as browser_router
    from identity.router import router as identity_router
    from identity.service import AccessTokens
    from identity.throttle import LoginThrottle
    from identity.vneid import IdTokenVerifier, IssuerKeys
    from signing.keyring import Keyring
    from signing.router import pki_router, signatures_router
    from signing.router import router as signing_router
    from signing.sandbox import SANDBOX
    from web.agency import router as agency_router
    from web.counter import router as counter_router
    from web.pages import BROWSER_PATHS, SecurityHeaders, error_page
    from web.pages import HERE as WEB_HERE
    from web.router import router as web_router
    from web.verify import router as verify_router

    WEB_STATIC = WEB_HERE / "static"

    settings = settings or load_settings()
    # Keys from configuration are read first: a bad file stops start-up with a clear message.
    configured = configured_keys(settings)
    engine = make_engine(
        settings.effective_database_url, settings.db_pool_size, settings.db_max_overflow
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        executor = install_executor(settings.db_pool_size + settings.db_max_overflow)
        # Everything built at start-up (modules, models, compiled schemas) lives as long as the
        # process: frozen, the collector stops re-walking it. Measured under load: a full
        # collection paused a worker for 116 ms (the p99 of every request in flight) before.
        gc.collect()
        gc.freeze()
        sequencer = BackgroundSequencer(app.state.audit, settings.audit_interval_s)
        sequencer.start()
        SANDBOX.prewarm()
        yield
        sequencer.stop()
        executor.shutdown(wait=True)
        if autocommit_engine is not engine:
            autocommit_engine.dispose()

    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served by this service (no CDN).
    app = FastAPIOffline(
        lifespan=lifespan,
        # We export no OpenTelemetry; left on, FastAPI asks the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        title="uyquyen",
        version="1",
        summary="Digital authorizations for Hanoi's online public service agents",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.autocommit_engine = autocommit_engine = make_autocommit_engine(
        engine, settings.db_pool_size, settings.db_max_overflow
    )
    app.state.read_engine = read_engine(engine, autocommit_engine)
    app.state.keyring = keyring = Keyring(
        engine, key_passphrase(settings), refresh_s=settings.keyring_refresh_s
    )
    app.state.access_tokens = AccessTokens(
        keyring, settings.public_url, settings.access_token_ttl_s, settings.clock_skew_s
    )
    app.state.id_token_verifier = IdTokenVerifier(
        IssuerKeys(
            settings.effective_vneid_issuer,
            refetch_interval_s=settings.jwks_refetch_interval_s,
            refetch_burst=settings.jwks_refetch_burst,
            max_age_s=settings.jwks_max_age_s,
        ),
        client_id=settings.vneid_client_id,
        clock_skew_s=settings.clock_skew_s,
    )
    app.state.login_throttle = LoginThrottle(
        window_s=settings.login_window_s,
        per_client=settings.login_failures_per_client,
        per_address=settings.login_failures_per_address,
        admin_per_address=settings.admin_failures_per_address,
    )
    app.state.browser_logins = BrowserLogins(
        engine,
        app.state.id_token_verifier,
        app.state.id_token_verifier.keys,
        secret=derived_key(key_passphrase(settings), b"uyquyen browser logins"),
        public_url=settings.public_url,
        client_id=settings.vneid_client_id,
        client_secret=(
            settings.vneid_client_secret.get_secret_value()
            if settings.vneid_client_secret
            else None
        ),
        idle_s=settings.session_idle_s,
        max_s=settings.session_max_s,
    )
    app.state.callers = Callers(
        app.state.access_tokens, app.state.login_throttle, app.state.browser_logins, app.state
    )
    app.state.admin_token_sha256 = hashlib.sha256(admin_token(settings).encode()).digest()
    app.state.delegation_config = config = DelegationConfig(
        issuer=settings.public_url,
        max_days=settings.max_delegation_days,
        clock_skew_s=settings.clock_skew_s,
    )
    app.state.status_lists = StatusListPublisher(keyring, config)
    app.state.directory = CatalogueDirectory()
    app.state.staff_directory = StaffRoster()
    app.state.requests = RequestConfig(
        ttl=timedelta(seconds=settings.request_ttl_s),
        max_open=settings.max_open_requests,
        public_url=settings.public_url,
        sealer=Fernet(
            base64.urlsafe_b64encode(
                derived_key(key_passphrase(settings), b"uyquyen request codes")
            )
        ),
        lookups=LoginThrottle(
            window_s=60,
            lookup=settings.request_lookups_per_minute,
            lookup_address=settings.request_lookups_per_address_per_minute,
        ),
        creations=LoginThrottle(
            window_s=3600,
            request_counter=settings.requests_per_counter_per_hour,
            request_citizen=settings.requests_per_citizen_per_hour,
        ),
    )
    app.state.audit = AuditLog(engine, keyring, settings.public_url)
    app.state.signing = signing_service(settings, engine, keyring, configured)
    app.state.signing.results = IssuedResults(app.state.read_engine)

    install_error_handlers(app)
    openapi.install(
        app,
        page_paths=(*BROWSER_PATHS, "/dev/vneid/authorize"),
        oauth_paths=("/oauth/token", "/dev/vneid/token"),
    )
    # JSON bodies: a 1 MiB dossier plus its token and envelope fits in 2 MiB. PDF uploads get
    # their own cap plus room for the multipart envelope; the handler checks the file itself.
    upload_cap = settings.max_upload_bytes + 64 * 1024
    app.add_middleware(RejectControlCharacters)
    app.add_middleware(
        UploadsPerSender,
        prefixes=("/v1/signatures/", "/v1/submissions/", "/agency/submissions/", "/verify/"),
        limit=settings.pdf_per_sender,
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=2 * 1024 * 1024,
        per_path={
            "/v1/signatures/": upload_cap,
            "/v1/submissions/": upload_cap,
            "/agency/submissions/": upload_cap,
            "/verify/": upload_cap,
        },
    )
    app.state.metrics = metrics = Metrics()
    _process_gauges(metrics, app)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrustedProxies, trusted=settings.trusted_proxies.split(","))
    app.add_middleware(CatchUnexpected)  # added last: the outermost of ours

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> dict[str, str]:
        """Readiness: the database answers (503 problem when it does not)."""
        with app.state.read_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ready"}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics of this process: with `UYQUYEN_METRICS_TOKEN` set, for that bearer
        token; without, for loopback callers only (a scraper on the same host)."""
        expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        given = request.headers.get("authorization", "")
        if expected is not None:
            if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
                raise NotFound("no such resource: /metrics")
        elif request.client is None or request.client.host not in ("127.0.0.1", "::1"):
            raise NotFound("no such resource: /metrics")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Busiest first: FastAPI tries the routes in order, about 2 us each on every request, so
    # the token endpoint, submissions and verification should not wait behind the admin API.
    app.include_router(identity_router)
    app.include_router(browser_router)
    app.include_router(delegation_router)
    app.include_router(agents_router)
    app.include_router(signatures_router)
    app.include_router(signing_router)
    app.include_router(audit_router)
    if settings.is_development:
        # Never mounted in production: there the routes do not exist (404).
        app.state.dev_vneid = dev_provider.DevVneidProvider(
            settings.data_dir, settings.effective_vneid_issuer, settings.vneid_client_id
        )
        app.include_router(dev_provider.router)
    if app.state.signing.pki is not None:
        app.include_router(pki_router)  # the development PKI's CRLs, OCSP responder and TSA
    # The pages last: their paths (/, /app) are the least busy.
    app.include_router(web_router)
    app.include_router(counter_router)
    app.include_router(agency_router)
    app.include_router(verify_router)
    app.state.error_page = error_page
    app.mount("/static", StaticFiles(directory=WEB_STATIC), name="static")

    return app


def _process_gauges(metrics: Metrics, app: FastAPI) -> None:
    from core.clock import utcnow
    from signing.sandbox import SANDBOX

    def pools() -> list[tuple[dict, float]]:
        samples = []
        for name, engine in (("write", app.state.engine), ("read", app.state.autocommit_engine)):
            pool = engine.pool
            checked_out = getattr(pool, "checkedout", lambda: 0)()
            size = getattr(pool, "size", lambda: 0)()
            samples += [({"pool": name, "state": "in_use"}, float(checked_out))]
            samples += [({"pool": name, "state": "size"}, float(size))]
        return samples

    def backlog() -> list[tuple[dict, float]]:
        count, age = app.state.audit.backlog(utcnow())
        return [({"measure": "events"}, float(count)), ({"measure": "oldest_age_s"}, age)]

    metrics.gauge("uyquyen_db_pool_connections", "Database pool connections", pools)
    metrics.gauge(
        "uyquyen_audit_unsequenced", "Audit events not yet in the signed tree (lag)", backlog
    )
    metrics.gauge(
        "uyquyen_document_workers",
        "PDF sandbox workers of this process",
        lambda: [
            ({"state": "busy"}, float(SANDBOX.busy)),
            ({"state": "killed_total"}, float(SANDBOX.killed)),
        ],
    )


# -- command line ------------------------------------------------------------------------------
def database_label(settings: Settings) -> str:
    """Which database a command works on, said plainly (never the password): a terminal
    without UYQUYEN_DATABASE_URL works on the SQLite file, and must say so."""
    url = sa.make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    return f"PostgreSQL {url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def _say_database(settings: Settings) -> None:
    print(f"database: {database_label(settings)}", file=sys.stderr, flush=True)


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if "UYQUYEN_PUBLIC_URL" not in os.environ:
        # Development convenience: the dev issuer and `iss` follow the address we listen on.
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        os.environ["UYQUYEN_PUBLIC_URL"] = f"http://{host}:{args.port}"
    settings = load_settings()
    bootstrap(settings)
    print(
        f"uyquyen {settings.env} on {settings.public_url} ({database_label(settings)}, "
        f"{args.workers} worker{'s' if args.workers > 1 else ''})",
        flush=True,
    )
    if settings.is_development:
        print(f"Development admin token: {admin_token(settings)}", flush=True)
        print(f"Development VNeID issuer: {settings.effective_vneid_issuer}", flush=True)
    uvicorn.run(
        "main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=False,  # core.http.TrustedProxies reads X-Forwarded-For, validated
        server_header=False,
        # httptools with header limits and timeouts on slow headers and bodies (core.server)
        http="core.server:GuardedHttpToolsProtocol",
    )
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    _say_database(settings)
    bootstrap(settings)
    print("database is at the latest schema; service keys are in place")
    return 0


def configured_keys(settings: Settings) -> ConfiguredKeys | None:
    """Keys from configuration (production, or PKCS#12 files / trust anchors given in
    development), read first so that a bad file stops start-up with a clear message; None means
    the development PKI."""
    from signing.configured import ConfiguredKeys

    if not settings.is_development or settings.pkcs12_keys or settings.trust_anchors_file:
        return ConfiguredKeys(settings)
    return None


def signing_service(
    settings: Settings, engine: Engine, keyring: Keyring, configured: ConfiguredKeys | None
) -> SigningService:
    """Keys: the development PKI, or (production, or when configured) PKCS#12 files, PKCS#11
    tokens, a TSA URL and a trust-anchor file; PDFs are parsed in the sandbox as configured."""
    from signing.hsm import Pkcs11Keys
    from signing.pki import DevPki
    from signing.sandbox import SANDBOX
    from signing.service import SigningService

    keys = configured or DevPki(engine, key_passphrase(settings), settings.public_url)
    hsm = (
        Pkcs11Keys(settings.pkcs11_module, settings.pkcs11_keys) if settings.pkcs11_module else None
    )
    SANDBOX.configure(
        settings.pdf_workers, settings.pdf_memory_mb * 1024 * 1024, settings.pdf_per_sender
    )
    return SigningService(
        engine,
        keys,
        hsm,
        timeout_s=settings.pdf_timeout_s,
        keyring=keyring,
        issuer=settings.public_url,
    )


def _cmd_results_renew(args: argparse.Namespace) -> int:
    from agents.submissions import renew_results
    from signing.keyring import Keyring

    settings = load_settings()
    _say_database(settings)
    bootstrap(settings)
    configured = configured_keys(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        signing = signing_service(
            settings, engine, Keyring(engine, key_passphrase(settings)), configured
        )
        outcome = renew_results(engine, signing, utcnow(), timedelta(days=args.within_days))
    finally:
        engine.dispose()
    print(
        f"results checked: {outcome.checked}; renewed with an archive timestamp: "
        f"{outcome.renewed}; failed: {len(outcome.failed)}"
        + (f" ({', '.join(outcome.failed)})" if outcome.failed else "")
    )
    return 1 if outcome.failed else 0


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    from signing.keyring import rotate

    settings = load_settings()
    _say_database(settings)
    bootstrap(settings)
    engine = make_engine(settings.effective_database_url)
    # A retired key stays published while anything it signed can still be valid.
    publish_for = timedelta(
        seconds=max(settings.access_token_ttl_s, settings.max_delegation_days * 86_400)
        + settings.clock_skew_s
    )
    with Session(engine) as session:
        new = rotate(session, key_passphrase(settings), utcnow(), publish_for)
        session.commit()
        print(
            f"new current key: {new.kid}; previous keys stay published for {publish_for.days} days"
        )
    engine.dispose()
    return 0


def _cmd_dev_id_token(args: argparse.Namespace) -> int:
    """Asks the running server's development provider, so the token always matches that server
    (its issuer URL and its key), wherever this command runs from."""
    import httpx

    if not load_settings().is_development:
        raise ConfigurationError("the development VNeID provider does not exist in production")
    url = args.url.rstrip("/")
    body = {"pid": args.pid, "loa": args.loa, "name": args.name}
    try:
        resp = httpx.post(f"{url}/dev/vneid/id-token", json=body, timeout=10)
    except httpx.TransportError:
        print(
            f"uyquyen: no server answers at {url}: start one with `python main.py serve`, "
            "or pass --url (or set UYQUYEN_PUBLIC_URL) to the one that runs",
            file=sys.stderr,
        )
        return 2
    if resp.status_code == 404:
        print(
            f"uyquyen: the server at {url} has no development VNeID provider (production?)",
            file=sys.stderr,
        )
        return 2
    if resp.status_code != 200:
        print(f"uyquyen: the provider refused: {resp.text}", file=sys.stderr)
        return 2
    print(resp.json()["id_token"])
    return 0


def _cmd_dev_sample_pdf(args: argparse.Namespace) -> int:
    from signing.samples import sample_pdf

    Path(args.file).write_bytes(sample_pdf())
    print(f"wrote {args.file}: a one-page PDF to sign, verify or post as a result")
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from audit.service import AuditLog
    from signing.keyring import Keyring

    settings = load_settings()
    _say_database(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        log = AuditLog(engine, Keyring(engine, key_passphrase(settings)), settings.public_url)
        log.sequence()
        ok, first_bad, message = log.verify()
    finally:
        engine.dispose()
    if ok:
        print(f"audit log verifies: {message}")
        return 0
    print(f"audit log does NOT verify: first bad sequence number {first_bad}: {message}")
    return 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from delegation import demo

    return demo.main(args.url, args.admin_token, Path(__file__).resolve())


def build_parser() -> argparse.ArgumentParser:
    defaults = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description=__doc__.split("\n")[0]
        + " Settings come from UYQUYEN_* environment variables (README, Configuration).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the HTTP API (uvicorn)",
        description="Prepare the data dir and database (first start), then serve the API. "
        "With no configuration: SQLite and the development VNeID provider and PKI under ./data "
        "(UYQUYEN_DATA_DIR); UYQUYEN_PUBLIC_URL follows --host/--port when unset.",
        formatter_class=defaults,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.add_argument("--log-level", default="info", help="uvicorn's log level")
    serve.set_defaults(func=_cmd_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade",
        help="apply migrations (also done at start-up)",
        description="Apply every migration to UYQUYEN_DATABASE_URL and create missing keys.",
    ).set_defaults(func=_cmd_db_upgrade)

    keys = sub.add_parser("keys", help="service signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys_sub.add_parser(
        "rotate",
        help="add a new current key; old ones stay published",
        description="Make a new ES256 key current; retired keys stay in the JWKS while "
        "anything they signed can be valid. Needs UYQUYEN_KEY_PASSPHRASE in production.",
    ).set_defaults(func=_cmd_keys_rotate)

    dev = sub.add_parser("dev", help="development helpers")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True, metavar="ACTION")
    idt = dev_sub.add_parser(
        "id-token",
        help="mint a development VNeID ID token (asks the running server's dev provider)",
        description="Print an ID token from the development VNeID provider of a running server.",
        formatter_class=defaults,
    )
    idt.add_argument("--pid", required=True, help="12-digit personal identification number")
    idt.add_argument("--loa", type=int, choices=(1, 2), default=2, help="level of assurance")
    idt.add_argument("--name", default=None, help="the person's name in the token")
    idt.add_argument(
        "--url",
        default=os.environ.get("UYQUYEN_PUBLIC_URL", "http://127.0.0.1:8000"),
        help="the running server (env UYQUYEN_PUBLIC_URL)",
    )
    idt.set_defaults(func=_cmd_dev_id_token)
    pdf = dev_sub.add_parser(
        "sample-pdf",
        help="write a one-page sample PDF",
        description="Write a small valid PDF to FILE, to sign, verify or post as a result.",
    )
    pdf.add_argument("file", metavar="FILE", help="where to write it, e.g. result.pdf")
    pdf.set_defaults(func=_cmd_dev_sample_pdf)

    audit = sub.add_parser("audit", help="the transparency log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_sub.add_parser(
        "verify",
        help="recompute the Merkle tree and check every signed checkpoint",
        description="Read the audit log from UYQUYEN_DATABASE_URL (default: ./data), recompute "
        "the RFC 9162 tree and check every signed checkpoint; exit 1 naming the first bad event.",
    ).set_defaults(func=_cmd_audit_verify)

    results = sub.add_parser("results", help="the agencies' signed results")
    results_sub = results.add_subparsers(dest="results_command", required=True, metavar="ACTION")
    renew = results_sub.add_parser(
        "renew",
        help="add an archive timestamp (PAdES B-LTA) to results whose evidence nears expiry",
        description="For every signed result whose last timestamp, or a certificate it rests "
        "on, expires within --within-days: add revocation data issued now and a document "
        "timestamp over it all, so it still verifies after that. Run it from cron, e.g. "
        "monthly; exit 1 if a result could not be renewed.",
        formatter_class=defaults,
    )
    renew.add_argument(
        "--within-days", type=int, default=365, help="renew what expires within this many days"
    )
    renew.set_defaults(func=_cmd_results_renew)

    demo = sub.add_parser(
        "demo",
        help="walk through the whole story against a server",
        description="Tell the whole story in numbered steps: login, grant, submission, receipt, "
        "the agency's signed result, verification (and pdfsig when installed), the audit "
        "trail. Starts a temporary server unless --url is given.",
        formatter_class=defaults,
    )
    demo.add_argument("--url", default=None, help="a running server (default: start one)")
    demo.add_argument(
        "--admin-token",
        default=None,
        help="with --url: that server's admin token (env UYQUYEN_ADMIN_TOKEN, or "
        "./data/secrets/admin-token)",
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigurationError as exc:
        print(f"uyquyen: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
