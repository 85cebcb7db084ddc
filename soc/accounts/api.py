"""/api/v1/users, /tokens, /webhooks, /emails: administration of accounts (admins of every agency)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import AnyHttpUrl, BaseModel, Field, StringConstraints

from soc.accounts import service as accounts
from soc.api.deps import IdPath, Rt, Who
from soc.incidents.schemas import Agency, Name, Severity, Strict

router = APIRouter(tags=["administration"])
Role = Literal["admin", "analyst", "viewer", "collector"]
Agencies = Annotated[list[Agency], Field(min_length=1, max_length=100)]
Password = Annotated[str, StringConstraints(min_length=10, max_length=512)]


class UserIn(Strict):
    name: Name
    role: Role
    agencies: Agencies
    password: Password | None = None


class UserPatch(Strict):
    role: Role | None = None
    agencies: Agencies | None = None
    password: Password | None = None
    disabled: bool | None = None


class UserOut(BaseModel):
    name: str
    role: str
    agencies: list[str]
    created: str | None
    disabled: bool
    has_password: bool


class TokenIn(Strict):
    name: Name
    user: Name | None = Field(None, description="the token acts as this user (role and agencies follow the user)")
    role: Role | None = None
    agencies: Agencies | None = None


class TokenOut(BaseModel):
    id: str
    name: str
    user: str | None
    role: str
    agencies: list[str]
    created: str | None
    disabled: bool


class NewToken(TokenOut):
    token: str = Field(description="shown this once; only its hash is stored")


class WebhookIn(Strict):
    name: Name
    url: AnyHttpUrl
    agencies: Agencies
    min_severity: Severity = "high"
    secret: Annotated[str, StringConstraints(min_length=16, max_length=256)] | None = None


class WebhookOut(BaseModel):
    id: str
    name: str
    url: str
    agencies: list[str]
    min_severity: str
    created: str
    disabled: bool
    secret: str | None = Field(None, description="returned only when the webhook is created")


Address = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,190}\.[A-Za-z]{2,24}$")]


class EmailIn(Strict):
    name: Name
    to: Annotated[list[Address], Field(min_length=1, max_length=20)]
    agencies: Agencies
    min_severity: Severity = "high"


class EmailOut(BaseModel):
    id: str
    name: str
    to: list[str]
    agencies: list[str]
    min_severity: str
    created: str
    disabled: bool


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(rt: Rt, who: Who, body: UserIn) -> dict[str, Any]:
    return accounts.add_user(rt, who, body.name, body.role, body.agencies, body.password)


@router.get("/users", response_model=list[UserOut])
def list_users(rt: Rt, who: Who) -> list[dict[str, Any]]:
    return accounts.list_users(rt, who)


@router.patch("/users/{name}", response_model=UserOut)
def change_user(rt: Rt, who: Who, name: IdPath, body: UserPatch) -> dict[str, Any]:
    return accounts.change_user(rt, who, name, body.model_dump(exclude_unset=True, exclude_none=True))


@router.post("/tokens", response_model=NewToken, status_code=201)
def create_token(rt: Rt, who: Who, body: TokenIn) -> dict[str, Any]:
    token, info = accounts.create_token(rt, who, body.name, body.user, body.role, body.agencies)
    return info | {"token": token}


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(rt: Rt, who: Who) -> list[dict[str, Any]]:
    return accounts.list_tokens(rt, who)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(rt: Rt, who: Who, token_id: IdPath) -> dict[str, Any]:
    return accounts.revoke_token(rt, who, token_id)


@router.post("/webhooks", response_model=WebhookOut, status_code=201)
def add_webhook(rt: Rt, who: Who, body: WebhookIn) -> dict[str, Any]:
    return accounts.add_webhook(rt, who, body.model_dump(mode="json"))


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(rt: Rt, who: Who) -> list[dict[str, Any]]:
    return accounts.list_webhooks(rt, who)


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(rt: Rt, who: Who, webhook_id: IdPath) -> Response:
    accounts.delete_webhook(rt, who, webhook_id)
    return Response(status_code=204)


@router.post("/emails", response_model=EmailOut, status_code=201,
             summary="Mail incidents of some agencies at or above a severity to some addresses")
def add_email(rt: Rt, who: Who, body: EmailIn) -> dict[str, Any]:
    return accounts.add_email(rt, who, body.model_dump())


@router.get("/emails", response_model=list[EmailOut])
def list_emails(rt: Rt, who: Who) -> list[dict[str, Any]]:
    return accounts.list_emails(rt, who)


@router.delete("/emails/{email_id}", status_code=204, response_class=Response)
def delete_email(rt: Rt, who: Who, email_id: IdPath) -> Response:
    accounts.delete_email(rt, who, email_id)
    return Response(status_code=204)

