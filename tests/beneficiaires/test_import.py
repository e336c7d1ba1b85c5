"""Importing households from a CSV or XLSX file: a dry run first, then one idempotent import."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from beneficiaires.consent import PARTICIPATION_CONSENT_VERSION
from beneficiaires.imports import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    ImportFileError,
    Verdict,
    apply_import,
    check_import,
    parse_file,
    rows_of,
)
from beneficiaires.models import (
    AuditEntry,
    Consent,
    EligibilityCriterion,
    Household,
    ImportRun,
)
from beneficiaires.services import criterion_field_name, enroll_household
from tests.factories import EligibilityCriterionFactory, OrganizationFactory, ProgramFactory
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

SAMPLE = Path(settings.BASE_DIR) / "docs" / "exemples" / "menages-exemple.csv"
QUESTION = "refere"


@pytest.fixture(autouse=True)
def _a_yes_no_question(world: Any) -> None:
    """Program a asks one yes/no question (its column: critere_refere)."""
    world.a.question = EligibilityCriterionFactory(
        program=world.a.program, kind=EligibilityCriterion.Kind.REFERRED, key=QUESTION
    )


def import_url(organization: Any) -> str:
    return reverse("beneficiaires:household_import", kwargs={"slug": organization.slug})


def detail_url(run: ImportRun) -> str:
    return reverse(
        "beneficiaires:import_detail", kwargs={"slug": run.organization.slug, "pk": run.pk}
    )


def header(scope: Any) -> list[str]:
    return [
        "nom",
        "adultes",
        "enfants",
        "code_postal",
        "annee_naissance",
        "telephone",
        "consentement_contact",
        "consentement_sondage",
        criterion_field_name(scope.question),
    ]


def household_rows(count: int = 3, start: int = 0) -> list[list[str]]:
    return [
        [f"Personne Importée {n}", "2", "1", "G0A 1A0", "1980", "", "non", "non", "oui"]
        for n in range(start, start + count)
    ]


def csv_bytes(
    rows: list[list[str]],
    columns: list[str],
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> bytes:
    lines = [delimiter.join(columns), *(delimiter.join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[Any]], columns: list[str]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(
    client: Client,
    scope: Any,
    content: bytes,
    filename: str = "menages.csv",
    consent: bool = True,
) -> Any:
    data: dict[str, Any] = {
        "program": scope.program.slug,
        "file": SimpleUploadedFile(filename, content),
    }
    if consent:
        data["consent"] = "on"
    return client.post(import_url(scope.organization), data)


def run_of(response: Any) -> ImportRun:
    assert response.status_code == 302, response.status_code
    pk = int(re.search(r"/importations/(\d+)/", response["Location"]).group(1))  # type: ignore[union-attr]
    return ImportRun.objects.get(pk=pk)


def written() -> tuple[int, int, int]:
    return Household.objects.count(), Consent.objects.count(), AuditEntry.objects.count()


def imported(scope: Any) -> list[Household]:
    return list(
        Household.objects.filter(
            organization=scope.organization, name__isnull=False, enrolled_by=scope.intervenant
        )
        .exclude(pk=scope.household.pk)
        .order_by("pk")
    )


# --- Reading the file ---------------------------------------------------------------------


def test_a_csv_file_is_checked_without_writing_anything_but_the_run(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)
    before = written()

    response = upload(client, world.a, csv_bytes(household_rows(3), header(world.a)))

    run = run_of(response)
    assert response["Location"] == detail_url(run)
    assert written() == before
    assert run.status == ImportRun.Status.CHECKED
    assert (run.row_count, run.created_count, run.skipped_count, run.error_count) == (3, 3, 0, 0)
    assert run.uploaded_by == world.a.intervenant
    assert run.filename == "menages.csv"
    assert len(run.file_sha256) == 64
    page = text(client.get(detail_url(run)))
    assert "À créer" in page
    assert "Personne Importée 2" in page
    assert "Importer 3 ménages" in page
    assert [row.line for row in rows_of(run)] == [2, 3, 4]


def test_the_stored_rows_are_encrypted_at_rest(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    run = run_of(upload(client, world.a, csv_bytes(household_rows(1), header(world.a))))

    with connection.cursor() as cursor:
        cursor.execute("SELECT rows FROM beneficiaires_importrun WHERE id = %s", [run.pk])
        raw = cursor.fetchone()[0]
    assert "Personne" not in raw


def test_an_xlsx_file_is_read_like_a_csv(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    rows: list[list[Any]] = [
        ["Alex Xlsx", 2, 0, "G0A 1A0", 1979, 4185550199, "oui", "", "x"],
        ["Billie Xlsx", 1.0, None, "g5l2x9", None, None, None, True, 1],
    ]

    run = run_of(upload(client, world.a, xlsx_bytes(rows, header(world.a)), "Ménages.XLSX"))

    parsed = rows_of(run)
    assert [row.verdict for row in parsed] == [Verdict.CREATE, Verdict.CREATE]
    assert (parsed[0].adults, parsed[0].year_of_birth, parsed[0].phone) == (
        2,
        "1979",
        "4185550199",
    )
    assert parsed[1].consents == [Consent.Purpose.SURVEY]

    client.post(detail_url(run), {"action": "apply"})

    alex, billie = imported(world.a)
    assert alex.phone == "+14185550199"
    assert (billie.adults, billie.children, billie.postal_code) == (1, 0, "G5L 2X9")


def test_a_windows_csv_with_commas_a_bom_or_another_case_is_read(world: Any) -> None:
    columns = ["NOM", "Adultes", "Enfants", "Code Postal", "Année naissance", "Critère " + QUESTION]
    rows = [["Gaëlle Bérubé-Côté", "1", "0", "G0A 1A0", "1990", "Oui"]]

    for content in (
        csv_bytes(rows, columns, delimiter=";", encoding="cp1252"),
        b"\xef\xbb\xbf" + csv_bytes(rows, columns, delimiter=","),
    ):
        parsed = parse_file(filename="menages.csv", content=content, program=world.a.program)

        (row,) = parsed.rows
        assert row.name == "Gaëlle Bérubé-Côté"
        assert row.year_of_birth == "1990"
        assert row.answers == {QUESTION: True}
        assert not row.problem


def test_unknown_columns_are_ignored_and_named(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    columns = [*header(world.a), "NAS"]
    rows = [[*row, "123 456 789"] for row in household_rows(1)]

    response = upload(client, world.a, csv_bytes(rows, columns))

    run = run_of(response)
    assert "123 456 789" not in run.rows
    page = client.get(detail_url(run))
    assert any("Colonnes ignorées (inconnues) : NAS." in m for m in messages_of(page))


def test_the_sample_file_of_the_guide_is_importable(world: Any) -> None:
    program = ProgramFactory()
    organization = OrganizationFactory(program=program)
    EligibilityCriterionFactory(
        program=program, kind=EligibilityCriterion.Kind.INCOME, key="revenu"
    )

    run, parsed = check_import(
        organization=organization,
        program=program,
        filename=SAMPLE.name,
        content=SAMPLE.read_bytes(),
        uploaded_by=world.a.intervenant,
    )

    assert [row.verdict for row in parsed.rows] == [Verdict.CREATE] * 4, [
        row.message for row in parsed.rows
    ]
    assert run.row_count == 4


# --- Bad files ----------------------------------------------------------------------------


def _too_big(scope: Any) -> bytes:
    content = csv_bytes(household_rows(1), header(scope))
    return content + b" " * (MAX_FILE_BYTES + 1 - len(content))


BAD_FILES = {
    "wrong extension": (
        "menages.txt",
        lambda s: csv_bytes(household_rows(1), header(s)),
        "Choisissez un fichier CSV (.csv) ou Excel (.xlsx).",
    ),
    "binary garbage": (
        "menages.csv",
        lambda s: bytes(range(256)) * 8,
        "Ce fichier n'est pas un fichier CSV lisible.",
    ),
    "garbage called xlsx": (
        "menages.xlsx",
        lambda s: b"PK\x03\x04 ceci n'est pas un classeur",
        "Ce fichier n'est pas un classeur Excel (.xlsx) lisible.",
    ),
    "unreadable accents": (
        "menages.csv",
        lambda s: b"nom\nCamille \x81\x8d\n",
        "Les accents de ce fichier sont illisibles.",
    ),
    "too big": ("menages.csv", _too_big, "Le fichier dépasse 2 Mo"),
    "no nom column": (
        "menages.csv",
        lambda s: csv_bytes([["Camille", "G0A 1A0"]], ["personne", "code_postal"]),
        "La colonne « nom » manque.",
    ),
    "header only": (
        "menages.csv",
        lambda s: csv_bytes([], header(s)),
        "Le fichier ne contient aucun ménage",
    ),
    "blank": ("menages.csv", lambda s: b"\r\n ; ;\r\n", "Le fichier est vide."),
    "missing criterion column": (
        "menages.csv",
        lambda s: csv_bytes([["Camille", "G0A 1A0"]], ["nom", "code_postal"]),
        "ajoutez une colonne oui/non pour chacune",
    ),
    "same column twice": (
        "menages.csv",
        lambda s: csv_bytes([["A", "B"]], ["nom", "Nom"]),
        "La colonne « Nom » apparaît deux fois.",
    ),
    "too many rows": (
        "menages.csv",
        lambda s: csv_bytes(household_rows(MAX_ROWS + 1), header(s)),
        "Le fichier compte plus de 2000 ménages",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_gets_a_french_message_and_writes_nothing(
    client: Client, world: Any, case: str
) -> None:
    filename, build, message = BAD_FILES[case]
    client.force_login(world.a.intervenant)
    runs, before = ImportRun.objects.count(), written()

    response = upload(client, world.a, build(world.a), filename)

    assert response.status_code == 400
    assert message in text(response)
    assert 'id="id_file_error"' in response.content.decode()
    assert ImportRun.objects.count() == runs
    assert written() == before


def test_an_empty_upload_is_refused(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    runs = ImportRun.objects.count()

    response = upload(client, world.a, b"")

    assert response.status_code == 400
    assert "Le fichier est vide." in text(response)
    assert ImportRun.objects.count() == runs


def test_the_consent_attestation_is_required(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    runs = ImportRun.objects.count()

    response = upload(client, world.a, csv_bytes(household_rows(1), header(world.a)), consent=False)

    assert response.status_code == 400
    assert "Le consentement de chaque personne est obligatoire" in text(response)
    assert ImportRun.objects.count() == runs


def test_parse_file_raises_a_coded_error(world: Any) -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_file(filename="x.csv", content=b"adultes\n2\n", program=world.a.program)
    assert caught.value.code == "missing_columns"


# --- Row verdicts -------------------------------------------------------------------------


def test_rows_in_error_are_reported_by_line_and_never_created(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    rows = [
        ["Bonne Ligne", "1", "0", "G0A 1A0", "", "", "non", "non", "oui"],
        ["Code Faux", "1", "0", "Z9Z 9Z9", "", "", "non", "non", "oui"],
        ["", "1", "0", "G0A 1A0", "", "", "non", "non", "oui"],
        ["Sans Consentement", "1", "0", "G0A 1A0", "", "418 555-0199", "non", "non", "oui"],
        ["Non Référée", "1", "0", "G0A 1A0", "", "", "non", "non", "non"],
        ["Peut-être", "1", "0", "G0A 1A0", "", "", "peut-être", "non", "oui"],
        ["Deux Adultes", "deux", "0", "G0A 1A0", "", "", "non", "non", "oui"],
    ]

    run = run_of(upload(client, world.a, csv_bytes(rows, header(world.a))))

    verdicts = {row.line: (row.verdict, row.message) for row in rows_of(run)}
    assert verdicts[2] == (Verdict.CREATE, "")
    assert verdicts[3][0] == verdicts[4][0] == verdicts[5][0] == Verdict.ERROR
    assert verdicts[3][1].startswith("Code postal invalide")
    assert verdicts[4][1].startswith("Indiquez le nom de la personne répondante")
    assert "consent à être contactée" in verdicts[5][1]
    assert verdicts[6] == (
        Verdict.ERROR,
        "Ce ménage ne remplit pas ce critère du programme : "
        "La personne est-elle référée par l'organisme ?",
    )
    assert verdicts[7][1] == (
        "Valeur « peut-être » dans la colonne consentement_contact : écrivez oui ou non."
    )
    assert verdicts[8][1] == (
        "Valeur « deux » dans la colonne adultes : indiquez un nombre entier."
    )
    assert (run.created_count, run.error_count) == (1, 6)
    page = text(client.get(detail_url(run)))
    assert "Erreur : Code postal invalide" in page
    errors_only = text(client.get(detail_url(run) + "?lignes=erreurs"))
    assert "Code Faux" in errors_only
    assert "Bonne Ligne" not in errors_only

    response = client.post(detail_url(run), {"action": "apply"})

    assert [h.name for h in imported(world.a)] == ["Bonne Ligne"]
    shown = messages_of(client.get(response["Location"]))
    assert (
        "Importation terminée. Ménages inscrits : 1 (dont 0 en liste d'attente); lignes "
        "ignorées : 0; lignes en erreur : 6."
    ) in shown
    assert any(m.startswith("Ligne 3 non importée : Code postal invalide") for m in shown)
    run.refresh_from_db()
    assert (run.created_count, run.skipped_count, run.error_count) == (1, 0, 6)


def test_a_household_of_another_organization_is_created_for_the_coordination_to_check(
    client: Client, world: Any
) -> None:
    other = OrganizationFactory(program=world.a.program)
    enroll_household(
        organization=other,
        program=world.a.program,
        name="Personne Importée 0",
        adults=2,
        children=1,
        postal_code="G0A 1A0",
        year_of_birth=1980,
        preferred_language="fr",
        consent_given=True,
        enrolled_by=world.a.coordinator,
        answers={QUESTION: True},
    )
    client.force_login(world.a.intervenant)

    run = run_of(upload(client, world.a, csv_bytes(household_rows(1), header(world.a))))

    assert rows_of(run)[0].verdict == Verdict.DUPLICATE
    assert "Doublon possible : la coordination vérifiera" in text(client.get(detail_url(run)))
    client.post(detail_url(run), {"action": "apply"})
    (household,) = imported(world.a)
    assert household.duplicate_review == Household.DuplicateReview.PENDING


def test_the_same_household_twice_in_one_file_is_created_once(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    rows = [
        *household_rows(1),
        ["  personne IMPORTÉE 0 ", "2", "1", "g0a1a0", "1980", "", "", "", "x"],
    ]

    run = run_of(upload(client, world.a, csv_bytes(rows, header(world.a))))

    assert [(r.verdict, r.message) for r in rows_of(run)] == [
        (Verdict.CREATE, ""),
        (Verdict.SKIP, "Même ménage que la ligne 2 : ignoré."),
    ]
    client.post(detail_url(run), {"action": "apply"})
    assert len(imported(world.a)) == 1
    run.refresh_from_db()
    assert (run.created_count, run.skipped_count) == (1, 1)


def test_a_full_quota_puts_the_rows_on_the_waitlist(client: Client, world: Any) -> None:
    world.a.organization.partnership_set.update(household_quota=1)
    client.force_login(world.a.intervenant)

    run = run_of(upload(client, world.a, csv_bytes(household_rows(1), header(world.a))))

    assert rows_of(run)[0].verdict == Verdict.WAITLIST
    assert "À créer en liste d'attente" in text(client.get(detail_url(run)))
    client.post(detail_url(run), {"action": "apply"})
    (household,) = imported(world.a)
    assert household.status == Household.Status.WAITLISTED


# --- Applying -----------------------------------------------------------------------------


def test_applying_creates_the_households_with_their_consents_and_audit_rows(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)
    rows = household_rows(2)
    rows[0][5:8] = ["418 555-0199", "oui", "oui"]
    run = run_of(upload(client, world.a, csv_bytes(rows, header(world.a))))

    response = client.post(detail_url(run), {"action": "apply"})

    assert response.status_code == 302
    assert response["Location"] == detail_url(run)
    first, second = imported(world.a)
    assert (first.name, first.adults, first.children, first.year_of_birth) == (
        "Personne Importée 0",
        2,
        1,
        1980,
    )
    assert first.phone == "+14185550199"
    assert first.eligibility[QUESTION] is True
    assert first.status == Household.Status.ACTIVE
    assert sorted(first.consents.values_list("purpose", flat=True)) == [
        "contact",
        "participation",
        "survey",
    ]
    assert list(second.consents.values_list("purpose", "text_version")) == [
        ("participation", PARTICIPATION_CONSENT_VERSION)
    ]
    for household in (first, second):
        entry = household.audit_entries.get()
        assert (entry.action, entry.user) == (AuditEntry.Action.CREATE, world.a.intervenant)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.APPLIED
    assert run.applied_at is not None
    assert rows_of(run) == []
    assert (run.created_count, run.skipped_count, run.error_count) == (2, 0, 0)
    page = text(client.get(detail_url(run)))
    assert "Personne Importée" not in page
    assert "Les lignes du fichier ont été effacées" in page


def test_importing_the_same_file_twice_gives_the_same_households(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)
    content = csv_bytes(household_rows(3), header(world.a))
    first_run = run_of(upload(client, world.a, content))
    client.post(detail_url(first_run), {"action": "apply"})
    households = {(h.pk, h.reference) for h in imported(world.a)}
    before = written()

    second_run = run_of(upload(client, world.a, content))

    assert written() == before
    assert {row.verdict for row in rows_of(second_run)} == {Verdict.SKIP}
    assert (second_run.created_count, second_run.skipped_count) == (0, 3)
    page = text(client.get(detail_url(second_run)))
    reference = min(reference for _pk, reference in households)
    assert f"Déjà inscrit par votre organisme (réf. {reference}) : ignoré" in page
    assert "Ce fichier a déjà été importé le" in page

    client.post(detail_url(second_run), {"action": "apply"})

    assert {(h.pk, h.reference) for h in imported(world.a)} == households
    assert written() == before
    second_run.refresh_from_db()
    assert second_run.status == ImportRun.Status.APPLIED
    assert (second_run.created_count, second_run.skipped_count) == (0, 3)


def test_a_double_apply_creates_nothing_more(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    run = run_of(upload(client, world.a, csv_bytes(household_rows(2), header(world.a))))
    client.post(detail_url(run), {"action": "apply"})
    after_first = written()

    response = client.post(detail_url(run), {"action": "apply"}, follow=True)

    assert written() == after_first
    assert len(imported(world.a)) == 2
    assert "Cette importation a déjà été faite : aucun ménage n'a été ajouté." in messages_of(
        response
    )
    stale = ImportRun.objects.get(pk=run.pk)
    stale.status = ImportRun.Status.CHECKED  # an old copy in memory changes nothing either
    assert apply_import(run=stale, applied_by=world.a.intervenant).applied is False
    assert written() == after_first


def test_each_row_is_checked_again_when_applied(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    run = run_of(upload(client, world.a, csv_bytes(household_rows(2), header(world.a))))
    # Meanwhile, someone enrolls the first household by hand.
    enroll_household(
        organization=world.a.organization,
        program=world.a.program,
        name="Personne Importée 0",
        adults=2,
        children=1,
        postal_code="G0A 1A0",
        year_of_birth=1980,
        preferred_language="fr",
        consent_given=True,
        enrolled_by=world.a.coordinator,
        answers={QUESTION: True},
    )

    result = apply_import(run=run, applied_by=world.a.intervenant)

    assert [h.name for h in result.created] == ["Personne Importée 1"]
    assert result.skipped_lines == [2]
    assert Household.objects.filter(organization=world.a.organization).count() == 3


def test_a_checked_run_can_be_discarded(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    run = run_of(upload(client, world.a, csv_bytes(household_rows(1), header(world.a))))
    before = written()

    response = client.post(detail_url(run), {"action": "discard"})

    assert response.status_code == 302
    assert response["Location"] == import_url(world.a.organization)
    assert not ImportRun.objects.filter(pk=run.pk).exists()
    assert written() == before


def test_an_unknown_action_changes_nothing(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    run = run_of(upload(client, world.a, csv_bytes(household_rows(1), header(world.a))))
    before = written()

    response = client.post(detail_url(run), {"action": "tout-effacer"})

    assert response.status_code == 400
    assert "Action inconnue : rien n'a été modifié." in messages_of(response)
    assert written() == before
    assert ImportRun.objects.get(pk=run.pk).status == ImportRun.Status.CHECKED


def test_a_coordinator_of_the_program_sees_and_applies_a_run(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    run = run_of(upload(client, world.a, csv_bytes(household_rows(1), header(world.a))))
    client.force_login(world.a.coordinator)

    assert client.get(detail_url(run)).status_code == 200
    client.post(detail_url(run), {"action": "apply"})

    household = Household.objects.get(program=world.a.program, enrolled_by=world.a.coordinator)
    assert household.name == "Personne Importée 0"


# --- Who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["b-intervenant", "b-coordinator", "vendor", "market_manager", "nobody"]
)
def test_outsiders_get_404_on_both_pages_and_change_nothing(
    client: Client, world: Any, who: str
) -> None:
    users = {
        "b-intervenant": world.b.intervenant,
        "b-coordinator": world.b.coordinator,
        "vendor": world.a.vendor_user,
        "market_manager": world.a.manager,
        "nobody": world.nobody,
    }
    client.force_login(world.a.intervenant)
    run = run_of(upload(client, world.a, csv_bytes(household_rows(1), header(world.a))))
    client.force_login(users[who])
    before, runs = written(), ImportRun.objects.count()

    assert client.get(import_url(world.a.organization)).status_code == 404
    assert upload(client, world.a, csv_bytes(household_rows(1), header(world.a))).status_code == 404
    assert client.get(detail_url(run)).status_code == 404
    assert client.post(detail_url(run), {"action": "apply"}).status_code == 404
    assert client.post(detail_url(run), {"action": "discard"}).status_code == 404

    assert written() == before
    assert ImportRun.objects.count() == runs
    assert ImportRun.objects.get(pk=run.pk).status == ImportRun.Status.CHECKED


def test_a_run_is_not_reachable_through_another_organization(client: Client, world: Any) -> None:
    client.force_login(world.b.intervenant)
    url = reverse(
        "beneficiaires:import_detail",
        kwargs={"slug": world.b.organization.slug, "pk": world.a.import_run.pk},
    )

    assert client.get(url).status_code == 404


def test_the_import_page_lists_the_runs_or_an_empty_state(client: Client, world: Any) -> None:
    organization = OrganizationFactory(program=world.a.program)
    organization.members.add(world.a.intervenant)
    client.force_login(world.a.intervenant)

    empty = client.get(import_url(organization))
    listed = client.get(import_url(world.a.organization))

    assert empty.status_code == listed.status_code == 200
    assert "Aucune importation pour l'instant." in text(empty)
    assert world.a.import_run.filename in text(listed)
    assert criterion_field_name(world.a.question) in text(listed)
    assert "Aucune importation pour l'instant." not in text(listed)


def test_the_detail_page_makes_the_same_queries_for_3_and_30_rows(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.a.intervenant)
    few = run_of(upload(client, world.a, csv_bytes(household_rows(3), header(world.a))))
    many = run_of(upload(client, world.a, csv_bytes(household_rows(30, 100), header(world.a))))
    few_url, many_url = detail_url(few), detail_url(many)
    client.get(few_url)  # the session and messages settle

    with CaptureQueriesContext(connection) as counted:
        assert client.get(few_url).status_code == 200

    with django_assert_max_num_queries(len(counted.captured_queries)):
        response = client.get(many_url)
    assert "Personne Importée 129" in text(response)
