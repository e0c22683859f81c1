"""A resource server's view of Adieu through a real OAuth library (Authlib).

Usage: authlib_client.py BASE_URL CLIENT_ID CLIENT_SECRET ACCESS_TOKEN REFRESH_TOKEN

Discovers the endpoints (RFC 8414), introspects both tokens with client_secret_basic and
client_secret_post (RFC 7662), revokes the refresh token (RFC 7009) and checks that the
access token of the same session is inactive afterwards. Exits non-zero on any surprise.
"""

import sys

import requests
from authlib.integrations.requests_client import OAuth2Session


def main() -> None:
    base, client_id, client_secret, access, refresh = sys.argv[1:6]
    metadata = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
    introspect = metadata["introspection_endpoint"]
    revoke = metadata["revocation_endpoint"]
    assert introspect.startswith(metadata["issuer"]), metadata

    results = {}
    for method in ("client_secret_basic", "client_secret_post"):
        session = OAuth2Session(
            client_id,
            client_secret,
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
        )
        answer = session.introspect_token(introspect, token=access, token_type_hint="access_token")
        answer.raise_for_status()
        results[method] = answer.json()
        assert answer.headers["Cache-Control"] == "no-store", answer.headers
    for method, body in results.items():
        assert body["active"] is True, (method, body)
        assert body["token_type"] == "access_token", (method, body)
        assert body["username"], body

    session = OAuth2Session(client_id, client_secret)
    wrong = OAuth2Session(client_id, client_secret + "x")
    refused = wrong.introspect_token(introspect, token=access)
    assert refused.status_code == 401, refused.status_code
    assert refused.json()["error"] == "invalid_client", refused.text

    answer = session.introspect_token(introspect, token=refresh, token_type_hint="refresh_token")
    assert answer.json()["active"] is True and answer.json()["token_type"] == "refresh_token"

    revoked = session.revoke_token(revoke, token=refresh, token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.status_code

    # Revoking the refresh token ended the whole session: its access token too.
    for token in (access, refresh):
        after = session.introspect_token(introspect, token=token).json()
        assert after == {"active": False}, after

    # Unknown tokens are revoked "successfully" too (RFC 7009 §2.2).
    again = session.revoke_token(revoke, token="not-a-token")
    assert again.status_code == 200, again.status_code
    print("authlib: discovery, introspection (basic, post), revocation: ok")


if __name__ == "__main__":
    main()
