"""The keys that protect personal data are checked before deployment, with a hint to make one."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.core import checks

from beneficiaires.checks import check_privacy_keys


def ids(messages: list[checks.CheckMessage]) -> list[str | None]:
    return [message.id for message in messages]


def a_key() -> str:
    return Fernet.generate_key().decode()


def test_proper_keys_pass(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [a_key(), a_key()]
    settings.PRIVACY_HASH_KEY = "a-long-random-hash-key-for-the-tests-only"

    assert check_privacy_keys() == []


def test_missing_encryption_keys_are_flagged_with_how_to_make_one(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.PRIVACY_HASH_KEY = "set"

    messages = check_privacy_keys()

    assert ids(messages) == ["beneficiaires.W001"]
    assert isinstance(messages[0], checks.Warning)
    assert "Fernet.generate_key()" in (messages[0].hint or "")


def test_a_missing_hash_key_is_flagged(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [a_key()]
    settings.PRIVACY_HASH_KEY = ""

    messages = check_privacy_keys()

    assert ids(messages) == ["beneficiaires.W002"]
    assert isinstance(messages[0], checks.Warning)
    assert "python -c" in (messages[0].hint or "")


def test_both_missing_give_both_warnings(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.PRIVACY_HASH_KEY = ""

    assert ids(check_privacy_keys()) == ["beneficiaires.W001", "beneficiaires.W002"]


def test_each_malformed_encryption_key_is_an_error_naming_its_position(settings: Any) -> None:
    settings.PRIVACY_HASH_KEY = "set"
    too_short = "c2hvcnQ="  # valid base64, 5 bytes
    not_base64 = "not a key!" * 5
    not_ascii = "é" * 44
    settings.FIELD_ENCRYPTION_KEYS = [a_key(), too_short, not_base64, not_ascii]

    messages = check_privacy_keys()

    assert ids(messages) == ["beneficiaires.E001"] * 3
    assert all(isinstance(message, checks.Error) for message in messages)
    assert [message.msg.split(" is ")[0] for message in messages] == [
        "FIELD_ENCRYPTION_KEYS entry 2",
        "FIELD_ENCRYPTION_KEYS entry 3",
        "FIELD_ENCRYPTION_KEYS entry 4",
    ]
    assert "Fernet.generate_key()" in (messages[0].hint or "")


def test_spaces_around_a_key_are_tolerated_as_the_fields_do(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [f" {a_key()} ", a_key()]
    settings.PRIVACY_HASH_KEY = "set"

    assert check_privacy_keys() == []


def test_only_blank_entries_is_an_error(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [" ", ""]
    settings.PRIVACY_HASH_KEY = "set"

    assert ids(check_privacy_keys()) == ["beneficiaires.E001"]


def test_the_check_runs_with_the_deploy_checks_only(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.PRIVACY_HASH_KEY = ""

    deploy = ids(checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security]))
    regular = ids(checks.run_checks(tags=[checks.Tags.security]))

    assert {"beneficiaires.W001", "beneficiaires.W002"} <= set(deploy)
    assert not {"beneficiaires.W001", "beneficiaires.W002"} & set(regular)
