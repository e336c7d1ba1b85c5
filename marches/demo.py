"""The demo world: two MRC programs, their markets, vendors, organizations, households, coupons
and a few redemptions, so that every page has something to show. Used by `seed_demo`.

Idempotent: every row is found by a natural key before it is made, allotments are issued with
fixed idempotency keys and redemptions with fixed client ids (both uuid5), so a second run
creates nothing and reports the same logins and device tokens.

Device tokens are only stored hashed, so the demo derives them from SECRET_KEY and the vendor's
slug: the same on every run, unknown to anyone without the secret. Demo only: real devices get
random tokens from `marches.services.create_device`. The funders' reports API tokens are made
the same way (real ones come from `financement.access.create_funder_token`).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from beneficiaires.models import (
    EligibilityCriterion,
    EnrollmentPolicy,
    Household,
    Organization,
    Partnership,
)
from beneficiaires.privacy import name_hash
from beneficiaires.services import enroll_household
from comptes.models import Role, User
from coupons.models import Coupon, VoidReason
from coupons.services import (
    BearerRequest,
    issue_bearer_batch,
    issue_household_allotment,
    mark_batch_delivered,
    replace_coupons,
)
from financement import access
from financement.models import Funder, FunderToken
from financement.services import create_funder, record_contribution
from marches.models import Device, Market, Redemption, Vendor
from marches.redemptions import Scan, redeem_coupon, sync_scans
from marches.services import TOKEN_PREFIX, hash_token
from programmes.models import AllotmentRule, Denomination, ProductCategory, Program, Territory

PASSWORD = "demo-coupons-2026"
EMAIL_DOMAIN = "demo.coupons.quebec"
DEVICE_NAME = "Téléphone de démonstration"
FUNDER_TOKEN_LABEL = "Jeton de démonstration"
FOUNDATION = "Fondation du Bas-Saint-Laurent"
# Fixed namespace for the demo's idempotency keys and client ids.
NAMESPACE = uuid.UUID("5b0f7c1e-3d52-4b8e-9a51-0c6f2d7e8a41")


# What the demo is made of ----------------------------------------------------------------------

CATEGORIES = [
    ("fruits-legumes", "Fruits et légumes", "Fruits and vegetables"),
    ("oeufs-produits-laitiers", "Œufs et produits laitiers", "Eggs and dairy"),
    ("viandes-poissons", "Viandes et poissons", "Meat and fish"),
    ("pain-cereales", "Pain et céréales", "Bread and grains"),
    ("miel-erable", "Miel et produits de l'érable", "Honey and maple products"),
]


@dataclass(frozen=True)
class ProgramSpec:
    slug: str
    name: str
    territory: str
    serial_prefix: str
    fund_holder: str
    # (funder, its kind, amount): the contributions that make the program's funds.
    contributions: tuple[tuple[str, str, Decimal], ...]
    # Amount per distribution for households of at least this size.
    allotment: tuple[tuple[int, Decimal], ...]
    # The public solidarity sale: (price, value) of a pack and the subsidy allotted, or None.
    sale: tuple[Decimal, Decimal, Decimal] | None = None


ALLOTMENT = (
    (1, Decimal("20.00")),
    (2, Decimal("30.00")),
    (3, Decimal("40.00")),
    (4, Decimal("50.00")),
    (5, Decimal("60.00")),
)
DENOMINATIONS = (Decimal("5.00"), Decimal("2.00"))
DISTRIBUTIONS = 4
DISTRIBUTION_FREQUENCY = "weekly"
SEASON_STARTED_DAYS_AGO = 30
SEASON_ENDS_IN_DAYS = 120

MEIE = "Ministère de l'Économie, de l'Innovation et de l'Énergie"

PROGRAMS = [
    ProgramSpec(
        slug="portneuf",
        name="Coupons nourriciers de la MRC de Portneuf",
        territory="Portneuf",
        serial_prefix="PORT",
        fund_holder="UPA de Portneuf",
        contributions=(
            (MEIE, "government", Decimal("15000.00")),
            ("Caisse Desjardins de Portneuf", "business", Decimal("5000.00")),
            ("MRC de Portneuf", "municipal", Decimal("5000.00")),
        ),
        allotment=ALLOTMENT,
        # The pilot's offer: 30 $ of coupons for 20 $, until 2 000 $ of subsidy is spent.
        sale=(Decimal("20.00"), Decimal("30.00"), Decimal("2000.00")),
    ),
    ProgramSpec(
        slug="rimouski-neigette",
        name="Coupons nourriciers de la MRC de Rimouski-Neigette",
        territory="Rimouski-Neigette",
        serial_prefix="RIMO",
        fund_holder="Moisson Rimouski-Neigette",
        contributions=(
            (MEIE, "government", Decimal("10000.00")),
            ("Fondation du Bas-Saint-Laurent", "foundation", Decimal("5000.00")),
        ),
        allotment=ALLOTMENT,
    ),
]

# slug, name, city, programs accepted
MARKETS = [
    ("saint-casimir", "Marché public de Saint-Casimir", "Saint-Casimir", ["portneuf"]),
    ("saint-raymond", "Marché public de Saint-Raymond", "Saint-Raymond", ["portneuf"]),
    ("rimouski", "Marché public de Rimouski", "Rimouski", ["rimouski-neigette"]),
]

# slug, name, market, categories, the person who scans. The first one's device token is listed
# first: its market (Saint-Casimir) accepts the Portneuf coupons.
VENDORS = [
    (
        "jardins-riviere-sainte-anne",
        "Les Jardins de la Rivière Sainte-Anne",
        "saint-casimir",
        ["fruits-legumes"],
        ("Louis", "Trottier"),
    ),
    (
        "ferme-lachance-et-filles",
        "Ferme Lachance et filles",
        "saint-casimir",
        ["oeufs-produits-laitiers", "viandes-poissons"],
        ("Catherine", "Lachance"),
    ),
    (
        "ferme-du-rang-notre-dame",
        "Ferme du Rang Notre-Dame",
        "saint-raymond",
        ["fruits-legumes", "oeufs-produits-laitiers"],
        ("Alain", "Moisan"),
    ),
    (
        "boulangerie-du-vieux-moulin",
        "Boulangerie du Vieux Moulin",
        "saint-raymond",
        ["pain-cereales"],
        ("Isabelle", "Genois"),
    ),
    (
        "potager-du-fleuve",
        "Potager du Fleuve",
        "rimouski",
        ["fruits-legumes"],
        ("Vincent", "Saint-Pierre"),
    ),
    (
        "bergerie-de-la-neigette",
        "Bergerie de la Neigette",
        "rimouski",
        ["viandes-poissons", "miel-erable"],
        ("Marie-Ève", "Proulx"),
    ),
]

# slug, name, program
ORGANIZATIONS = [
    ("service-entraide-portneuf", "Service d'entraide de Portneuf", "portneuf"),
    ("moisson-rimouski-neigette", "Moisson Rimouski-Neigette", "rimouski-neigette"),
]


@dataclass(frozen=True)
class UserSpec:
    email: str
    first_name: str
    last_name: str
    role: str
    scope: str = ""  # slug of the program, organization, market or vendor


USERS = [
    UserSpec(f"admin@{EMAIL_DOMAIN}", "Geneviève", "Roy", Role.NETWORK_ADMIN),
    UserSpec(
        f"coordination.portneuf@{EMAIL_DOMAIN}", "Mathieu", "Paquet", Role.COORDINATOR, "portneuf"
    ),
    UserSpec(
        f"coordination.rimouski@{EMAIL_DOMAIN}",
        "Julie",
        "Ouellet",
        Role.COORDINATOR,
        "rimouski-neigette",
    ),
    UserSpec(
        f"intervenant@{EMAIL_DOMAIN}",
        "Sophie",
        "Germain",
        Role.INTERVENANT,
        "service-entraide-portneuf",
    ),
    UserSpec(
        f"intervenant.rimouski@{EMAIL_DOMAIN}",
        "Karine",
        "Lavoie",
        Role.INTERVENANT,
        "moisson-rimouski-neigette",
    ),
    UserSpec(f"gestion@{EMAIL_DOMAIN}", "Denis", "Hamel", Role.MARKET_MANAGER, "saint-casimir"),
    # A funder's staff: the scope is the funder's name.
    UserSpec(f"fondation@{EMAIL_DOMAIN}", "Hélène", "Dionne", Role.FUNDER, FOUNDATION),
    *(
        UserSpec(
            f"marchand@{EMAIL_DOMAIN}" if index == 0 else f"marchand.{slug}@{EMAIL_DOMAIN}",
            first_name,
            last_name,
            Role.VENDOR,
            slug,
        )
        for index, (slug, _name, _market, _categories, (first_name, last_name)) in enumerate(
            VENDORS
        )
    ),
]

FIRST_NAMES = [
    "Marie",
    "Jean",
    "Nathalie",
    "Pierre",
    "Isabelle",
    "Éric",
    "Chantal",
    "Luc",
    "Mélanie",
    "Patrick",
    "Annie",
    "Sylvain",
    "Valérie",
    "Stéphane",
    "Josée",
    "Martin",
    "Caroline",
    "Yves",
    "Émilie",
    "François",
    "Amélie",
    "Guy",
    "Audrey",
    "Daniel",
    "Lucie",
    "Samuel",
    "Hélène",
    "Maxime",
    "Diane",
    "Olivier",
]
LAST_NAMES = [
    "Gagnon",
    "Côté",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Lavoie",
    "Fortin",
    "Pelletier",
    "Bélanger",
    "Lévesque",
    "Bergeron",
    "Leblanc",
    "Paquette",
    "Girard",
    "Simard",
    "Boucher",
    "Caron",
    "Beaulieu",
    "Cloutier",
    "Dubé",
    "Poirier",
    "Fournier",
    "Lapointe",
    "Leclerc",
    "Lefebvre",
    "Gosselin",
    "Rioux",
    "Michaud",
    "Desjardins",
    "Thibault",
]
# (adults, children): sizes 1 to 6.
SIZES = [(1, 0), (2, 0), (1, 2), (2, 2), (2, 3), (2, 4), (1, 1), (2, 1), (1, 3)]
POSTAL_CODES = {
    "portneuf": ["G0A 3L0", "G0A 1S0", "G0A 4A0", "G0A 3M0", "G0A 1E0", "G0A 2A0"],
    "rimouski-neigette": ["G5L 1A1", "G5L 2C3", "G5L 4H8", "G5L 7B6", "G5L 8T2", "G5L 9K5"],
}
HOUSEHOLDS_PER_PROGRAM = {"portneuf": 18, "rimouski-neigette": 12}


# What the demo reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str
    scope: str


@dataclass(frozen=True)
class DemoDevice:
    vendor: Vendor
    market: Market
    token: str


@dataclass(frozen=True)
class DemoFunderToken:
    funder: Funder
    programs: list[str]  # slugs of the programs it funds
    token: str


@dataclass
class DemoWorld:
    programs: list[Program] = field(default_factory=list)
    logins: list[DemoLogin] = field(default_factory=list)
    devices: list[DemoDevice] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    funder_tokens: list[DemoFunderToken] = field(default_factory=list)

    def coupons(self) -> Iterable[Coupon]:
        """Every coupon of the demo programs: Portneuf first, spendable ones before the others."""
        order = {program.pk: index for index, program in enumerate(self.programs)}
        coupons = Coupon.objects.filter(program__in=self.programs).select_related(
            "program", "household"
        )
        return sorted(coupons, key=lambda c: (order[c.program_id], c.status, c.serial))


def device_token(vendor_slug: str) -> str:
    """The demo device token of a vendor, derived from SECRET_KEY: the same on every run."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), b"demo-device:" + vendor_slug.encode(), hashlib.sha256
    ).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def funder_token(funder_name: str) -> str:
    """The demo reports API token of a funder, derived from SECRET_KEY like the devices'."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), b"demo-funder:" + funder_name.encode(), hashlib.sha256
    ).digest()
    return access.TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


# Building it -----------------------------------------------------------------------------------


def seed(today: datetime.date | None = None) -> DemoWorld:
    """Build the demo world (or find it) and return what to print."""
    today = today or timezone.localdate()
    with transaction.atomic():
        categories = _categories()
        programs = {spec.slug: _program(spec, categories, today) for spec in PROGRAMS}
        markets = _markets(programs)
        vendors = _vendors(markets, categories)
        organizations = _organizations(programs)
        users = _users()
        _memberships(users, programs, organizations, markets, vendors)
        devices = [_device(vendors[spec[0]], markets[spec[2]]) for spec in VENDORS]
        households = _households(programs, organizations, users)
        for household in households:
            issue_household_allotment(
                household=household,
                issued_by=users[_intervenant_email(household.organization.slug)],
                idempotency_key=uuid.uuid5(
                    NAMESPACE, f"allotment:{household.program.slug}:{household.reference}"
                ),
            )
        _redemptions(households, devices, today)
        _an_offline_double_scan(households, devices)
        _bearer_batches(programs, organizations, users, today)
        _a_lost_coupon(households, users)
        funder_tokens = _funder_tokens(programs)
    return DemoWorld(
        programs=list(programs.values()),
        logins=[
            DemoLogin(email=spec.email, password=PASSWORD, role=str(spec.role), scope=spec.scope)
            for spec in USERS
        ],
        devices=devices,
        households=households,
        funder_tokens=funder_tokens,
    )


def _funder_tokens(programs: dict[str, Program]) -> list[DemoFunderToken]:
    """One reports API token per funder of the demo programs, in the order of PROGRAMS."""
    names = list(
        dict.fromkeys(name for spec in PROGRAMS for name, _kind, _amount in spec.contributions)
    )
    found = []
    for funder in sorted(Funder.objects.filter(name__in=names), key=lambda f: names.index(f.name)):
        token = funder_token(funder.name)
        row = FunderToken.objects.filter(token_hash=access.hash_token(token)).first()
        if row is None:
            FunderToken.objects.create(
                funder=funder,
                label=FUNDER_TOKEN_LABEL,
                token_hash=access.hash_token(token),
                token_prefix=token[: len(access.TOKEN_PREFIX) + 4],
            )
        elif row.revoked_at is not None:
            # The printed token must work, like the demo devices'.
            FunderToken.objects.filter(pk=row.pk).update(revoked_at=None)
        slugs = list(
            access.funded_programs(funder)
            .filter(pk__in=[p.pk for p in programs.values()])
            .order_by("slug")
            .values_list("slug", flat=True)
        )
        found.append(DemoFunderToken(funder=funder, programs=slugs, token=token))
    return found


def _an_offline_double_scan(households: list[Household], devices: list[DemoDevice]) -> None:
    """Two scanners at Portneuf's markets took the same coupon while offline: one accepted scan
    and one conflict for the coordinators' review queue."""
    program = households[0].program
    scanners = [d for d in devices if d.market.programs.filter(pk=program.pk).exists()][:2]
    household = next(
        (h for h in households if h.program_id == program.pk and h is not households[0]), None
    )
    if len(scanners) < 2 or household is None:
        return
    coupon = household.coupons.filter(status=Coupon.Status.ISSUED).order_by("-serial").first()
    already = Redemption.objects.filter(client_id=uuid.uuid5(NAMESPACE, "double:0")).first()
    if already is not None:
        coupon = already.coupon
    if coupon is None:
        return
    start = timezone.now() - datetime.timedelta(hours=3)
    for index, scanner in enumerate(scanners):
        sync_scans(
            scans=[
                Scan(
                    code=coupon.code,
                    client_id=uuid.uuid5(NAMESPACE, f"double:{index}"),
                    scanned_at=start + datetime.timedelta(minutes=12 * index),
                    offline=True,
                )
            ],
            device=Device.objects.get(token_hash=hash_token(scanner.token)),
        )


