"""What the synthetic dataset was generated from, so tests can check what we recover."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.models.base import TenantDocument


class SeedManifest(TenantDocument):
    seed: int
    # Planted truth: elasticity per plan, lift per experiment, trend and seasonality per series.
    planted: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)

    class Settings:
        name = "seed_manifests"
