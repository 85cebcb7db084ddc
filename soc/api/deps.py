"""Request dependencies: the runtime of the app and the authenticated principal.

Both are coroutines: FastAPI runs a plain function dependency in its thread pool, and two thread
hand-offs per request cost more CPU than the work itself when the token is in the cache. Only a
token missing from the cache is looked up in OpenSearch, in the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from soc.accounts import store as accounts_store
from soc.auth import Principal, Unauthorized, token_hash
from soc.incidents.schemas import ID_PATTERN
from soc.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer soc_...`")


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def _runtime(request: Request) -> Runtime:
    return runtime(request)


async def principal(request: Request,
                    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    token = creds.credentials
    if len(token) > 200:
        raise Unauthorized("the token is not valid")
    rt = runtime(request)
    digest = token_hash(token)
    who = rt.principals.get(digest)
    if who is None:
        who = await run_in_threadpool(accounts_store.principal_for_token, rt.client, rt.names, token)
        if who is None:
            raise Unauthorized("the token is not valid, or was revoked or expired")
        rt.principals.put(digest, who)
    return who


Rt = Annotated[Runtime, Depends(_runtime)]
Who = Annotated[Principal, Depends(principal)]
IdPath = Annotated[str, Path(pattern=ID_PATTERN, description="an id as returned by the API")]