def _bearer_batches(
    programs: dict[str, Program],
    organizations: dict[str, Organization],
    users: dict[str, User],
    today: datetime.date,
) -> None:
    """Each program prints one batch of bearer coupons for its first partner organization,
    handed over, for a community kitchen where coupons are given out anonymously."""
    for program in programs.values():
        organization = program.organizations.order_by("name").first()
        coordinator = program.coordinators.order_by("email").first()
        if organization is None or coordinator is None:
            continue
        batch = issue_bearer_batch(
            request=BearerRequest(
                program=program,
                organization=organization,
                counts={Decimal("5.00"): 20, Decimal("2.00"): 10},
                valid_from=max(program.season_start, today),
                valid_until=program.season_end,
                note="Cuisine collective du jeudi",
            ),
            issued_by=coordinator,
            idempotency_key=uuid.uuid5(NAMESPACE, f"bearer:{program.slug}"),
        )
        mark_batch_delivered(batch=batch, delivered_by=coordinator)


def _a_lost_coupon(households: list[Household], users: dict[str, User]) -> None:
    """The first household lost a coupon of its last distribution: voided and replaced."""
    household = households[0]
    lost = (
        household.coupons.filter(replaces__isnull=True)
        .select_related("batch")
        .order_by("-distribution", "-serial")
        .first()
    )
    if lost is None:
        return
    replace_coupons(
        coupons=[lost],
        reason=VoidReason.LOST,
        note="Perdu au marché",
        replaced_by=users[_intervenant_email(household.organization.slug)],
        idempotency_key=uuid.uuid5(
            NAMESPACE, f"lost:{household.program.slug}:{household.reference}"
        ),
    )


