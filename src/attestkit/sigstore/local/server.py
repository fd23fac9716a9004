"""The local Sigstore instance as one ASGI application (Starlette, served by uvicorn).

Routes (paths are the ones sigstore-python and Rekor clients call):

* OIDC: ``GET /.well-known/openid-configuration``, ``GET /.well-known/jwks.json``,
  ``GET /oauth2/authorize`` + ``POST /oauth2/approve`` + ``POST /oauth2/token``
  (interactive PKCE login for a local user, approved with a one-time code the
  server prints), ``GET /oidc/github-actions`` (GitHub's
  ``ACTIONS_ID_TOKEN_REQUEST_URL`` with a job-bound request token, so ``id``'s
  ambient detection works);
* CA: ``POST /api/v2/signingCert``, ``GET /api/v2/trustBundle``;
* Rekor v1: ``POST /api/v1/log/entries``, ``GET /api/v1/log``,
  ``GET /api/v1/log/publicKey``, ``GET /api/v1/log/entries?logIndex=N``,
  ``GET /api/v1/log/entries/{uuid}``, ``POST /api/v1/log/entries/retrieve``,
  ``GET /api/v1/log/proof?firstSize=&lastSize=``;
* ``GET /trust-config.json``: the ClientTrustConfig for this instance.

Errors are JSON ``{"code": n, "message": "..."}`` with a 4xx status; blocking
work (signing, the log's durable appends) runs in the thread pool.

Why one module over 500 lines: every route is a small closure over the one
instance it serves, and the routes read best beside each other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from attestkit.core.constants import DEV_CA_ORGANIZATIONS
from attestkit.sigstore.local.keys import KeyStore

if TYPE_CHECKING:
    from attestkit.core.issuers import OidcIssuer

__all__ = ["LocalSigstore", "create_app"]

#: Checkpoint origin: stable across restarts and ports.
LOG_ORIGIN = "attestkit.local"


@dataclass
class LocalSigstore:
    """One running instance: keys, CA and transparency log, and in development
    mode its own OIDC issuer.

    A *development* instance (``development=True``) runs an OIDC issuer whose
    key stands in for the CI issuers: its identities are simulated (see
    :mod:`attestkit.serving.devmode`).  A *private* instance trusts only the external
    issuers it is configured with (``issuers``: a self-managed GitLab, GitHub
    Enterprise Server, ...; keys by OpenID discovery) and runs no issuer of
    its own: an air-gapped company's own Sigstore.
    """

    url: str
    data_dir: Path
    keys: KeyStore
    #: The development issuer (:class:`~attestkit.sigstore.local.oidc.Issuer`); None
    #: for a private instance, whose app then has no OIDC routes.
    issuer: Any
    ca: Any
    log: Any
    development: bool = True
    #: The Rekor v2 log and the RFC 3161 timestamp authority (``rekor_v2`` mode), or None.
    log_v2: Any = None
    tsa: Any = None
    #: This node's own address (``url`` is what clients use; the same unless behind a
    #: load balancer).
    node_url: str = ""

    def __post_init__(self) -> None:
        """The node's address defaults to the public one."""
        if not self.node_url:
            self.node_url = self.url

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str],
        url: str,
        *,
        development: bool,
        issuers: Sequence[OidcIssuer] = (),
        ca_name: str | None = None,
        login_email: str | None = None,
        login_auto_approve: bool = False,
        keys_dir: str | os.PathLike[str] | None = None,
        log_database_url: str | None = None,
        rekor_v2: bool = False,
    ) -> LocalSigstore:
        """Open (or create) the instance stored in ``data_dir``, served at ``url``.

        ``rekor_v2`` also runs a Rekor v2 log (its own key and tree, in
        ``log-v2.sqlite3``) and an RFC 3161 timestamp authority, and the signing
        config then sends signers to them: the same ``attestkit sign`` makes
        Rekor v2 attestations, timed by a timestamp.

        A private instance can run on many nodes: ``keys_dir`` is a key set every
        node loads (made once with ``attestkit sigstore keys init``) and
        ``log_database_url`` a PostgreSQL database holding the one log every node
        appends to; ``url`` is then the address clients use (the load balancer).

        The data directory records its mode on first use, and opening it in
        the other mode raises :class:`~attestkit.errors.InputError`.  A private
        instance needs at least one issuer.  ``ca_name`` names the CA of a new
        private instance (default
        :data:`~attestkit.core.constants.PRIVATE_CA_ORGANIZATION`).  ``login_email``
        is the identity of a development instance's interactive (browser)
        login; default ``<OS user>@localhost``.  Each login waits for a
        one-time approval code printed on standard error, unless
        ``login_auto_approve`` (tests and scripts).
        """
        from attestkit.core.constants import DEV_CA_ORGANIZATION, PRIVATE_CA_ORGANIZATION
        from attestkit.errors import InputError
        from attestkit.serving.devmode import DEVELOPMENT, PRODUCTION, claim_data_dir
        from attestkit.sigstore.local.ca import CertificateAuthority
        from attestkit.sigstore.local.log import LogError, TransparencyLog
        from attestkit.sigstore.local.oidc import Issuer

        url = url.rstrip("/")
        if development:
            if issuers:
                raise InputError(
                    "a development instance simulates the CI issuers itself; configured"
                    " issuers are for a private (production) instance"
                )
            organization = DEV_CA_ORGANIZATION
        else:
            if not issuers:
                raise InputError(
                    "a private Sigstore instance needs at least one trusted OIDC issuer"
                    " (--issuer KIND=URL or [[sigstore.issuers]] in the config file);"
                    " for simulated identities use --dev"
                )
            organization = ca_name or PRIVATE_CA_ORGANIZATION
            if organization in DEV_CA_ORGANIZATIONS:
                raise InputError(f"CA name {organization!r} is reserved for development")
        if development and (keys_dir is not None or log_database_url is not None):
            raise InputError(
                "a development instance runs on one node (its logins live in its memory):"
                " shared keys and a shared log are for a private instance"
            )
        claim_data_dir(data_dir, DEVELOPMENT if development else PRODUCTION)
        if keys_dir is not None:
            try:
                keys = KeyStore.load(keys_dir)
            except (OSError, ValueError) as exc:
                raise InputError(str(exc)) from None
            if keys.organization in DEV_CA_ORGANIZATIONS:
                raise InputError(
                    f"{keys_dir} holds a development instance's keys: a private instance"
                    " never signs with them"
                )
        else:
            keys = KeyStore.open(data_dir, organization=organization)
        issuer: Issuer | None = None
        if development:
            issuer = Issuer(
                keys,
                url,
                login_email=login_email,
                auto_approve=login_auto_approve,
                on_login=print_login_request,
            )
            ca = CertificateAuthority(keys, issuer.trusted_issuers())
        else:
            try:
                ca = CertificateAuthority.private(keys, issuers)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        if rekor_v2 and log_database_url is not None:
            raise InputError(
                "a Rekor v2 log is kept in the data directory; it cannot be shared through"
                " PostgreSQL yet (run the v2 mode on one node)"
            )
        where = log_database_url or Path(data_dir) / "log.sqlite3"
        try:
            log = TransparencyLog.open(where, keys, LOG_ORIGIN)
        except Exception as exc:
            if isinstance(exc, InputError | LogError):
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"cannot open the transparency log in {where}: {reason}") from None
        log_v2 = tsa = None
        if rekor_v2:
            from attestkit.sigstore.local.tsa import TimestampAuthority

            v2 = keys.v2
            log_v2 = TransparencyLog.open(
                Path(data_dir) / "log-v2.sqlite3",
                keys,
                LOG_ORIGIN,
                key=v2.rekor_key,
                tree_id=keys.tree_id ^ 1,
            )
            tsa = TimestampAuthority(v2.tsa_key, v2.tsa_cert)
        return cls(
            log_v2=log_v2,
            tsa=tsa,
            url=url,
            data_dir=Path(data_dir),
            keys=keys,
            issuer=issuer,
            ca=ca,
            log=log,
            development=development,
        )

    def trust_config(self) -> dict[str, Any]:
        """The ClientTrustConfig JSON object for this instance."""
        from attestkit.sigstore.local.trustconfig import client_trust_config

        return client_trust_config(
            self.keys, self.url, issuer=self.issuer is not None, rekor_v2=self.log_v2 is not None
        )

    def close(self) -> None:
        """Release the logs' databases."""
        self.log.close()
        if self.log_v2 is not None:
            self.log_v2.close()


