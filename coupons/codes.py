"""Manual coupon codes: the bearer secret a vendor types when the camera cannot scan the QR.

A code is 14 symbols from a 31-symbol alphabet without look-alikes (no 0/O, 1/I/L):
13 random data symbols drawn with :mod:`secrets` (31**13 > 2**64, so more than 64 random bits),
followed by one check symbol.

Check symbol. Writing v_1..v_14 for the symbol values (their index in ``ALPHABET``), the check
symbol v_14 is chosen so that ``sum(i * v_i for i in 1..14) ≡ 0 (mod 31)``. Because 31 is prime,
every non-zero residue has an inverse, so the weight 14 of the check position can always be
solved for. The scheme detects:

* any single wrong symbol, including the check symbol: replacing v_i by w changes the sum by
  ``i * (w - v_i)``; i is in 1..14 and 0 < |w - v_i| < 31, so neither factor is divisible by
  the prime 31 and neither is their product;
* any swap of two neighbouring unequal symbols a, b at positions i and i + 1 (including the
  last data symbol with the check symbol): the sum changes by
  ``i*b + (i+1)*a - i*a - (i+1)*b = a - b``, non-zero mod 31 since 0 < |a - b| < 31.

This module is pure Python and does not import Django.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
DATA_LENGTH = 13
CODE_LENGTH = DATA_LENGTH + 1
MAX_DATA_INT = BASE**DATA_LENGTH  # exclusive upper bound of code_to_int()

_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_CHECK_WEIGHT_INVERSE = pow(CODE_LENGTH, -1, BASE)

# ASCII hyphen-minus, the unicode dashes U+2010..U+2015 and the minus sign U+2212.
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")

_GROUP = 4


def normalize(text: str) -> str:
    """Uppercase ``text`` and drop all whitespace and dashes.

    Scanners and people send codes with arbitrary case, spaces and dashes.
    """
    return "".join(ch for ch in text.upper() if not ch.isspace() and ch not in _DASHES)


def _weighted_sum(symbols: str) -> int:
    return sum(weight * _VALUES[symbol] for weight, symbol in enumerate(symbols, start=1))


def compute_check_symbol(data: str) -> str:
    """Return the check symbol for ``data``, the 13 data symbols (normalized first).

    Raises ``ValueError`` if ``data`` is not 13 symbols of ``ALPHABET``.
    """
    data = normalize(data)
    if len(data) != DATA_LENGTH or any(symbol not in _VALUES for symbol in data):
        raise ValueError(f"expected {DATA_LENGTH} symbols from the code alphabet")
    # Solve partial + CODE_LENGTH * check ≡ 0 (mod BASE) for check.
    check = (-_weighted_sum(data) * _CHECK_WEIGHT_INVERSE) % BASE
    return ALPHABET[check]


def generate_code() -> str:
    """Return a fresh random code: 14 uppercase symbols, no separators."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(DATA_LENGTH))
    return data + compute_check_symbol(data)


def is_well_formed(code: str) -> bool:
    """Whether ``code``, once normalized, is 14 alphabet symbols whose check holds."""
    code = normalize(code)
    if len(code) != CODE_LENGTH or any(symbol not in _VALUES for symbol in code):
        return False
    return _weighted_sum(code) % BASE == 0


def _require_well_formed(code: str) -> str:
    normalized = normalize(code)
    if not is_well_formed(normalized):
        raise ValueError("not a well-formed coupon code")
    return normalized


def format_code(code: str) -> str:
    """Format a well-formed code as ``XXXX-XXXX-XXXX-XX`` for display and printing.

    Raises ``ValueError`` if the code is not well formed.
    """
    code = _require_well_formed(code)
    return "-".join(code[start : start + _GROUP] for start in range(0, CODE_LENGTH, _GROUP))


def code_to_int(code: str) -> int:
    """Return the 13 data symbols of a well-formed code as a base-31 integer.

    The most significant digit comes first. The result is in ``range(31**13)``.
    Raises ``ValueError`` if the code is not well formed.
    """
    code = _require_well_formed(code)
    number = 0
    for symbol in code[:DATA_LENGTH]:
        number = number * BASE + _VALUES[symbol]
    return number


def int_to_code(n: int) -> str:
    """Inverse of :func:`code_to_int`: the full 14-symbol code, check symbol appended.

    Raises ``ValueError`` unless ``0 <= n < 31**13``.
    """
    if not 0 <= n < MAX_DATA_INT:
        raise ValueError(f"code number out of range: must be in [0, {BASE}**{DATA_LENGTH})")
    digits: list[str] = []
    for _ in range(DATA_LENGTH):
        n, digit = divmod(n, BASE)
        digits.append(ALPHABET[digit])
    data = "".join(reversed(digits))
    return data + compute_check_symbol(data)