def _categories() -> dict[str, ProductCategory]:
    found = {}
    for slug, name_fr, name_en in CATEGORIES:
        found[slug], _created = ProductCategory.objects.get_or_create(
            slug=slug, defaults={"name_fr": name_fr, "name_en": name_en}
        )
    return found


def _program(
    spec: ProgramSpec, categories: dict[str, ProductCategory], today: datetime.date
) -> Program:
    program = Program.objects.filter(slug=spec.slug).first()
    if program is not None:
        return program
    territory, _created = Territory.objects.get_or_create(
        name=spec.territory, kind=Territory.Kind.MRC
    )
    # The season started a month ago, so the first distributions are valid today.
    program = Program.objects.create(
        territory=territory,
        name=spec.name,
        slug=spec.slug,
        serial_prefix=spec.serial_prefix,
        season_start=today - datetime.timedelta(days=SEASON_STARTED_DAYS_AGO),
        season_end=today + datetime.timedelta(days=SEASON_ENDS_IN_DAYS),
        fund_holder=spec.fund_holder,
        sale_enabled=spec.sale is not None,
        sale_price=spec.sale[0] if spec.sale else None,
        sale_value=spec.sale[1] if spec.sale else None,
        sale_subsidy_cap=spec.sale[2] if spec.sale else Decimal("0.00"),
        distribution_count=DISTRIBUTIONS,
        distribution_frequency=DISTRIBUTION_FREQUENCY,
    )
    Denomination.objects.bulk_create(
        Denomination(program=program, value=value) for value in DENOMINATIONS
    )
    AllotmentRule.objects.bulk_create(
        AllotmentRule(program=program, household_size=size, amount=amount)
        for size, amount in spec.allotment
    )
    program.categories.set(categories.values())
    for name, kind, amount in spec.contributions:
        funder = Funder.objects.filter(name=name).first() or create_funder(name=name, kind=kind)
        record_contribution(
            program=program,
            funder=funder,
            amount=amount,
            received_on=program.season_start,
            recorded_by=None,
            reference="Entente 2026",
        )
    # What the program asks at enrollment, and how long it keeps households' data.
    EnrollmentPolicy.objects.create(program=program, notes_allowed=False, retention_days=180)
    prefix = POSTAL_CODES[spec.slug][0][:3]
    EligibilityCriterion.objects.bulk_create(
        [
            EligibilityCriterion(
                program=program,
                kind=EligibilityCriterion.Kind.TERRITORY,
                key="territoire",
                postal_prefixes=prefix,
                position=1,
            ),
            EligibilityCriterion(
                program=program,
                kind=EligibilityCriterion.Kind.INCOME,
                key="revenu",
                income_threshold=Decimal("35000.00"),
                position=2,
            ),
            EligibilityCriterion(
                program=program,
                kind=EligibilityCriterion.Kind.REFERRED,
                key="refere",
                position=3,
            ),
        ]
    )
    return program