def print_login_request(prompt: Any, code: str) -> None:
    """Print a waiting login's approval code on the server's console (standard error)."""
    import sys

    print(
        f"attestkit sigstore: login request for {prompt.email} (client {prompt.client_id!r}):"
        f" approval code {code}, valid {prompt.lifetime // 60} minutes. Type it in the"
        " browser only if you started this login.",
        file=sys.stderr,
        flush=True,
    )


def _login_page(prompt: Any, url: str) -> HTMLResponse:
    """The form that asks for the approval code of a waiting login."""
    from html import escape

    error = f'<p class="error" role="alert">{escape(prompt.error)}</p>' if prompt.error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>attestkit login: approval code</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>Approve this login</h1>
<p>Signing in as <strong>{escape(prompt.email)}</strong> to the development Sigstore at
{escape(url)}. The attestkit server printed a one-time approval code on its console;
type it here. If you did not start this login, close this page.</p>
{error}
<form method="post" action="/oauth2/approve">
<input type="hidden" name="request" value="{escape(prompt.request)}">
<label>Approval code <input name="code" autocomplete="one-time-code" autofocus
 required pattern="[0-9A-Za-z -]{{8,10}}" placeholder="XXXX-XXXX"></label>
<button type="submit">Approve</button>
</form></main></body></html>
"""
    # Never framed (clickjacking), never cached.  The approval form's answer redirects to
    # the client's loopback redirect URI (OAuth for native apps), which a browser checks
    # against form-action: loopback origins are allowed there, nothing else.
    headers = {
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none';"
            " frame-ancestors 'none'; form-action 'self' http://localhost:* http://127.0.0.1:*"
            " http://[::1]:*"
        ),
    }
    return HTMLResponse(body, status_code=403 if prompt.error else 200, headers=headers)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status)


#: Most items a search may ask for in each of its arrays (Rekor's limit).
MAX_RETRIEVE = 10
#: Largest request body the CA and the log read (Rekor v2 allows 4 MiB; entries here are KBs).
MAX_BODY = 1024 * 1024


class _BadBody(Exception):  # noqa: N818 - turned into a 4xx at once
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _json_body(request: Request) -> Any:
    """The request's JSON body, read and parsed with bounds; :class:`_BadBody` otherwise."""
    from attestkit.core.encoding import loads_json
    from attestkit.errors import InputError
    from attestkit.serving.bodies import BodyTooLarge, read_body

    try:
        raw = await read_body(request, MAX_BODY)
        return loads_json(raw, what="request body")
    except BodyTooLarge as exc:
        raise _BadBody(413, str(exc)) from None
    except InputError as exc:
        raise _BadBody(400, exc.reason) from None


