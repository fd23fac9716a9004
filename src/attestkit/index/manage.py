"""The management API: yank, delete, status and roles over HTTP, for a project's Owners.

What ``attestkit index`` does on the server's machine, a project's Owner can do
from anywhere with their API token (HTTP Basic ``__token__:pypi-...``, or
``Authorization: token|bearer pypi-...``), as JSON:

=======  ================================================================  ==================
method   path                                                              body
=======  ================================================================  ==================
POST     ``/manage/project/{name}/release/{version}/yank``                 ``{"reason": R}``
POST     ``/manage/project/{name}/release/{version}/unyank``
DELETE   ``/manage/project/{name}/release/{version}``
DELETE   ``/manage/project/{name}/file/{filename}``
DELETE   ``/manage/project/{name}``
PUT      ``/manage/project/{name}/status``                                 ``{"status", "reason"}``
GET      ``/manage/project/{name}/roles``
PUT      ``/manage/project/{name}/roles/{user}``                           ``{"role": ROLE}``
DELETE   ``/manage/project/{name}/roles/{user}``
=======  ================================================================  ==================

Browsers may attach cached Basic credentials to a cross-site request (a private
index's visitors have them), so a request another site's page makes is refused:
``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is not this index.  Scripts
and curl send neither.

Rules: the token must be a user's (tokens minted by Trusted Publishing only
upload), unexpired, scoped to the project if it is scoped, and its user an
Owner of the project.  Each change is one transaction that bumps the
project's serial (:mod:`attestkit.index.lifecycle`); a deleted file's bytes are
removed after the commit.  Answers are ``{"ok": true, ...}``, or a 4xx with
``{"error": "one line"}``; bodies are at most 16 KiB of JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from attestkit.errors import InputError, NotFoundError
from attestkit.index.read.web import base_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.requests import Request

    from attestkit.index.db import Project, User
    from attestkit.index.instance import Index

__all__ = ["MAX_BODY", "routes"]

#: Largest request body accepted (the bodies are a reason or a role).
MAX_BODY = 16 * 1024

#: What a change returns: the answer's fields and the store paths to remove after the commit.
_Result = tuple[dict[str, Any], list[str]]
_Change = Callable[["Session", "Project", dict[str, Any], dict[str, str]], _Result]


class _RefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any]:
    from attestkit.core.encoding import loads_json
    from attestkit.serving.bodies import read_body

    body = await read_body(request, MAX_BODY)
    if not body.strip():
        return {}
    try:
        doc = loads_json(body, what="request body")
    except ValueError as exc:
        raise _RefusedError(400, str(exc)) from None
    if not isinstance(doc, dict):
        raise _RefusedError(400, "the request body must be a JSON object")
    return doc


def _cross_site(request: Request) -> str | None:
    """Why the request comes from another site's page (CSRF), or None."""
    from urllib.parse import urlsplit

    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "cross-site requests are refused (Sec-Fetch-Site: cross-site)"
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = request.headers.get("host", "")
        if urlsplit(origin).netloc.lower() != own.lower():
            return f"requests from {origin} are refused (not this index's origin)"
    elif origin == "null":
        return "requests from an opaque origin are refused"
    return None


def _text(doc: dict[str, Any], key: str, *, limit: int = 1000) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _RefusedError(400, f"{key!r} must be a string of at most {limit} characters")
    return value


def _owner(session: Session, index: Index, request: Request, name: str) -> tuple[Project, User]:
    """The project and the Owner whose token the request carries; else :class:`_RefusedError`."""
    from attestkit.index import admin
    from attestkit.index.reasons import UploadError
    from attestkit.index.roles import is_owner
    from attestkit.index.upload.auth import authenticate, caveat_failure

    help_url = f"{base_url(index, request)}/help"
    try:
        identity = authenticate(session, request.headers.get("authorization"), help_url)
    except UploadError as exc:
        raise _RefusedError(exc.status, exc.message) from None
    if identity.user is None:
        raise _RefusedError(403, "tokens minted by Trusted Publishing can only upload")
    project = admin.find_project(session, name)
    if project is None:
        raise _RefusedError(404, f"no project {name!r}")
    reason = caveat_failure(identity, project, name, dt.datetime.now(dt.UTC))
    if reason is not None:
        raise _RefusedError(403, f"Invalid API Token: {reason}")
    if not is_owner(session, identity.user, project):
        raise _RefusedError(
            403, f"user {identity.user.username!r} is not an Owner of project {project.name!r}"
        )
    identity.token.last_used = dt.datetime.now(dt.UTC)
    return project, identity.user