def _markets(programs: dict[str, Program]) -> dict[str, Market]:
    found = {}
    for slug, name, city, accepted in MARKETS:
        market, created = Market.objects.get_or_create(
            slug=slug, defaults={"name": name, "city": city}
        )
        if created:
            market.programs.set([programs[p] for p in accepted])
        found[slug] = market
    return found


def _vendors(
    markets: dict[str, Market], categories: dict[str, ProductCategory]
) -> dict[str, Vendor]:
    found = {}
    for slug, name, market, products, _person in VENDORS:
        vendor, created = Vendor.objects.get_or_create(slug=slug, defaults={"name": name})
        if created:
            vendor.markets.add(markets[market])
            vendor.categories.set([categories[c] for c in products])
        found[slug] = vendor
    return found


def _organizations(programs: dict[str, Program]) -> dict[str, Organization]:
    found = {}
    for slug, name, program in ORGANIZATIONS:
        organization, _created = Organization.objects.get_or_create(
            slug=slug, defaults={"name": name}
        )
        Partnership.objects.get_or_create(organization=organization, program=programs[program])
        found[slug] = organization
    return found


def _users() -> dict[str, User]:
    existing = {u.email: u for u in User.objects.filter(email__in=[s.email for s in USERS])}
    # One hash for every new demo account: hashing is deliberately slow.
    password_hash = make_password(PASSWORD) if len(existing) < len(USERS) else ""
    for spec in USERS:
        if spec.email in existing:
            continue
        admin = spec.role == Role.NETWORK_ADMIN
        existing[spec.email] = User.objects.create(
            email=spec.email,
            password=password_hash,
            first_name=spec.first_name,
            last_name=spec.last_name,
            is_network_admin=admin,
            is_staff=admin,
            is_superuser=admin,
        )
    return existing


