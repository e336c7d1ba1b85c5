"""The sale's payment tests share the fake Stripe (tests/financement/stripe_fakes.py)."""

from tests.financement.stripe_fakes import fake_stripe  # noqa: F401
