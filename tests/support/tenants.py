"""Signing up tenants through the API, as a customer would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.support.graphql import GraphQLClient

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    __typename
    ... on AuthPayload { accessToken refreshToken tenant { id } user { id email } }
    ... on Error { message }
  }
}
"""
PASSWORD = "correct horse battery staple"


@dataclass
class SignedUp:
    client: GraphQLClient  # authenticated as the tenant's admin
    tenant_id: str
    user_id: str
    email: str
    refresh_token: str


async def sign_up(base_url: str, name: str = "Acme") -> SignedUp:
    anonymous = GraphQLClient(base_url)
    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    variables = {"input": {"tenantName": name, "email": email, "password": PASSWORD}}
    result = (await anonymous.data(SIGN_UP, variables))["signUp"]
    await anonymous.close()
    assert result["__typename"] == "AuthPayload", result
    return SignedUp(
        client=GraphQLClient(base_url, result["accessToken"]),
        tenant_id=result["tenant"]["id"],
        user_id=result["user"]["id"],
        email=email,
        refresh_token=result["refreshToken"],
    )
