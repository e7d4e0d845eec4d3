"""Configuration errors, as an operator starting `python -m app serve` sees them: the
variable is named, its value (often a secret) never printed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.settings import Settings
from tests.support.servers import free_port

SECRET = "hunter2-0123456789-SECRET"


def serve(**env: str) -> tuple[int, str]:
    """Start the API with `env`; its exit status and everything it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        env={**os.environ, "PORT": str(free_port()), "MONGODB_TIMEOUT_MS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWT_SECRET", SECRET),  # too short
        ("MONGODB_URL", f"http://admin:{SECRET}@db.example.com"),  # wrong scheme
        ("REDIS_URL", f"http://:{SECRET}@cache.example.com"),
        ("TRUSTED_PROXIES", f"10.0.0.0/8,{SECRET}"),
    ],
)
def test_an_invalid_setting_is_named_without_its_value(variable: str, value: str):
    status, output = serve(**{variable: value})
    assert status == 2
    assert f"configuration error: {variable}:" in output
    assert SECRET not in output


def test_an_unreachable_database_is_named_without_its_password():
    status, output = serve(MONGODB_URL=f"mongodb://admin:{SECRET}@127.0.0.1:{free_port()}")
    assert status != 0
    assert "configuration error: MONGODB_URL: cannot connect" in output
    assert SECRET not in output


def test_a_broken_redis_url_is_named_without_its_password(mongo_url: str):
    status, output = serve(MONGODB_URL=mongo_url, REDIS_URL=f"redis://:{SECRET}@127.0.0.1:99999/0")
    assert status != 0
    assert "configuration error: REDIS_URL: cannot connect" in output
    assert SECRET not in output


def test_trusted_proxies_are_networks():
    settings = Settings(trusted_proxies="10.0.0.0/8, 192.168.1.7 ,::1")  # type: ignore[arg-type]
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    assert Settings().trusted_proxies == []
