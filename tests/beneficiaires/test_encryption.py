"""The database file holds no household name or phone number in clear text.

Names, contact details and notes are encrypted before they reach the database (Fernet keys from
FIELD_ENCRYPTION_KEYS); look-ups go through keyed hashes; the audit log names fields, never
values; and a key can be rotated without losing what was written under the old one.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.signals import setting_changed
from django.db import connection

from beneficiaires import privacy, services
from beneficiaires.fields import EncryptedCharField, EncryptedTextField
from beneficiaires.models import AuditEntry, EnrollmentPolicy, Household
from tests.factories import OrganizationFactory, ProgramFactory, UserFactory

NAME = "Marie-Ève Zéphirin-Quintavalle"
PHONE = "418 555-0199"
EMAIL = "zephirin.quintavalle@exemple.ca"
NOTES = "Préfère la distribution du jeudi (covoiturage Xanthoxyle)."
NEW_NAME = "Marie-Ève Zéphirin-Quintavalle Bélanger-Wojcik"
NEW_PHONE = "581 555-0142"
NEW_NOTES = "Déménage en août; rappeler Wojcik-Xanthoxyle."

# What must never be found in clear: every value, its distinctive words, and the phone digits
# in the forms a person or a program would type or store them.
SECRETS = [
    NAME,
    NEW_NAME,
    "Zéphirin",
    "Quintavalle",
    "Wojcik",
    "Xanthoxyle",
    EMAIL,
    "zephirin.quintavalle",
    NOTES,
    NEW_NOTES,
    PHONE,
    NEW_PHONE,
    "4185550199",
    "418-555-0199",
    "5815550142",
    "581-555-0142",
    "(418) 555-0199",
    "(581) 555-0142",
]


def variants(secret: str) -> set[str]:
    """The secret as typed, in other cases, without accents, and decomposed (NFD)."""
    forms = {secret, secret.lower(), secret.upper(), secret.casefold(), secret.title()}
    forms |= {privacy.normalize_text(form) for form in list(forms) if privacy.normalize_text(form)}
    forms |= {
        "".join(c for c in unicodedata.normalize("NFKD", form) if not unicodedata.combining(c))
        for form in list(forms)
    }
    forms |= {unicodedata.normalize("NFD", form) for form in list(forms)}
    return forms


def needles() -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for secret in SECRETS:
        for form in variants(secret):
            for encoding in ("utf-8", "utf-16-le"):
                found[form.encode(encoding)] = f"{form!r} ({encoding})"
    return found


def encrypted_fields() -> list[EncryptedCharField | EncryptedTextField]:
    return [
        field
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedCharField | EncryptedTextField)
    ]


def forget_cached_keys() -> None:
    # The fields cache their Fernet keys (cached_property on the field instance).
    for field in encrypted_fields():
        field.__dict__.pop("keys", None)
        field.__dict__.pop("f", None)


@pytest.fixture
def key_settings(settings: Any) -> Iterator[Any]:
    """`settings`, with the encrypted fields re-reading their keys whenever the keys change.

    Teardown order: this fixture forgets the keys before `settings` restores the real ones, so
    the next test reads the restored keys.
    """

    def reset(*, setting: str, **kwargs: Any) -> None:
        if setting in {"FIELD_ENCRYPTION_KEYS", "SECRET_KEY"}:
            forget_cached_keys()

    setting_changed.connect(reset, dispatch_uid="test_encryption_reset_keys")
    forget_cached_keys()
    yield settings
    setting_changed.disconnect(dispatch_uid="test_encryption_reset_keys")
    forget_cached_keys()


@pytest.fixture
def enrolled(db: Any) -> Household:
    """A household enrolled and then rectified through the services, as a page would do."""
    program = ProgramFactory()
    EnrollmentPolicy.objects.create(program=program, notes_allowed=True)
    organization = OrganizationFactory(program=program)
    intervenant = UserFactory()
    household = services.enroll_household(
        organization=organization,
        program=program,
        name=NAME,
        adults=2,
        children=1,
        postal_code="G0A 1A0",
        preferred_language="fr",
        consent_given=True,
        enrolled_by=intervenant,
        phone=PHONE,
        email=EMAIL,
        year_of_birth=1984,
        notes=NOTES,
        optional_consents=["contact"],
    )
    services.update_household(
        household=household,
        details=services.HouseholdDetails(
            name=NEW_NAME,
            adults=2,
            children=1,
            postal_code="G0A 1A0",
            phone=NEW_PHONE,
            email=EMAIL,
            year_of_birth=1984,
            notes=NEW_NOTES,
        ),
        changed_by=intervenant,
    )
    return household


def text_needles() -> dict[str, str]:
    return {form: repr(form) for secret in SECRETS for form in variants(secret)}


def every_text_value() -> Iterator[tuple[str, str, str]]:
    """(table, column, value) for every non-empty value of every table, through SQL."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                column.name
                for column in connection.introspection.get_table_description(cursor, table)
            ]
            quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, memoryview | bytes | bytearray):
                        text = bytes(value).decode("utf-8", "replace")
                    else:
                        text = str(value)
                    yield table, column, text


