"""Products: what a tenant sells."""

from __future__ import annotations

from app.models.base import TenantDocument


class Product(TenantDocument):
    name: str
    description: str = ""
    active: bool = True

    class Settings:
        name = "products"
