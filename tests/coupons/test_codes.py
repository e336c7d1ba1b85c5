"""Manual codes: typed by vendors, so every single typo and neighbour swap must be caught."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coupons import codes
from coupons.codes import ALPHABET, CODE_LENGTH, DATA_LENGTH


@pytest.fixture(autouse=True)
def _fast_and_french() -> None:
    """These tests are pure Python: they replace the shared fixture that needs Django."""


codes_strategy = st.integers(min_value=0, max_value=codes.MAX_DATA_INT - 1).map(codes.int_to_code)
data_strategy = st.text(alphabet=ALPHABET, min_size=DATA_LENGTH, max_size=DATA_LENGTH)

SAMPLE_CODES = [
    codes.int_to_code(0),
    codes.int_to_code(codes.MAX_DATA_INT - 1),
    # Arbitrary but the same on every run (and in every pytest-xdist worker, which must
    # collect the same test ids).
    *(codes.int_to_code(random.Random(seed).randrange(codes.MAX_DATA_INT)) for seed in range(4)),
]


def test_alphabet_has_31_symbols_without_look_alikes() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("01OIL") & set(ALPHABET)
    assert 31**DATA_LENGTH > 2**64


def test_generated_codes_are_well_formed_and_differ() -> None:
    generated = [codes.generate_code() for _ in range(200)]
    for code in generated:
        assert len(code) == CODE_LENGTH
        assert code == code.upper()
        assert set(code) <= set(ALPHABET)
        assert codes.is_well_formed(code)
    assert len(set(generated)) == len(generated)


@pytest.mark.parametrize("code", SAMPLE_CODES)
def test_every_single_symbol_substitution_is_rejected(code: str) -> None:
    assert codes.is_well_formed(code)
    for position in range(CODE_LENGTH):
        for symbol in ALPHABET:
            if symbol == code[position]:
                continue
            typo = code[:position] + symbol + code[position + 1 :]
            assert not codes.is_well_formed(typo), (code, position, symbol)


@pytest.mark.parametrize("code", SAMPLE_CODES)
def test_every_adjacent_swap_of_unequal_symbols_is_rejected(code: str) -> None:
    for position in range(CODE_LENGTH - 1):
        left, right = code[position], code[position + 1]
        if left == right:
            continue
        swapped = code[:position] + right + left + code[position + 2 :]
        assert not codes.is_well_formed(swapped), (code, position)


@given(code=codes_strategy, position=st.integers(0, CODE_LENGTH - 2))
def test_adjacent_swaps_are_rejected_for_any_code(code: str, position: int) -> None:
    left, right = code[position], code[position + 1]
    swapped = code[:position] + right + left + code[position + 2 :]
    assert codes.is_well_formed(swapped) == (left == right)


@given(data=data_strategy)
def test_check_symbol_makes_the_weighted_sum_vanish(data: str) -> None:
    code = data + codes.compute_check_symbol(data)
    assert sum(i * ALPHABET.index(s) for i, s in enumerate(code, start=1)) % 31 == 0
    assert codes.is_well_formed(code)


@given(n=st.integers(min_value=0, max_value=codes.MAX_DATA_INT - 1))
def test_int_to_code_round_trips(n: int) -> None:
    code = codes.int_to_code(n)
    assert len(code) == CODE_LENGTH
    assert codes.is_well_formed(code)
    assert codes.code_to_int(code) == n


@given(code=codes_strategy)
def test_code_to_int_round_trips(code: str) -> None:
    assert codes.int_to_code(codes.code_to_int(code)) == code


def test_code_to_int_is_big_endian_base_31() -> None:
    assert codes.code_to_int(codes.int_to_code(1)) == 1
    assert codes.int_to_code(0).startswith("2" * DATA_LENGTH)
    assert codes.int_to_code(1)[:DATA_LENGTH] == "2" * (DATA_LENGTH - 1) + "3"
    assert codes.int_to_code(31)[:DATA_LENGTH] == "2" * (DATA_LENGTH - 2) + "32"
    assert codes.int_to_code(codes.MAX_DATA_INT - 1).startswith("Z" * DATA_LENGTH)


@pytest.mark.parametrize("n", [-1, codes.MAX_DATA_INT, codes.MAX_DATA_INT * 2, -(2**70)])
def test_int_to_code_rejects_out_of_range(n: int) -> None:
    with pytest.raises(ValueError):
        codes.int_to_code(n)


def test_code_to_int_rejects_malformed_codes() -> None:
    code = codes.generate_code()
    with pytest.raises(ValueError):
        codes.code_to_int(code[:-1])
    with pytest.raises(ValueError):
        codes.code_to_int(code + "2")
    bad_check = code[:-1] + ALPHABET[(ALPHABET.index(code[-1]) + 1) % 31]
    with pytest.raises(ValueError):
        codes.code_to_int(bad_check)


SEPARATORS = [" ", "  ", "\t", "\n", "\u00a0", "\u3000", "-", "--", " - ", "\u2212"] + [
    chr(c) for c in range(0x2010, 0x2016)
]


@given(code=codes_strategy, data=st.data())
def test_normalize_ignores_case_spaces_and_dashes(code: str, data: st.DataObject) -> None:
    pieces: list[str] = []
    for symbol in code:
        pieces.append(data.draw(st.sampled_from(["", *SEPARATORS])))
        pieces.append(symbol.lower() if data.draw(st.booleans()) else symbol)
    pieces.append(data.draw(st.sampled_from(SEPARATORS)))
    messy = "".join(pieces)
    assert codes.normalize(messy) == code
    assert codes.is_well_formed(messy)
    assert codes.code_to_int(messy) == codes.code_to_int(code)


def test_normalize_examples() -> None:
    assert codes.normalize(" ab-cd\u2013ef gh\u2212ij\t") == "ABCDEFGHIJ"
    assert codes.normalize("PCN1:abc") == "PCN1:ABC"


def test_format_code() -> None:
    code = codes.int_to_code(0)
    formatted = codes.format_code(code)
    assert formatted == f"{code[:4]}-{code[4:8]}-{code[8:12]}-{code[12:]}"
    assert len(formatted) == 17
    assert codes.normalize(formatted) == code
    assert codes.format_code(formatted.lower()) == formatted
    with pytest.raises(ValueError):
        codes.format_code(code[:-1])


@pytest.mark.parametrize(
    "text",
    ["", "2" * 13, "2" * 15, "0" * 14, "O" * 14, "I" * 14, "L" * 14, "1" * 14, "É" * 14],
)
def test_malformed_codes_are_not_well_formed(text: str) -> None:
    assert not codes.is_well_formed(text)


def test_compute_check_symbol_validates_its_input() -> None:
    with pytest.raises(ValueError):
        codes.compute_check_symbol("2" * 12)
    with pytest.raises(ValueError):
        codes.compute_check_symbol("0" * 13)
    assert codes.compute_check_symbol("2" * 13) == codes.int_to_code(0)[-1]