def _memberships(
    users: dict[str, User],
    programs: dict[str, Program],
    organizations: dict[str, Organization],
    markets: dict[str, Market],
    vendors: dict[str, Vendor],
) -> None:
    for spec in USERS:
        user = users[spec.email]
        if spec.role == Role.COORDINATOR:
            programs[spec.scope].coordinators.add(user)
        elif spec.role == Role.INTERVENANT:
            organizations[spec.scope].members.add(user)
        elif spec.role == Role.MARKET_MANAGER:
            markets[spec.scope].managers.add(user)
        elif spec.role == Role.VENDOR:
            vendors[spec.scope].members.add(user)
        elif spec.role == Role.FUNDER:
            funder = Funder.objects.filter(name=spec.scope).first()
            if funder is not None:
                funder.members.add(user)


def _device(vendor: Vendor, market: Market) -> DemoDevice:
    token = device_token(vendor.slug)
    device = Device.objects.filter(token_hash=hash_token(token)).first()
    if device is None:
        Device.objects.create(
            vendor=vendor,
            market=market,
            name=DEVICE_NAME,
            token_hash=hash_token(token),
            token_prefix=token[:8],
        )
    elif device.revoked_at is not None:
        # The printed token must work: a demo device revoked while trying the app comes back.
        Device.objects.filter(pk=device.pk).update(revoked_at=None)
    return DemoDevice(vendor=vendor, market=market, token=token)


