"""Digest auth for firmware below 7: the pure functions against the RFCs' own worked examples."""

from __future__ import annotations

from homepower.gateway import digest


def fields(header: str) -> dict[str, str]:
    assert header.startswith("Digest ")
    return digest.parse_challenge(header)


def test_rfc_2617_md5_qop_auth_vector():
    challenge = digest.parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    header = digest.authorization(challenge, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", 1, "0a4f113b")
    sent = fields(header)
    assert sent["response"] == "6629fae49393a05397450978507c4ef1"
    assert sent["nc"] == "00000001" and sent["cnonce"] == "0a4f113b" and sent["qop"] == "auth"
    assert sent["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41" and sent["uri"] == "/dir/index.html"


def test_rfc_7616_md5_and_sha256_vectors():
    base = (
        'realm="http-auth@example.org", qop="auth, auth-int", '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    for algorithm, expected in (
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ):
        challenge = digest.parse_challenge(f"Digest {base}, algorithm={algorithm}")
        header = digest.authorization(challenge, "Mufasa", "Circle of Life", "GET", "/dir/index.html", 1, cnonce)
        assert fields(header)["response"] == expected
        assert fields(header)["algorithm"] == algorithm


def test_no_qop_is_rfc_2069_and_unsupported_schemes_send_nothing():
    challenge = digest.parse_challenge('Digest realm="enphaseenergy.com", nonce="abc"')
    header = digest.authorization(challenge, "envoy", "016034", "GET", "/api/v1/production", 1, "c")
    assert "nc=" not in header and "qop" not in header
    assert digest.authorization({**challenge, "qop": "auth-int"}, "u", "p", "GET", "/", 1, "c") is None
    assert digest.authorization({**challenge, "algorithm": "SHA-999"}, "u", "p", "GET", "/", 1, "c") is None
    assert digest.parse_challenge('Basic realm="x"') is None
    assert digest.parse_challenge("") is None


def test_a_challenge_beside_basic_and_with_escaped_quotes():
    challenge = digest.parse_challenge('Basic realm="b", Digest realm="say \\"hi\\"", nonce="n1", stale=true')
    assert challenge["realm"] == 'say "hi"' and challenge["nonce"] == "n1" and challenge["stale"] == "true"
