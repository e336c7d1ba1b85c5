"""Factories for the whole world: a program with its organization, market, vendor and people."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from beneficiaires.models import (
    Consent,
    EligibilityCriterion,
    Household,
    ImportRun,
    Organization,
    Partnership,
    PrivacyIncident,
)
from comptes.models import User
from coupons import codes
from coupons.models import Coupon, IssuanceBatch
from marches.models import Device, Market, Vendor
from marches.services import create_device
from programmes.models import AllotmentRule, Denomination, ProductCategory, Program, Territory

PASSWORD = "motdepasse-demo-2026"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"personne{n}@example.org")
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Tremblay{n}")
    password = factory.LazyFunction(lambda: make_password(PASSWORD))


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Territory
        django_get_or_create = ("name", "kind")

    name = factory.Sequence(lambda n: f"Territoire {n}")
    kind = Territory.Kind.MRC


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductCategory
        django_get_or_create = ("slug",)

    slug = "fruits-legumes"
    name_fr = "Fruits et légumes"
    name_en = "Fruits and vegetables"


def set_funds(program: Program, amount: Decimal) -> None:
    """Make the program's funds `amount`: a contribution, or a refund to bring them down."""
    from financement.models import Funder, LedgerEntry
    from financement.selectors import program_funds
    from financement.services import record_contribution, record_entry

    delta = Decimal(amount) - program_funds(program)
    if delta > 0:
        funder, _created = Funder.objects.get_or_create(name="Fondation des tests")
        record_contribution(
            program=program,
            funder=funder,
            amount=delta,
            received_on=timezone.localdate() - datetime.timedelta(days=1),
            recorded_by=None,
        )
    elif delta < 0:
        record_entry(program=program, kind=LedgerEntry.Kind.REFUND, amount=delta, memo="tests")


class FunderFactory(factory.django.DjangoModelFactory):
    """A funder; with `program=`, it gives that program `amount` (10 000 $ unless given)."""

    class Meta:
        model = "financement.Funder"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Fondation {n}")
    kind = "foundation"

    @factory.post_generation
    def program(self, create: bool, extracted: Program | None, **kwargs: Any) -> None:
        if not create or extracted is None:
            return
        from financement.services import record_contribution

        record_contribution(
            program=extracted,
            funder=self,
            amount=Decimal(kwargs.get("amount", "10000.00")),
            received_on=timezone.localdate() - datetime.timedelta(days=1),
            recorded_by=None,
        )


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        skip_postgeneration_save = True

    territory = factory.SubFactory(TerritoryFactory)
    name = factory.Sequence(lambda n: f"Programme {n}")
    slug = factory.Sequence(lambda n: f"programme-{n}")
    serial_prefix = factory.Sequence(lambda n: f"P{n}")
    season_start = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=7))
    season_end = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=90))
    distribution_count = 1
    distribution_frequency = "weekly"

    @factory.post_generation
    def budget(self, create: bool, extracted: Decimal | None, **kwargs: Any) -> None:
        """The program's funds: one contribution of `budget` (10 000 $ unless given)."""
        if create:
            set_funds(self, Decimal("10000.00") if extracted is None else extracted)

    @factory.post_generation
    def rules(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        Denomination.objects.create(program=self, value=Decimal("5.00"))
        Denomination.objects.create(program=self, value=Decimal("2.00"))
        AllotmentRule.objects.create(program=self, household_size=1, amount=Decimal("20.00"))
        AllotmentRule.objects.create(program=self, household_size=3, amount=Decimal("30.00"))
        self.categories.add(CategoryFactory())


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Organisme {n}")
    slug = factory.Sequence(lambda n: f"organisme-{n}")

    @factory.post_generation
    def program(self, create: bool, extracted: Program | None, **kwargs: Any) -> None:
        if create and extracted is not None:
            Partnership.objects.create(organization=self, program=extracted)


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household
        skip_postgeneration_save = True

    program = factory.SubFactory(ProgramFactory)
    organization = factory.LazyAttribute(lambda o: OrganizationFactory(program=o.program))
    reference = factory.Sequence(lambda n: f"M-{n:04d}")
    name = factory.Sequence(lambda n: f"Camille Gagnon {n}")
    adults = 1
    children = 1
    postal_code = "G0A 1A0"
    enrolled_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def consent(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            Consent.objects.create(
                household=self,
                purpose=Consent.Purpose.PARTICIPATION,
                text_version="2026-1",
                recorded_by=self.enrolled_by,
            )


class BatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IssuanceBatch

    program = factory.SubFactory(ProgramFactory)
    organization = factory.LazyAttribute(lambda o: OrganizationFactory(program=o.program))
    issued_by = factory.SubFactory(UserFactory)
    idempotency_key = factory.LazyFunction(uuid.uuid4)
    total_value = Decimal("5.00")
    coupon_count = 1


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    program = factory.SubFactory(ProgramFactory)
    batch = factory.LazyAttribute(lambda o: BatchFactory(program=o.program))
    serial = factory.Sequence(lambda n: f"T-{n:06d}")
    code = factory.LazyFunction(codes.generate_code)
    value = Decimal("5.00")
    valid_from = factory.LazyAttribute(lambda o: o.program.season_start)
    valid_until = factory.LazyAttribute(lambda o: o.program.season_end)


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Marché {n}")
    slug = factory.Sequence(lambda n: f"marche-{n}")
    city = "Saint-Casimir"

    @factory.post_generation
    def program(self, create: bool, extracted: Program | None, **kwargs: Any) -> None:
        if create and extracted is not None:
            self.programs.add(extracted)


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Ferme {n}")
    slug = factory.Sequence(lambda n: f"ferme-{n}")

    @factory.post_generation
    def market(self, create: bool, extracted: Market | None, **kwargs: Any) -> None:
        if create and extracted is not None:
            self.markets.add(extracted)


def make_device(vendor: Vendor, market: Market, name: str = "Téléphone") -> tuple[Device, str]:
    return create_device(vendor=vendor, market=market, name=name, created_by=None)


class EligibilityCriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EligibilityCriterion

    program = factory.SubFactory(ProgramFactory)
    kind = EligibilityCriterion.Kind.REFERRED
    key = factory.Sequence(lambda n: f"critere-{n}")


class PrivacyIncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PrivacyIncident

    program = factory.SubFactory(ProgramFactory)
    description = "Liste imprimée de références de ménages"
    circumstances = "Oubliée au marché, retrouvée le lendemain."
    discovered_on = datetime.date(2026, 7, 4)
    recorded_by = factory.SubFactory(UserFactory)


class ImportRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportRun

    organization = factory.SubFactory(OrganizationFactory)
    program = factory.SubFactory(ProgramFactory)
    uploaded_by = factory.SubFactory(UserFactory)
    filename = "menages.csv"
    file_sha256 = "0" * 64
    rows = "[]"