@pytest.mark.django_db(transaction=True)
def test_the_database_file_holds_no_name_phone_email_or_notes_in_clear_text(
    enrolled: Household,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads the SQLite file; the SQL dump test covers PostgreSQL")
    path = Path(connection.settings_dict["NAME"])
    if not path.is_file():
        pytest.skip("the test database is not a file")
    # Everything is committed (transactional test); the WAL may hold pages not yet in the file.
    files = [file for file in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if file.exists()]
    content = b"".join(file.read_bytes() for file in files)
    assert len(content) > 0

    found = [label for needle, label in needles().items() if needle in content]

    assert found == [], f"found in clear text in {[str(f) for f in files]}: {found}"


@pytest.mark.django_db(transaction=True)
def test_no_text_column_of_any_table_holds_them(enrolled: Household) -> None:
    lowered = {form.casefold(): label for form, label in text_needles().items()}
    found = [
        f"{table}.{column} holds {label}"
        for table, column, text in every_text_value()
        for form, label in lowered.items()
        if form in text.casefold()
    ]

    assert found == []
    # The dump did see the household's row, encrypted.
    rows = {(table, column) for table, column, _text in every_text_value()}
    assert (Household._meta.db_table, "name") in rows


@pytest.mark.django_db(transaction=True)
def test_the_model_reads_everything_back_decrypted(enrolled: Household) -> None:
    household = Household.objects.get(pk=enrolled.pk)

    assert household.name == NEW_NAME
    assert household.phone == "+15815550142"
    assert household.email == EMAIL
    assert household.notes == NEW_NOTES
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, phone, email, notes FROM {Household._meta.db_table} WHERE id = %s",
            [household.pk],
        )
        stored = cursor.fetchone()
    # Fernet tokens ("gAAAAA…"), never the values.
    assert all(value.startswith("gAAAAA") for value in stored)


@pytest.mark.django_db(transaction=True)
def test_a_name_is_found_by_its_keyed_hash_whatever_its_case_accents_or_spacing(
    enrolled: Household,
) -> None:
    typed = "  MARIE eve  zephirin quintavalle   belanger wojcik "
    # normalize_text folds case and accents and turns punctuation into spaces; word order counts.
    assert privacy.normalize_text(typed) == privacy.normalize_text(NEW_NAME)
    assert privacy.normalize_text(NEW_NAME) == "marie eve zephirin quintavalle belanger wojcik"

    found = Household.objects.filter(name_hash=privacy.name_hash(typed))

    assert list(found) == [enrolled]
    assert not Household.objects.filter(name_hash=privacy.name_hash(NAME)).exists()
    # The hash is keyed: without the key, hashing the name gives nothing that matches.
    assert enrolled.name_hash not in {
        hashlib.sha256(form.encode()).hexdigest() for form in variants(NEW_NAME)
    }


