"""The password policy (manual §2.1.2) and argon2id hashing. Pure: no Flask, no database."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
# Characters of the manual's four classes; nothing else is allowed in a password.
LOWERCASE = frozenset(string.ascii_lowercase)
UPPERCASE = frozenset(string.ascii_uppercase)
DIGITS = frozenset(string.digits)
SYMBOLS = frozenset("!@#$%^&*")
ALLOWED_CHARACTERS = LOWERCASE | UPPERCASE | DIGITS | SYMBOLS
CHARACTER_CLASSES = (LOWERCASE, UPPERCASE, DIGITS, SYMBOLS)
MIN_CLASSES = 3

# The sentence of the manual's 「エラー詳細」 dialog, for every rule of the manual's policy.
POLICY_MESSAGE = (
    "パスワードが要件を満たしていません。"
    "パスワードは8文字以上、かつ英小文字・英大文字・数字・記号(!@#$%^&*)のいずれかの文字を使用してください。"
)
SAME_AS_CONNECTOR_ID_MESSAGE = "配配メールコネクタ ID と同じ文字列はパスワードに使用できません。"
SAME_AS_PREVIOUS_MESSAGE = (
    "以前と同じパスワードは使用できません。別のパスワードを設定してください。"
)
MISMATCH_MESSAGE = "「新しいパスワード」と「再入力(確認)」が一致しません。"


class PasswordProblem(Enum):
    """One reason a candidate password is refused; `.message` is what the dialog shows."""

    TOO_SHORT = "too_short"
    FORBIDDEN_CHARACTERS = "forbidden_characters"
    TOO_FEW_CLASSES = "too_few_classes"
    SAME_AS_CONNECTOR_ID = "same_as_connector_id"
    SAME_AS_PREVIOUS = "same_as_previous"
    MISMATCH = "mismatch"

    @property
    def message(self) -> str:
        """The Japanese sentence shown for this problem."""
        if self is PasswordProblem.SAME_AS_CONNECTOR_ID:
            return SAME_AS_CONNECTOR_ID_MESSAGE
        if self is PasswordProblem.SAME_AS_PREVIOUS:
            return SAME_AS_PREVIOUS_MESSAGE
        if self is PasswordProblem.MISMATCH:
            return MISMATCH_MESSAGE
        return POLICY_MESSAGE


def character_classes(password: str) -> int:
    """How many of the four allowed character classes occur in `password`."""
    return sum(1 for chars in CHARACTER_CLASSES if any(c in chars for c in password))


def validate_password(
    password: str,
    connector_id: str,
    previous_hash: str | Iterable[str | None] | None = None,
) -> list[PasswordProblem]:
    """Every problem of `password` under the policy; empty when it may be used.

    `previous_hash` is the argon2 hash (or several) of passwords that may not be reused.
    """
    problems: list[PasswordProblem] = []
    if len(password) < MIN_LENGTH:
        problems.append(PasswordProblem.TOO_SHORT)
    if any(c not in ALLOWED_CHARACTERS for c in password):
        problems.append(PasswordProblem.FORBIDDEN_CHARACTERS)
    if character_classes(password) < MIN_CLASSES:
        problems.append(PasswordProblem.TOO_FEW_CLASSES)
    if connector_id and password.casefold() == connector_id.strip().casefold():
        problems.append(PasswordProblem.SAME_AS_CONNECTOR_ID)
    hashes = [previous_hash] if isinstance(previous_hash, str) else list(previous_hash or [])
    # Hashing is slow on purpose: only compare when nothing cheaper already refused it.
    if not problems and any(h and verify_password(h, password) for h in hashes):
        problems.append(PasswordProblem.SAME_AS_PREVIOUS)
    return problems


def problem_messages(problems: Iterable[PasswordProblem]) -> list[str]:
    """The distinct messages of `problems`, in order (the policy rules share one sentence)."""
    messages: list[str] = []
    for problem in problems:
        if problem.message not in messages:
            messages.append(problem.message)
    return messages


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (encoded with its parameters and salt)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches `password_hash`; False for a mismatch or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when `password_hash` was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# Generated passwords avoid characters that are easy to misread when typed from a printout.
_GENERATED_CLASSES = (
    "abcdefghijkmnopqrstuvwxyz",
    "ABCDEFGHJKLMNPQRSTUVWXYZ",
    "23456789",
    "!@#$%^&*",
)


def generate_password(length: int = 16) -> str:
    """A random password of `length` (≥ 8) holding every character class; meets the policy."""
    if length < MIN_LENGTH:
        raise ValueError(f"generated passwords have at least {MIN_LENGTH} characters")
    rng = secrets.SystemRandom()
    chars = [rng.choice(group) for group in _GENERATED_CLASSES]
    alphabet = "".join(_GENERATED_CLASSES)
    chars += [rng.choice(alphabet) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)