def _endpoint(
    index: Index, change: _Change, *, body: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that authorises an Owner, then applies ``change`` in one transaction."""
    from attestkit.index.lifecycle import remove_stored
    from attestkit.serving.bodies import BodyTooLarge

    async def endpoint(request: Request) -> Response:
        params = {k: str(v) for k, v in request.path_params.items()}
        forged = _cross_site(request)
        if forged is not None:
            return _error(403, forged)
        try:
            doc = await _json_body(request) if body else {}

            def work() -> tuple[dict[str, Any], list[str]]:
                with index.session() as session:
                    project, _user = _owner(session, index, request, params["name"])
                    return change(session, project, doc, params)

            result, paths = await run_in_threadpool(work)
        except _RefusedError as exc:
            return _error(exc.status, exc.message)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        except NotFoundError as exc:
            return _error(404, str(exc))
        except InputError as exc:
            return _error(400, str(exc))
        if paths:
            await run_in_threadpool(remove_stored, index, paths)
        return JSONResponse({"ok": True, **result})

    return endpoint


# -- the changes ------------------------------------------------------------------------------


def _yank(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.lifecycle import set_yanked

    release = set_yanked(s, p.name, a["version"], _text(doc, "reason"))
    answer = {"project": p.name, "version": release.version, "yanked": True}
    return {**answer, "reason": release.yanked_reason}, []


def _unyank(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.lifecycle import set_yanked

    release = set_yanked(s, p.name, a["version"], None, yanked=False)
    return {"project": p.name, "version": release.version, "yanked": False}, []


def _delete_release(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.lifecycle import delete_release

    paths = delete_release(s, p.name, a["version"])
    return {"project": p.name, "deleted": a["version"], "files": len(paths)}, paths


def _delete_file(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.lifecycle import delete_file

    paths = delete_file(s, p.name, a["filename"])
    return {"project": p.name, "deleted": a["filename"]}, paths


def _delete_project(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.lifecycle import delete_project

    name = p.name
    paths = delete_project(s, name)
    return {"deleted": name, "files": len(paths)}, paths


def _status(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.lifecycle import set_status

    status = _text(doc, "status", limit=20)
    if status is None:
        raise _RefusedError(400, 'give the new status: {"status": "archived", "reason": ...}')
    project = set_status(s, p.name, status, _text(doc, "reason"))
    return {"project": p.name, "status": project.status, "reason": project.status_reason}, []


def _roles(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.roles import project_roles

    roles = [{"user": u, "role": r} for u, r in project_roles(s, p)]
    return {"project": p.name, "roles": roles}, []


def _user(s: Session, name: str) -> User:
    from attestkit.index import admin

    user = admin.find_user(s, name)
    if user is None:
        raise NotFoundError(f"no user {name!r}")
    return user


def _set_role(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.roles import set_role

    role = set_role(s, p, _user(s, a["user"]), _text(doc, "role", limit=20) or "Maintainer")
    return {"project": p.name, "user": a["user"], "role": role.role}, []


def _remove_role(s: Session, p: Project, doc: dict[str, Any], a: dict[str, str]) -> _Result:
    from attestkit.index.roles import remove_role

    remove_role(s, p, _user(s, a["user"]))
    return {"project": p.name, "user": a["user"], "role": None}, []


def routes(index: Index) -> list[BaseRoute]:
    """The management API's routes."""
    base = "/manage/project/{name}"
    release = base + "/release/{version}"
    return [
        Route(release + "/yank", _endpoint(index, _yank, body=True), methods=["POST"]),
        Route(release + "/unyank", _endpoint(index, _unyank), methods=["POST"]),
        Route(release, _endpoint(index, _delete_release), methods=["DELETE"]),
        Route(base + "/file/{filename}", _endpoint(index, _delete_file), methods=["DELETE"]),
        Route(base + "/status", _endpoint(index, _status, body=True), methods=["PUT"]),
        Route(base + "/roles", _endpoint(index, _roles), methods=["GET"]),
        Route(base + "/roles/{user}", _endpoint(index, _set_role, body=True), methods=["PUT"]),
        Route(base + "/roles/{user}", _endpoint(index, _remove_role), methods=["DELETE"]),
        Route(base, _endpoint(index, _delete_project), methods=["DELETE"]),
    ]