@pytest.mark.django_db(transaction=True)
def test_the_audit_log_holds_field_names_only(enrolled: Household) -> None:
    entries = list(AuditEntry.objects.filter(household=enrolled).order_by("pk"))
    field_names = {field.name for field in Household._meta.get_fields()}

    assert [(entry.action, entry.fields) for entry in entries] == [
        (
            AuditEntry.Action.CREATE,
            sorted(
                [
                    "adults",
                    "children",
                    "email",
                    "name",
                    "notes",
                    "phone",
                    "postal_code",
                    "preferred_language",
                    "year_of_birth",
                ]
            ),
        ),
        (AuditEntry.Action.CHANGE, ["name", "notes", "phone"]),
    ]
    for entry in entries:
        assert set(entry.fields) <= field_names
        assert entry.user == enrolled.enrolled_by
        for secret in SECRETS:
            assert secret.casefold() not in entry.detail.casefold()


def raw_name(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name FROM {Household._meta.db_table} WHERE id = %s",
            [pk],
        )
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_rotating_the_encryption_key_keeps_old_values_readable(key_settings: Any) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    key_settings.FIELD_ENCRYPTION_KEYS = [old]
    program = ProgramFactory()
    household = services.enroll_household(
        organization=OrganizationFactory(program=program),
        program=program,
        name=NAME,
        adults=1,
        children=0,
        postal_code="G0A 1A0",
        preferred_language="fr",
        consent_given=True,
        enrolled_by=UserFactory(),
    )
    assert Fernet(old.encode()).decrypt(raw_name(household.pk).encode()).decode() == NAME

    # The new key goes first: values written under the old one still read.
    key_settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert Household.objects.get(pk=household.pk).name == NAME

    # Saving again re-encrypts under the new key (the procedure in docs/privacy/README.md).
    for stored in Household.objects.filter(pk=household.pk):
        stored.save(update_fields=["name", "phone", "email", "notes"])
    token = raw_name(household.pk).encode()
    assert Fernet(new.encode()).decrypt(token).decode() == NAME
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(token)

    # Once every row is re-encrypted, the old key can go.
    key_settings.FIELD_ENCRYPTION_KEYS = [new]
    assert Household.objects.get(pk=household.pk).name == NAME


@pytest.mark.django_db(transaction=True)
def test_without_its_key_a_value_does_not_read(key_settings: Any) -> None:
    key_settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    program = ProgramFactory()
    household = services.enroll_household(
        organization=OrganizationFactory(program=program),
        program=program,
        name=NAME,
        adults=1,
        children=0,
        postal_code="G0A 1A0",
        preferred_language="fr",
        consent_given=True,
        enrolled_by=UserFactory(),
    )

    key_settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    # The library hands back the token unchanged (it swallows InvalidToken): never the name.
    assert Household.objects.get(pk=household.pk).name != NAME


@pytest.mark.django_db(transaction=True)
def test_a_new_hash_key_finds_names_once_the_hashes_are_recomputed(
    settings: Any, enrolled: Household
) -> None:
    settings.PRIVACY_HASH_KEY = "une-nouvelle-cle-de-hachage-pour-le-test"
    assert not Household.objects.filter(name_hash=privacy.name_hash(NEW_NAME)).exists()

    # The procedure in docs/privacy/README.md.
    for household in Household.objects.filter(anonymized_at__isnull=True):
        household.name_hash = privacy.name_hash(household.name)
        household.duplicate_key = privacy.duplicate_key(
            household.name, household.year_of_birth, household.postal_code
        )
        household.save(update_fields=["name_hash", "duplicate_key"])

    assert list(Household.objects.filter(name_hash=privacy.name_hash(NEW_NAME))) == [enrolled]
    assert list(
        Household.objects.filter(duplicate_key=privacy.duplicate_key(NEW_NAME, 1984, "g0a1a0"))
    ) == [enrolled]
