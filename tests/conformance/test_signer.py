"""The independent signer reproduces every worked example of docs/sdk-facts.md §1.1, §1.2 and §1.1's MD5 line."""

from __future__ import annotations

import pytest

from tests.conformance.signer import authorization, content_md5, go_canonical, string_to_sign, token

DATE = "Thu, 01 Jun 2017 08:00:00 GMT"

#: sdk-facts.md §1.1 "Worked examples" (ak=ak, sk=sk): request, headers, string-to-sign, Authorization.
WORKED_EXAMPLES = [
    ("GET", "/v2/repos", {}, "GET\n\n\n" + DATE + "\n/v2/repos", "Pandora ak:V99-jl7J4r0y58krNFPkXgVXz_Y="),
    (
        "POST",
        "/v2/repos/test_repo/data?tags=",
        {"Content-Type": "text/plain"},
        "POST\n\ntext/plain\n" + DATE + "\n/v2/repos/test_repo/data",
        "Pandora ak:KpbOMP47BY_VFX6ABttO93KbOIU=",
    ),
    (
        "POST",
        "/v2/repos/test_repo",
        {"Content-Type": "application/json"},
        "POST\n\napplication/json\n" + DATE + "\n/v2/repos/test_repo",
        "Pandora ak:Td7AsYOTuIS_TkNP25-Cyxgj20A=",
    ),
    (
        "POST",
        "/v2/plugins/com.qiniu.MyParser",
        {"Content-Type": "application/java-archive", "Content-Md5": "gLL29S04bTCxYd2kCqsEIQ=="},
        "POST\ngLL29S04bTCxYd2kCqsEIQ==\napplication/java-archive\n" + DATE + "\n/v2/plugins/com.qiniu.MyParser",
        "Pandora ak:sbzY7wcSvkB6AlAkk703GfiRNH4=",
    ),
    (
        "PUT",
        "/v2/groups/g1",
        {"Content-Type": "application/json", "X-Qiniu-Zeta": "z", "X-Qiniu-Alpha": "a b"},
        "PUT\n\napplication/json\n" + DATE + "\n\nx-qiniu-alpha:a b\nx-qiniu-zeta:z/v2/groups/g1",
        "Pandora ak:-PwdKbCM65nMIcqVQiq-ATayCK0=",
    ),
]


@pytest.mark.parametrize(("method", "path", "headers", "expected_string", "expected_auth"), WORKED_EXAMPLES)
def test_the_worked_examples(
    method: str, path: str, headers: dict[str, str], expected_string: str, expected_auth: str
) -> None:
    signed = {**headers, "Date": DATE}
    assert string_to_sign(method, path, signed) == expected_string
    assert authorization("ak", "sk", method, path, signed) == expected_auth


def test_the_token_example() -> None:
    """sdk-facts.md §1.2 "Example": a data-push token for /v2/repos/test_repo/data until 2100-01-01."""
    assert token(
        "ak", "sk", method="POST", resource="/v2/repos/test_repo/data", expires=4102444800, content_type="text/plain"
    ) == (
        "Pandora ak:UI18ux_2AjNGh6nzjXt9oWjrBbw=:eyJyZXNvdXJjZSI6Ii92Mi9yZXBvcy90ZXN0X3JlcG8vZGF0YSIsImV4cGlyZXMiOjQx"
        "MDI0NDQ4MDAsImNvbnRlbnRNRDUiOiIiLCJjb250ZW50VHlwZSI6InRleHQvcGxhaW4iLCJoZWFkZXJzIjoiIiwibWV0aG9kIjoiUE9TVCJ9"
    )


def test_content_md5_and_go_spelling() -> None:
    """§1.1 Content-MD5 line (and seed-api.md's plugin notes): base64 of the digest; Go sends ``Content-Md5``."""
    assert content_md5(b"qiniu") == "gLL29S04bTCxYd2kCqsEIQ=="
    assert go_canonical("Content-MD5") == "Content-Md5"
    assert go_canonical("x-qiniu-alpha") == "X-Qiniu-Alpha"
