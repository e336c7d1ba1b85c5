"""Import of households from a CSV or XLSX file: read the file, check every row without
writing a household (the dry run), then apply the checked run once.

- `parse_file` reads the bytes into `ImportRow`s or raises `ImportFileError` (wrong type, size,
  encoding, missing columns…) with a message in the user's language.
- `check_import` runs `services.check_enrollment` on every row (it writes nothing), stores the
  rows and their verdicts in an `ImportRun` (encrypted: they hold names) and returns it.
- `apply_import` claims the run (checked → applied, once, whatever the double clicks), checks
  every row again (the program may have changed since), creates the households that pass with
  `services.create_household` and empties the stored rows. A row already enrolled by the same
  organization is skipped: importing the same file twice creates nothing new.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaires.models import (
    Consent,
    EligibilityCriterion,
    Household,
    ImportRun,
    Organization,
)
from beneficiaires.services import (
    EnrollmentCheck,
    EnrollmentError,
    HouseholdDetails,
    check_enrollment,
    create_household,
    criterion_field_name,
)
from programmes.models import Program

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
# A spreadsheet may hold blank rows between households; past this many records, stop reading.
MAX_RECORDS = MAX_ROWS * 5
MAX_COLUMNS = 60
# An XLSX file is a zip: refuse one that would expand to more than this (a "zip bomb").
MAX_XLSX_EXPANDED_BYTES = 40 * 1024 * 1024
EXTENSIONS = (".csv", ".xlsx")


class Verdict:
    """What applying a row would do (dry run) or did (apply)."""

    CREATE = "create"
    WAITLIST = "waitlist"
    DUPLICATE = "duplicate"  # possible duplicate in another organization: created, then checked
    SKIP = "skip"  # already enrolled by this organization (or earlier in the same file)
    ERROR = "error"

    TO_CREATE = frozenset({CREATE, WAITLIST, DUPLICATE})


class ImportFileError(Exception):
    """The file cannot be read as a list of households: nothing is checked nor written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_header(value: str) -> str:
    """ "Code postal" → "code_postal", "Année naissance" → "annee_naissance"."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    cleaned = "".join(c if c.isalnum() else " " for c in letters)
    return "_".join(cleaned.split())


# Column (normalized) → attribute of ImportRow. Aliases are other spellings people type.
_COLUMNS = {
    "nom": "name",
    "adultes": "adults",
    "enfants": "children",
    "code_postal": "postal_code",
    "langue": "preferred_language",
    "annee_naissance": "year_of_birth",
    "annee_de_naissance": "year_of_birth",
    "telephone": "phone",
    "courriel": "email",
    "notes": "notes",
    "consentement_contact": "consent_contact",
    "consentement_sondage": "consent_survey",
}
REQUIRED_COLUMNS = ("nom",)
_YES = frozenset({"oui", "o", "yes", "y", "1", "x", "vrai", "true"})
_NO = frozenset({"non", "n", "no", "0", "", "faux", "false"})
_LANGUAGES = {
    "": Household.Language.FRENCH,
    "fr": Household.Language.FRENCH,
    "francais": Household.Language.FRENCH,
    "french": Household.Language.FRENCH,
    "en": Household.Language.ENGLISH,
    "anglais": Household.Language.ENGLISH,
    "english": Household.Language.ENGLISH,
    "autre": Household.Language.OTHER,
    "other": Household.Language.OTHER,
}


@dataclass
class ImportRow:
    """One household as read from the file, with its verdict once checked."""

    line: int
    name: str = ""
    adults: int = 1
    children: int = 0
    postal_code: str = ""
    preferred_language: str = Household.Language.FRENCH
    year_of_birth: str = ""
    phone: str = ""
    email: str = ""
    notes: str = ""
    consents: list[str] = field(default_factory=list)
    answers: dict[str, bool] = field(default_factory=dict)
    # A value the file gets wrong before any rule applies (a "peut-être" in a yes/no column).
    problem: str = ""
    verdict: str = ""
    message: str = ""
    reference: str = ""

    def details(self) -> HouseholdDetails:
        return HouseholdDetails(
            name=self.name,
            adults=self.adults,
            children=self.children,
            postal_code=self.postal_code,
            preferred_language=self.preferred_language,
            phone=self.phone,
            email=self.email,
            year_of_birth=self.year_of_birth or None,
            notes=self.notes,
        )

    @property
    def is_error(self) -> bool:
        return self.verdict == Verdict.ERROR


@dataclass(frozen=True)
class ParsedFile:
    rows: list[ImportRow]
    ignored_columns: list[str]


# ---------------------------------------------------------------------------------------------
# Reading the file


def parse_file(*, filename: str, content: bytes, program: Program) -> ParsedFile:
    """The households of a CSV or XLSX file; raises ImportFileError for a file that cannot be
    read (each row's own problems are left for the checks)."""
    lowered = (filename or "").lower()
    if not lowered.endswith(EXTENSIONS):
        raise ImportFileError(
            "invalid_type",
            _("Choisissez un fichier CSV (.csv) ou Excel (.xlsx)."),
        )
    if not content:
        raise ImportFileError("empty", _("Le fichier est vide."))
    if len(content) > MAX_FILE_BYTES:
        raise ImportFileError(
            "too_big",
            _("Le fichier dépasse {size} Mo : divisez-le en plusieurs fichiers.").format(
                size=MAX_FILE_BYTES // (1024 * 1024)
            ),
        )
    records = _xlsx_records(content) if lowered.endswith(".xlsx") else _csv_records(content)
    return _rows_from_records(records, program)


def _csv_records(content: bytes) -> Iterator[tuple[int, list[str]]]:
    if b"\x00" in content:
        raise ImportFileError(
            "not_text",
            _(
                "Ce fichier n'est pas un fichier CSV lisible. Dans votre tableur, choisissez "
                "« Enregistrer sous » puis le format CSV (UTF-8)."
            ),
        )
    text = _decode(content)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, record in enumerate(reader, start=1):
            yield number, record[:MAX_COLUMNS]
    except csv.Error:
        raise ImportFileError(
            "invalid_csv",
            _("Ce fichier CSV est mal formé (guillemets non fermés ?). Corrigez-le et réessayez."),
        ) from None


def _decode(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Windows saves "CSV" in Windows-1252.
        return content.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError(
            "invalid_encoding",
            _(
                "Les accents de ce fichier sont illisibles. Enregistrez-le au format "
                "« CSV UTF-8 » et réessayez."
            ),
        ) from None


def _xlsx_records(content: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    unreadable = ImportFileError(
        "invalid_xlsx",
        _("Ce fichier n'est pas un classeur Excel (.xlsx) lisible."),
    )
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise unreadable from None
    if expanded > MAX_XLSX_EXPANDED_BYTES:
        raise unreadable
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors for a damaged file
        raise unreadable from None
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise ImportFileError("empty", _("Le fichier est vide."))
        try:
            for number, values in enumerate(
                sheets[0].iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1
            ):
                yield number, [_cell_text(value) for value in values]
        except ImportFileError:
            raise
        except Exception:
            raise unreadable from None
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def _rows_from_records(records: Iterable[tuple[int, list[str]]], program: Program) -> ParsedFile:
    criteria = [c for c in program.eligibility_criteria.all() if c.asks_question]
    criterion_columns = {normalize_header(criterion_field_name(c)): c for c in criteria}
    header: dict[int, str] | None = None
    ignored: list[str] = []
    rows: list[ImportRow] = []
    for count, (number, record) in enumerate(records, start=1):
        if count > MAX_RECORDS:
            raise _too_many_rows()
        cells = [(cell or "").strip() for cell in record]
        if not any(cells):
            continue
        if header is None:
            header, ignored = _read_header(cells, criterion_columns)
            continue
        if len(rows) >= MAX_ROWS:
            raise _too_many_rows()
        rows.append(_read_row(number, header, cells, criterion_columns))
    if header is None:
        raise ImportFileError("empty", _("Le fichier est vide."))
    if not rows:
        raise ImportFileError(
            "no_rows",
            _("Le fichier ne contient aucun ménage : seulement la ligne des noms de colonnes."),
        )
    return ParsedFile(rows=rows, ignored_columns=ignored)


def _too_many_rows() -> ImportFileError:
    return ImportFileError(
        "too_many_rows",
        _("Le fichier compte plus de {max} ménages : divisez-le en plusieurs fichiers.").format(
            max=MAX_ROWS
        ),
    )


def _read_header(
    cells: Sequence[str], criterion_columns: dict[str, EligibilityCriterion]
) -> tuple[dict[int, str], list[str]]:
    header: dict[int, str] = {}
    ignored: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        column = normalize_header(cell)
        if not column:
            continue
        known = column in criterion_columns or column in _COLUMNS
        canonical = _COLUMNS.get(column, column) if known else column
        if not known:
            ignored.append(cell)
            continue
        if canonical in seen:
            raise ImportFileError(
                "duplicate_column",
                _("La colonne « {column} » apparaît deux fois.").format(column=cell),
            )
        seen.add(canonical)
        header[index] = column
    missing = [name for name in REQUIRED_COLUMNS if name not in header.values()]
    if missing:
        raise ImportFileError(
            "missing_columns",
            _(
                "La colonne « {columns} » manque. La première ligne du fichier doit nommer les "
                "colonnes : nom, adultes, enfants, code_postal…"
            ).format(columns=", ".join(missing)),
        )
    missing_criteria = [name for name in criterion_columns if name not in header.values()]
    if missing_criteria:
        raise ImportFileError(
            "missing_columns",
            _(
                "Ce programme pose des questions d'admissibilité : ajoutez une colonne oui/non "
                "pour chacune ({columns})."
            ).format(
                columns="; ".join(
                    f"{criterion_field_name(criterion_columns[name])} : "
                    f"{criterion_columns[name].question}"
                    for name in missing_criteria
                )
            ),
        )
    return header, ignored


def _read_row(
    number: int,
    header: dict[int, str],
    cells: Sequence[str],
    criterion_columns: dict[str, EligibilityCriterion],
) -> ImportRow:
    row = ImportRow(line=number)
    problems: list[str] = []
    for index, column in header.items():
        value = cells[index] if index < len(cells) else ""
        criterion = criterion_columns.get(column)
        if criterion is not None:
            answer = _yes_no(value, criterion_field_name(criterion), problems)
            row.answers[criterion.key] = answer
            continue
        attribute = _COLUMNS[column]
        if attribute == "consent_contact":
            if _yes_no(value, column, problems):
                row.consents.append(Consent.Purpose.CONTACT)
        elif attribute == "consent_survey":
            if _yes_no(value, column, problems):
                row.consents.append(Consent.Purpose.SURVEY)
        elif attribute in ("adults", "children"):
            default = 1 if attribute == "adults" else 0
            setattr(row, attribute, _whole_number(value, column, default, problems))
        elif attribute == "preferred_language":
            language = _LANGUAGES.get(normalize_header(value))
            if language is None:
                problems.append(
                    _("Langue « {value} » inconnue : écrivez fr, en ou autre.").format(value=value)
                )
            else:
                row.preferred_language = language
        else:
            setattr(row, attribute, value)
    row.problem = " ".join(problems)
    return row


def _whole_number(value: str, column: str, default: int, problems: list[str]) -> int:
    if not value:
        return default
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        number = -1.5
    if not number.is_integer():
        problems.append(
            _("Valeur « {value} » dans la colonne {column} : indiquez un nombre entier.").format(
                value=value, column=column
            )
        )
        return default
    return int(number)


def _yes_no(value: str, column: str, problems: list[str]) -> bool:
    normalized = normalize_header(value)
    if normalized in _YES:
        return True
    if normalized not in _NO:
        problems.append(
            _("Valeur « {value} » dans la colonne {column} : écrivez oui ou non.").format(
                value=value, column=column
            )
        )
    return False


# ---------------------------------------------------------------------------------------------
# Checking (dry run) and applying


def _check_row(*, organization: Organization, program: Program, row: ImportRow) -> EnrollmentCheck:
    if row.problem:
        raise EnrollmentError("invalid_value", row.problem)
    return check_enrollment(
        organization=organization,
        program=program,
        details=row.details(),
        answers=row.answers,
        optional_consents=row.consents,
        # The uploader attests that every person in the file consented on paper.
        consent_given=True,
    )


def _with_rules(program: Program) -> Program:
    """The program with its allotment rules and criteria loaded once: every row's checks read
    them (several times each), so a 2 000-row file does not repeat those queries per row."""
    return Program.objects.prefetch_related("allotment_rules", "eligibility_criteria").get(
        pk=program.pk
    )


def _verdict_of(check: EnrollmentCheck) -> tuple[str, str, str]:
    """(verdict, message, reference) for a row that passed the checks."""
    if check.duplicate_of == "organization":
        return Verdict.SKIP, "", check.duplicate_reference
    if check.duplicate_of == "program":
        return Verdict.DUPLICATE, "", ""
    if check.waitlist_reason:
        return Verdict.WAITLIST, check.waitlist_message, ""
    return Verdict.CREATE, "", ""


def check_import(
    *,
    organization: Organization,
    program: Program,
    filename: str,
    content: bytes,
    uploaded_by: User,
) -> tuple[ImportRun, ParsedFile]:
    """The dry run: read the file, check every row and store the verdicts in a new ImportRun.

    Writes the ImportRun only (no household, consent or audit row). Raises ImportFileError
    for a file that cannot be read."""
    program = _with_rules(program)
    parsed = parse_file(filename=filename, content=content, program=program)
    seen: dict[str, int] = {}
    for row in parsed.rows:
        try:
            check = _check_row(organization=organization, program=program, row=row)
        except EnrollmentError as error:
            row.verdict, row.message = Verdict.ERROR, error.message
            continue
        row.verdict, row.message, row.reference = _verdict_of(check)
        earlier = seen.get(check.duplicate_key) if check.duplicate_key else None
        if earlier is not None and row.verdict != Verdict.SKIP:
            # Applying the earlier line enrolls this household: this one will then be skipped.
            row.verdict = Verdict.SKIP
            row.message = _("Même ménage que la ligne {line} : ignoré.").format(line=earlier)
        elif check.duplicate_key:
            seen.setdefault(check.duplicate_key, row.line)
    run = ImportRun.objects.create(
        organization=organization,
        program=program,
        uploaded_by=uploaded_by,
        filename=(filename or "")[-200:],
        file_sha256=hashlib.sha256(content).hexdigest(),
        rows=json.dumps([asdict(row) for row in parsed.rows], ensure_ascii=False),
        row_count=len(parsed.rows),
        status=ImportRun.Status.CHECKED,
        **_counts(parsed.rows),
    )
    return run, parsed


def _counts(rows: Iterable[ImportRow]) -> dict[str, int]:
    verdicts = [row.verdict for row in rows]
    return {
        "created_count": sum(verdict in Verdict.TO_CREATE for verdict in verdicts),
        "skipped_count": verdicts.count(Verdict.SKIP),
        "error_count": verdicts.count(Verdict.ERROR),
    }


def rows_of(run: ImportRun) -> list[ImportRow]:
    """The rows stored with a checked run (none once it is applied)."""
    try:
        stored = json.loads(run.rows or "[]")
    except ValueError:
        return []
    names = set(ImportRow.__dataclass_fields__)
    return [
        ImportRow(**{key: value for key, value in item.items() if key in names})
        for item in stored
        if isinstance(item, dict) and "line" in item
    ]


@dataclass
class ImportResult:
    """What `apply_import` did: created households, skipped and failed lines."""

    applied: bool
    created: list[Household] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)
    error_lines: list[tuple[int, str]] = field(default_factory=list)

    @property
    def waitlisted(self) -> int:
        return sum(h.status == Household.Status.WAITLISTED for h in self.created)


def apply_import(*, run: ImportRun, applied_by: User) -> ImportResult:
    """Create the households of a checked run, once: a second call (a double click, another
    tab) creates nothing and returns `applied=False`.

    Every row is checked again; rows already enrolled by the organization and rows in error are
    skipped; a possible duplicate in another organization is created and left for the
    coordination to check. The stored rows (names) are emptied."""
    result = ImportResult(applied=True)
    with transaction.atomic():
        # The conditional update is the guard: only one request turns "checked" into "applied"
        # (the database serializes the two updates; the second one matches no row).
        claimed = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.CHECKED).update(
            status=ImportRun.Status.APPLIED, applied_at=timezone.now()
        )
        if not claimed:
            run.refresh_from_db()
            return ImportResult(applied=False)
        run.refresh_from_db()
        organization, program = run.organization, _with_rules(run.program)
        for row in rows_of(run):
            try:
                check = _check_row(organization=organization, program=program, row=row)
                if check.duplicate_of == "organization":
                    result.skipped_lines.append(row.line)
                    continue
                household = create_household(
                    organization=organization,
                    program=program,
                    check=check,
                    enrolled_by=applied_by,
                )
            except EnrollmentError as error:
                result.error_lines.append((row.line, error.message))
                continue
            result.created.append(household)
        # The names are no longer needed: the households hold what was kept.
        ImportRun.objects.filter(pk=run.pk).update(
            rows="[]",
            created_count=len(result.created),
            skipped_count=len(result.skipped_lines),
            error_count=len(result.error_lines),
        )
        run.refresh_from_db()
    return result


def discard_import(*, run: ImportRun) -> bool:
    """Delete a run that was checked and not applied (its rows hold names). Returns False
    when it was applied in the meantime (an applied run stays as the trace of the import)."""
    deleted, _detail = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.CHECKED).delete()
    return bool(deleted)


# ---------------------------------------------------------------------------------------------
# Reads


def import_runs_for(user: User | AnonymousUser) -> QuerySet[ImportRun]:
    """Runs the user may see: their organizations' (intervenant), their programs'
    (coordinator), all (network admin)."""
    base = ImportRun.objects.select_related("organization", "program", "uploaded_by")
    if not user.is_authenticated:
        return base.none()
    if user.is_network_admin:
        return base.all()
    ids = ImportRun.objects.filter(
        Q(organization__members=user) | Q(program__coordinators=user)
    ).values("pk")
    return base.filter(pk__in=ids)


def previous_applied_run(run: ImportRun) -> ImportRun | None:
    """An earlier applied run of the same file by the same organization in the same program."""
    return (
        ImportRun.objects.filter(
            organization_id=run.organization_id,
            program_id=run.program_id,
            file_sha256=run.file_sha256,
            status=ImportRun.Status.APPLIED,
        )
        .exclude(pk=run.pk)
        .order_by("-applied_at", "-pk")
        .first()
    )
