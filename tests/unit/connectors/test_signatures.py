import base64
import hashlib
import hmac

from streams.connectors.signatures import Verdict, key_matches, sign, verify

OLD = base64.b64decode(base64.b64encode(b"old-secret-0123456789"))
NEW = b"new-secret-9876543210"
BODY = b'[{"eventID": "e1"}]'


def test_signature_is_dcsa_format_over_the_raw_body():
    header = sign(BODY, NEW)
    assert header == "sha256=" + hmac.new(NEW, BODY, hashlib.sha256).hexdigest()
    assert verify(BODY, header, [NEW]) is Verdict.VALID


def test_rotation_accepts_either_secret_and_nothing_else():
    for key in (OLD, NEW):
        assert verify(BODY, sign(BODY, key), [NEW, OLD]) is Verdict.VALID
    assert verify(BODY, sign(BODY, b"someone-else-entirely"), [NEW, OLD]) is Verdict.MISMATCH
    assert verify(BODY, sign(BODY, OLD), [NEW]) is Verdict.MISMATCH  # the old one, once retired


def test_a_changed_body_or_a_malformed_header_is_refused():
    header = sign(BODY, NEW)
    assert verify(BODY + b" ", header, [NEW]) is Verdict.MISMATCH
    assert verify(BODY, None, [NEW]) is Verdict.MISSING
    assert verify(BODY, "  ", [NEW]) is Verdict.MISSING
    assert verify(BODY, header.replace("sha256", "sha1"), [NEW]) is Verdict.MALFORMED
    assert verify(BODY, "sha256=" + "zz" * 32, [NEW]) is Verdict.MALFORMED
    assert verify(BODY, "sha256=abc", [NEW]) is Verdict.MALFORMED
    assert verify(BODY, header.upper().replace("SHA256", "sha256"), [NEW]) is Verdict.VALID  # hex case-insensitive


def test_api_keys_match_exactly():
    assert key_matches("k" * 20, ["x" * 20, "k" * 20])
    assert not key_matches("k" * 19, ["k" * 20])
    assert not key_matches("", [])