def _intervenant_email(organization_slug: str) -> str:
    return next(
        spec.email
        for spec in USERS
        if spec.role == Role.INTERVENANT and spec.scope == organization_slug
    )


def _households(
    programs: dict[str, Program],
    organizations: dict[str, Organization],
    users: dict[str, User],
) -> list[Household]:
    households = []
    n = 0
    for org_slug, _name, program_slug in ORGANIZATIONS:
        program, organization = programs[program_slug], organizations[org_slug]
        intervenant = users[_intervenant_email(org_slug)]
        postal_codes = POSTAL_CODES[program_slug]
        for index in range(HOUSEHOLDS_PER_PROGRAM[program_slug]):
            adults, children = SIZES[n % len(SIZES)]
            name = f"{FIRST_NAMES[n]} {LAST_NAMES[(n * 7) % len(LAST_NAMES)]}"
            # Enrolled through the same service as the enrollment page; found by name next time.
            household = Household.objects.filter(
                organization=organization, name_hash=name_hash(name)
            ).first()
            if household is None:
                household = enroll_household(
                    organization=organization,
                    program=program,
                    name=name,
                    adults=adults,
                    children=children,
                    postal_code=postal_codes[index % len(postal_codes)],
                    preferred_language=(
                        Household.Language.ENGLISH if n % 10 == 9 else Household.Language.FRENCH
                    ),
                    consent_given=True,
                    enrolled_by=intervenant,
                    year_of_birth=1950 + (n * 3) % 50,
                    answers={"revenu": True, "refere": True},
                    # One household in four may be contacted, and left a phone number.
                    optional_consents=["contact"] if n % 4 == 0 else [],
                    phone=f"418 555-{100 + n:04d}" if n % 4 == 0 else "",
                )
            households.append(household)
            n += 1
    return households


