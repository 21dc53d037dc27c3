"""API keys: random secrets, stored only as SHA-256 hashes, one namespace each."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from billhook.errors import InvalidInput, Unauthorized
from billhook.ids import new_id
from billhook.services import profiles
from billhook.store.schema import api_keys
from billhook.store.uow import UnitOfWork

PREFIX = "bh_"
NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    api_key_id: str
    namespace: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def digest(key: str) -> bytes:
    """The key's SHA-256, raw: what a cache of checked keys may hold instead of the secret."""
    return hashlib.sha256(key.encode()).digest()


def create(uow: UnitOfWork, namespace: str = "default", name: str | None = None) -> str:
    if not NAMESPACE.match(namespace):
        raise InvalidInput.on("namespace", "lowercase letters, digits, _ and -, at most 64")
    profiles.default_profile(uow, namespace)  # a namespace starts with the sandbox app and a default profile
    key = PREFIX + secrets.token_urlsafe(32)
    uow.conn.execute(
        insert(api_keys).values(
            id=new_id(), namespace=namespace, name=name, prefix=key[:10], key_hash=_hash(key), created_at=uow.now
        )
    )
    return key


def count(uow: UnitOfWork) -> int:
    return uow.conn.execute(select(func.count()).select_from(api_keys)).scalar_one()


def authenticate(uow: UnitOfWork, key: str) -> Principal:
    row = uow.conn.execute(
        select(api_keys.c.id, api_keys.c.namespace).where(
            api_keys.c.key_hash == _hash(key), api_keys.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        raise Unauthorized("unknown or revoked API key")
    return Principal(row.id, row.namespace)


def check_id(uow: UnitOfWork, api_key_id: str) -> None:
    """Unauthorized unless the key with this id still exists and is not revoked."""
    row = uow.conn.execute(
        select(api_keys.c.id).where(api_keys.c.id == api_key_id, api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        raise Unauthorized("the API key of this session no longer exists")