def _int_param(request: Request, name: str) -> int | None:
    from attestkit.core.encoding import ascii_int

    return ascii_int(request.query_params.get(name))


def create_app(instance: LocalSigstore) -> Starlette:
    """Build the ASGI application serving ``instance``."""
    from attestkit.sigstore.local.ca import CAError
    from attestkit.sigstore.local.log import DuplicateEntry
    from attestkit.sigstore.local.oidc import TokenError
    from attestkit.sigstore.local.rekor import AdmissionError, admit
    from attestkit.sigstore.verify.engine import leaf_hash

    log = instance.log

    # -- OIDC ------------------------------------------------------------------
    async def discovery(request: Request) -> Response:
        return JSONResponse(instance.issuer.discovery())

    async def jwks(request: Request) -> Response:
        return JSONResponse(instance.issuer.jwks())

    def _login_answer(location: Any, status: int = 302) -> Response:
        if not isinstance(location, str):
            return _login_page(location, instance.url)
        if location.startswith("urn:ietf:wg:oauth:2.0:oob"):
            # Out-of-band flow: show the code for the user to paste into the client.
            code = location.partition("code=")[2].partition("&")[0]
            return PlainTextResponse(f"attestkit local login\n\nYour code: {code}\n")
        return RedirectResponse(location, status_code=status)

    async def authorize(request: Request) -> Response:
        try:
            location = instance.issuer.authorize(dict(request.query_params))
        except TokenError as exc:
            return _error(exc.status, exc.message)
        return _login_answer(location)

    async def approve(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8, max_part_size=8192)
        try:
            location = instance.issuer.approve({k: str(v) for k, v in form.items()})
        except TokenError as exc:
            return _error(exc.status, exc.message)
        # 303: the browser follows a POST's redirect with a GET.
        return _login_answer(location, status=303)

    async def token(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=16, max_part_size=16 * 1024)
        result = instance.issuer.exchange(
            {k: str(v) for k, v in form.items()}, request.headers.get("authorization")
        )
        if "error" in result:
            status = 401 if result["error"] == "invalid_client" else 400
            return JSONResponse(result, status_code=status)
        return JSONResponse(result)

    async def actions_token(request: Request) -> Response:
        try:
            result = await run_in_threadpool(
                instance.issuer.actions_token,
                dict(request.query_params),
                request.headers.get("authorization"),
            )
        except TokenError as exc:
            return _error(exc.status, exc.message)
        return JSONResponse(result)

    # -- CA ---------------------------------------------------------------------
    async def signing_cert(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except _BadBody as exc:
            return _error(exc.status, exc.message)
        try:
            result = await run_in_threadpool(
                instance.ca.signing_cert, body, request.headers.get("authorization")
            )
        except CAError as exc:
            return _error(exc.status, exc.message)
        return JSONResponse(result)

    async def trust_bundle(request: Request) -> Response:
        from cryptography.hazmat.primitives.serialization import Encoding

        chain = [
            instance.keys.intermediate_cert.public_bytes(Encoding.PEM).decode(),
            instance.keys.root_cert.public_bytes(Encoding.PEM).decode(),
        ]
        return JSONResponse({"chains": [{"certificates": chain}]})

    # -- Rekor --------------------------------------------------------------------
    async def create_entry(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except _BadBody as exc:
            return _error(exc.status, exc.message)

        def work() -> dict[str, Any]:
            canonical = admit(body)
            entry = log.append_concurrent(canonical)
            return dict(log.entry_response(entry.index))

        try:
            response = await run_in_threadpool(work)
        except AdmissionError as exc:
            return _error(400, str(exc))
        except DuplicateEntry as exc:
            return _error(
                409, f"an equivalent entry already exists in the log at index {exc.index}"
            )
        uuid = next(iter(response))
        return JSONResponse(
            response,
            status_code=201,
            headers={"Location": f"/api/v1/log/entries/{uuid}", "ETag": uuid},
        )

    async def create_entry_v2(request: Request) -> Response:
        from attestkit.sigstore.local.rekor_v2 import admit_v2, entry_response_v2

        if instance.log_v2 is None:
            return _error(404, "this instance runs no Rekor v2 log (start it with --rekor-v2)")
        try:
            body = await _json_body(request)
        except _BadBody as exc:
            return _error(exc.status, exc.message)

        def work() -> dict[str, Any]:
            entry = instance.log_v2.append_concurrent(admit_v2(body))
            return entry_response_v2(instance.log_v2, entry)

        try:
            response = await run_in_threadpool(work)
        except AdmissionError as exc:
            return _error(400, str(exc))
        except DuplicateEntry as exc:
            return _error(409, f"an equivalent entry already exists at index {exc.index}")
        return JSONResponse(response, status_code=201)

    async def timestamp(request: Request) -> Response:
        from attestkit.sigstore.local.tsa import QUERY_TYPE, REPLY_TYPE, TimestampRefused

        if instance.tsa is None:
            return _error(
                404, "this instance runs no timestamp authority (start it with --rekor-v2)"
            )
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != QUERY_TYPE:
            return _error(415, f"send a DER TimeStampReq as {QUERY_TYPE}")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > 8192:
                return _error(413, "a timestamp request is at most 8 KiB")
        try:
            reply = await run_in_threadpool(instance.tsa.respond, body)
        except TimestampRefused as exc:
            return _error(400, str(exc))
        return Response(reply, media_type=REPLY_TYPE)

    def _tiles(which: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
        from attestkit.sigstore.local.tiles import entry_bundle, parse_tile_path

        async def checkpoint(request: Request) -> Response:
            if which() is None:
                return _error(404, "this instance runs no Rekor v2 log (see --rekor-v2)")
            text = await run_in_threadpool(which().checkpoint)
            return PlainTextResponse(text, headers={"Cache-Control": "no-store"})

        async def bundle(request: Request) -> Response:
            log_ = which()
            if log_ is None:
                return _error(404, "this instance runs no Rekor v2 log (see --rekor-v2)")
            try:
                index, width = parse_tile_path(request.path_params["path"])
            except ValueError as exc:
                return _error(404, str(exc))
            data = await run_in_threadpool(entry_bundle, log_, index, width)
            if data is None:
                return _error(404, "no such tile yet")
            # A tile never changes once it exists (c2sp.org/tlog-tiles).
            return Response(
                data,
                media_type="application/octet-stream",
                headers={"Cache-Control": "max-age=31536000, immutable"},
            )

        return checkpoint, bundle

    v1_checkpoint, v1_bundle = _tiles(lambda: log)
    v2_checkpoint, v2_bundle = _tiles(lambda: instance.log_v2)

    async def log_info(request: Request) -> Response:
        def work() -> dict[str, Any]:
            size = log.size()
            return {
                "rootHash": log.root_hash(size).hex(),
                "treeSize": size,
                "signedTreeHead": log.checkpoint(size),
                "treeID": str(instance.keys.tree_id),
            }

        return JSONResponse(await run_in_threadpool(work))

    async def public_key(request: Request) -> Response:
        from cryptography.hazmat.primitives import serialization

        pem = instance.keys.rekor_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return Response(pem, media_type="application/x-pem-file")

    async def get_entries(request: Request) -> Response:
        index = _int_param(request, "logIndex")
        if index is None:
            return _error(400, "logIndex query parameter (a non-negative integer) is required")
        if index >= log.size():
            return _error(404, f"no entry at log index {index}")
        return JSONResponse(await run_in_threadpool(log.entry_response, index))

    async def get_entry(request: Request) -> Response:
        uuid = request.path_params["uuid"]
        entry = await run_in_threadpool(log.find_uuid, uuid)
        if entry is None:
            return _error(404, f"no entry with uuid {uuid}")
        return JSONResponse(await run_in_threadpool(log.entry_response, entry.index))

    async def retrieve(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except _BadBody as exc:
            return _error(exc.status, exc.message)
        if not isinstance(body, dict):
            return _error(400, "expected a JSON object")
        for key in ("entryUUIDs", "logIndexes", "entries"):
            value = body.get(key)
            if value is not None and not isinstance(value, list):
                return _error(400, f"{key} must be an array")
            if value is not None and len(value) > MAX_RETRIEVE:
                return _error(422, f"{key} has more than {MAX_RETRIEVE} items")

        def work() -> list[dict[str, Any]] | JSONResponse:
            results: list[dict[str, Any]] = []
            for uuid in body.get("entryUUIDs") or []:
                entry = log.find_uuid(str(uuid))
                if entry is not None:
                    results.append(log.entry_response(entry.index))
            for index in body.get("logIndexes") or []:
                if type(index) is int and 0 <= index < log.size():
                    results.append(log.entry_response(index))
            for proposed in body.get("entries") or []:
                try:
                    canonical = admit(proposed)
                except AdmissionError:
                    continue
                entry = log.find_leaf_hash(leaf_hash(canonical))
                if entry is not None:
                    results.append(log.entry_response(entry.index))
            return results

        return JSONResponse(await run_in_threadpool(work))

    async def proof(request: Request) -> Response:
        first = _int_param(request, "firstSize")
        last = _int_param(request, "lastSize")
        size = log.size()
        if last is None:
            return _error(400, "lastSize query parameter (a non-negative integer) is required")
        first = 1 if first is None else first
        if not (1 <= first <= last <= size):
            return _error(400, f"need 1 <= firstSize <= lastSize <= {size}")

        def work() -> dict[str, Any]:
            return {
                "rootHash": log.root_hash(last).hex(),
                "hashes": [h.hex() for h in log.consistency_proof(first, last)],
            }

        return JSONResponse(await run_in_threadpool(work))

    # -- misc -------------------------------------------------------------------
    async def trust_config(request: Request) -> Response:
        return JSONResponse(instance.trust_config())

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    # A private instance runs no issuer of its own: its identities come from the
    # issuers it trusts.
    oidc_routes = [
        Route("/.well-known/openid-configuration", discovery),
        Route("/.well-known/jwks.json", jwks),
        Route("/oauth2/authorize", authorize),
        Route("/oauth2/approve", approve, methods=["POST"]),
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oidc/github-actions", actions_token),
    ]
    routes = [
        *(oidc_routes if instance.issuer is not None else []),
        Route("/api/v2/signingCert", signing_cert, methods=["POST"]),
        Route("/api/v2/trustBundle", trust_bundle),
        Route("/api/v1/log/entries", create_entry, methods=["POST"]),
        Route("/api/v1/log/entries", get_entries, methods=["GET"]),
        Route("/api/v1/log/entries/retrieve", retrieve, methods=["POST"]),
        Route("/api/v1/log/entries/retrieve/", retrieve, methods=["POST"]),
        Route("/api/v1/log/entries/{uuid}", get_entry),
        Route("/api/v1/log", log_info),
        Route("/api/v2/log/entries", create_entry_v2, methods=["POST"]),
        Route("/api/v1/tiles/checkpoint", v1_checkpoint),
        Route("/api/v1/tiles/tile/entries/{path:path}", v1_bundle),
        Route("/checkpoint", v2_checkpoint),
        Route("/tile/entries/{path:path}", v2_bundle),
        Route("/api/v1/timestamp", timestamp, methods=["POST"]),
        Route("/api/v1/log/publicKey", public_key),
        Route("/api/v1/log/proof", proof),
        Route("/trust-config.json", trust_config),
        Route("/healthz", health),
    ]
    from starlette.middleware import Middleware

    from attestkit.serving.faults import install
    from attestkit.serving.headers import SecurityHeadersMiddleware

    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeadersMiddleware)])
    install(app)  # a full disk or a busy log database: 503/507, never a 500
    return app


def default_data_dir() -> Path:
    """Where the instance lives by default: the same rule as ``attestkit serve``'s.

    ``$ATTESTKIT_SIGSTORE_DIR``; else ``$ATTESTKIT_DATA_DIR/sigstore`` (the embedded
    instance of ``attestkit serve --dev``); else ``$XDG_DATA_HOME/attestkit/sigstore``
    (~/.local/share).
    """
    from attestkit.serving.bootstrap import default_data_dir as default

    shared = os.environ.get("ATTESTKIT_DATA_DIR")
    if shared and not os.environ.get("ATTESTKIT_SIGSTORE_DIR"):
        return Path(shared) / "sigstore"
    return default("ATTESTKIT_SIGSTORE_DIR", "sigstore")


def instance_dir(data_dir: str | os.PathLike[str]) -> Path:
    """``data_dir`` itself, or its ``sigstore/`` when it is an ``attestkit serve`` directory."""
    given = Path(data_dir)
    if not (given / "keys").is_dir() and (given / "sigstore" / "keys").is_dir():
        return given / "sigstore"
    return given


def serve(
    data_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    development: bool,
    issuers: Sequence[OidcIssuer] = (),
    ca_name: str | None = None,
    login_email: str | None = None,
    login_auto_approve: bool = False,
    keys_dir: str | os.PathLike[str] | None = None,
    log_database_url: str | None = None,
    public_url: str | None = None,
    rekor_v2: bool = False,
    on_ready: Callable[[LocalSigstore], None] | None = None,
) -> None:
    """Serve the instance in ``data_dir`` until interrupted (SIGINT/SIGTERM).

    ``development=True`` serves simulated identities: loopback ``host`` only,
    a banner on every HTML page.  Otherwise the instance is private and
    trusts ``issuers`` (see :meth:`LocalSigstore.open`).  ``port=0`` picks a
    free port.  Once listening, ``<data_dir>/server.json`` records the URL
    (for ``attestkit sigstore trust-config``) and ``on_ready`` is called.
    ``keys_dir``, ``log_database_url`` and ``public_url`` (the address clients
    use, e.g. a load balancer's) let several nodes serve one private instance.
    """
    import uvicorn

    from attestkit.serving.bootstrap import announced, listen, lock_data_dir
    from attestkit.serving.bootstrap import run as run_server
    from attestkit.serving.devmode import DevBannerMiddleware, require_loopback

    if development:
        require_loopback(host)
    lock = lock_data_dir(Path(data_dir), "attestkit sigstore server")
    try:
        sock, url = listen(host, port)
        instance = LocalSigstore.open(
            data_dir,
            public_url or url,
            development=development,
            issuers=issuers,
            ca_name=ca_name,
            login_email=login_email,
            login_auto_approve=login_auto_approve,
            keys_dir=keys_dir,
            log_database_url=log_database_url,
            rekor_v2=rekor_v2,
        )
    except BaseException:
        lock.close()
        raise
    instance.node_url = url
    app: Any = create_app(instance)
    if development:
        app = DevBannerMiddleware(app)
    from attestkit.serving.protocol import GuardedH11Protocol

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", http=GuardedH11Protocol
    )
    try:
        with announced([Path(data_dir)], url):
            if on_ready is not None:
                on_ready(instance)
            run_server(config, sock)
    finally:
        instance.close()
        lock.close()
