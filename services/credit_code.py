"""Unified social credit codes 统一社会信用代码 (GB 32100-2015).

18 characters: registration authority (1), entity category (1), administrative region (6),
the entity's organization code (9, itself a GB 11714 code with its own check character)
and a check character over the first 17.
"""

from __future__ import annotations

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LENGTH = 18
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}

# GB 11714-1997, for positions 9–17.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def normalize_credit_code(text: str) -> str:
    """Full-width to half-width, whitespace removed, upper case: the form codes are stored in."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def looks_like_credit_code(text: str) -> bool:
    """Whether the person typed a code (rather than a name), valid or not."""
    code = normalize_credit_code(text)
    return len(code) == LENGTH and all(ch in _VALUE for ch in code)


def check_character(first17: str) -> str:
    """The 18th character for the first 17; ``ValueError`` if they are not 17 code characters."""
    body = normalize_credit_code(first17)
    if len(body) != LENGTH - 1 or any(ch not in _VALUE for ch in body):
        raise ValueError(f"not the first 17 characters of a credit code: {first17!r}")
    remainder = sum(_VALUE[ch] * weight for ch, weight in zip(body, WEIGHTS, strict=True)) % 31
    return ALPHABET[(31 - remainder) % 31]


def make_credit_code(first17: str) -> str:
    """The full code for the first 17 characters (fixtures and tests build valid codes with it)."""
    body = normalize_credit_code(first17)
    return body + check_character(body)


def is_valid_credit_code(code: str) -> bool:
    """18 code characters (after ``normalize_credit_code``) whose last one is the right check character.

    Only the GB 32100 check is enforced: a single mistyped or swapped character always fails
    it, while rejecting a genuine code because of its embedded organization code would block
    a person with no way round it (see ``has_valid_organization_code``).
    """
    normalized = normalize_credit_code(code)
    if not looks_like_credit_code(normalized):
        return False
    return check_character(normalized[:-1]) == normalized[-1]


def has_valid_organization_code(code: str) -> bool:
    """Whether positions 9–17 pass the GB 11714 organization-code check.

    Codes issued under GB 32100 embed such a code; the published codes of large companies
    pass. It is a separate, advisory check because codes of some kinds of entity are not
    guaranteed to carry a GB 11714-conforming part.
    """
    normalized = normalize_credit_code(code)
    if not looks_like_credit_code(normalized):
        return False
    body, check = normalized[8:16], normalized[16]
    # GB 11714 values letters as A=10 … Z=35, unlike the 31-character alphabet above.
    total = sum(int(ch, 36) * weight for ch, weight in zip(body, _ORG_WEIGHTS, strict=True))
    expected = (11 - total % 11) % 11
    return check == ("X" if expected == 10 else str(expected))