def _redemptions(
    households: list[Household], devices: list[DemoDevice], today: datetime.date
) -> None:
    """Some coupons spent on market days, today included: the first distribution of two
    households out of three, the second one of one out of three (Rimouski: the first
    distribution of one out of two). The rest stays spendable."""
    by_program: dict[int, list[DemoDevice]] = {}
    for device in devices:
        for program in device.market.programs.all():
            by_program.setdefault(program.pk, []).append(device)
    device_rows = {d.vendor.pk: Device.objects.get(token_hash=hash_token(d.token)) for d in devices}
    # Each vendor records its scans under its first product category.
    category = {d.vendor.pk: d.vendor.categories.order_by("slug").first() for d in devices}
    counter = 0
    for index, household in enumerate(households):
        program = household.program
        if program.slug == "rimouski-neigette":
            distributions = {1} if index % 2 == 0 else set()
        else:
            distributions = {1, 2} if index % 3 == 0 else {1} if index % 3 == 1 else set()
        if not distributions or program.pk not in by_program:
            continue
        coupons = household.coupons.filter(distribution__in=distributions).order_by(
            "distribution", "serial"
        )
        for position, coupon in enumerate(coupons):
            choices = by_program[program.pk]
            scanner = choices[(index + position) % len(choices)]
            # Market days: today (so that "my day" pages have something), 2, 9 and 16 days ago.
            days_ago = (0, 2, 9, 16)[(index + coupon.distribution + position) % 4]
            scanned_at = timezone.make_aware(
                datetime.datetime.combine(
                    today - datetime.timedelta(days=days_ago), datetime.time(9)
                )
                + datetime.timedelta(minutes=(counter * 7) % 300)
            )
            scanned_at = min(scanned_at, timezone.now())
            redeem_coupon(
                code=coupon.code,
                vendor=scanner.vendor,
                market=scanner.market,
                client_id=uuid.uuid5(
                    NAMESPACE, f"redemption:{program.slug}:{household.reference}:{coupon.serial}"
                ),
                category=category[scanner.vendor.pk],
                scanned_at=scanned_at,
                device=device_rows[scanner.vendor.pk],
            )
            counter += 1
