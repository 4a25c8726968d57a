"""Standard Webhooks signatures, checked against the published test vector."""

from __future__ import annotations

import pytest

from monitor.alerts.signing import SigningError, decode_secret, sign, verify
from tests.alerts.receiver import verify as receiver_verify

# The vector of the Standard Webhooks reference libraries (e.g. the Python
# library's test_sign_function in standard-webhooks/standard-webhooks).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_published_test_vector_reproduces_exactly() -> None:
    assert sign(decode_secret(SECRET), MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_the_prefix_is_optional_as_in_the_reference_libraries() -> None:
    assert sign(decode_secret(SECRET.removeprefix("whsec_")), MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_verify_accepts_ours_among_several_and_rejects_tampering() -> None:
    key = decode_secret(SECRET)
    header = f"v1,bm9wZQ== v1a,xyz {EXPECTED}"
    assert verify(key, MSG_ID, TIMESTAMP, BODY, header)
    assert not verify(key, MSG_ID, TIMESTAMP, BODY + b" ", header)
    assert not verify(key, MSG_ID, TIMESTAMP + 1, BODY, header)
    assert not verify(key, "msg_other", TIMESTAMP, BODY, header)


def test_the_test_receiver_verifies_what_we_sign() -> None:
    import time

    now = int(time.time())
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(now),
               "webhook-signature": sign(decode_secret(SECRET), MSG_ID, now, BODY)}
    assert receiver_verify(SECRET, headers, BODY)
    assert not receiver_verify(SECRET, {**headers, "webhook-timestamp": str(now - 3600)}, BODY)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_c2hvcnQ=", ""])
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(SigningError):
        decode_secret(secret)


def test_an_id_with_a_dot_cannot_be_signed() -> None:
    with pytest.raises(SigningError):
        sign(decode_secret(SECRET), "msg_a.b", TIMESTAMP, BODY)
