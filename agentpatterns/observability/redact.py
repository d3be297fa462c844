"""Redaction: what may leave the process, and in what shape.

:class:`Redactor` runs before anything is recorded anywhere (span attributes and events, log
records, audit-log rows). It turns any value into a JSON-ready structure of the same shape
(dicts, lists, strings, numbers) in which

* text that looks like personal data or a credential is replaced by ``[REDACTED:<kind>]``:
  e-mail addresses, phone numbers, payment card numbers (Luhn-checked, so order numbers
  survive), US social security numbers, API keys and tokens (``sk-...``, ``ghp_...``,
  ``AKIA...``, ``xox...``, ``AIza...``, Stripe keys, JWTs, ``Bearer ...``, private-key
  blocks, ``password=...`` pairs);
* every value under a secret-looking key (``password``, ``token``, ``api_key``,
  ``authorization``, ``cookie``, ``cvv`` ...) is replaced whole, whatever it is;
* long strings, lists and dicts are truncated with a marker that says how much was cut, and
  nesting deeper than ``max_depth`` is cut, so a record keeps its structure and stays small.

All text rules are compiled into one alternation, so a string is scanned once.

Example:
    >>> r = Redactor.default()
    >>> r.redact({"email": "ann@example.com", "api_key": 42, "note": "call +1 415 555 0100"})
    {'email': '[REDACTED:email]', 'api_key': '[REDACTED:secret]', 'note': 'call [REDACTED:phone]'}
    >>> r.redact_text("card 4111 1111 1111 1111, order 1234567890123")
    'card [REDACTED:card], order 1234567890123'
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["BUILTIN_KINDS", "DEFAULT_SECRET_KEYS", "DEFAULT_TEXT_RULES", "Redactor"]

#: Built-in text rules: ``(kind, regex, gate)``. A rule's regex only runs on text that
#: contains one of its gate literals (``"lower:"`` gates test the lower-cased text); digit
#: rules run only inside runs of digits and separators found by one fast scan.
_BUILTIN: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("private_key",
     r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----|[\s\S]*)",
     ("-----BEGIN",)),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}", ("eyJ",)),
    ("bearer", r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{8,}", ("lower:bearer",)),
    ("basic_auth", r"(?i:\bbasic)\s+[A-Za-z0-9+/]{12,}={0,2}", ("lower:basic",)),
    ("url_credentials", r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@/]+@", ("://",)),
    ("api_key",
     r"\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"
     r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{20,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
     r"|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{35}|\bglpat-[A-Za-z0-9_-]{20,}",
     ("sk-", "sk_", "rk_", "pk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
      "AKIA", "ASIA", "xox", "AIza", "glpat-")),
    ("secret_pair",
     r"(?i:\b(?:password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?token"
     r"|auth[_-]?token|token|client[_-]?secret)\b)\s*[:=]\s*[\"']?[^\s\"',;]{3,}",
     ("lower:pass", "lower:pwd", "lower:secret", "lower:key", "lower:token")),
    ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", ("@",)),
    ("card", r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w-])", ("digits",)),
    ("ssn", r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])", ("digits",)),
    ("phone",
     r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w-])"
     r"|(?<![\w+])\+\d{1,3}(?:[\s.-]?\d{2,4}){2,5}(?![\w-])", ("digits",)),
)  # fmt: skip

#: Kinds of the built-in text rules, all on by default.
BUILTIN_KINDS: Final[tuple[str, ...]] = tuple(dict.fromkeys(k for k, _, _ in _BUILTIN))
#: The built-in rules as ``(kind, regex)`` pairs (for reading; gates are internal).
DEFAULT_TEXT_RULES: Final[tuple[tuple[str, str], ...]] = tuple((k, r) for k, r, _ in _BUILTIN)
_DIGIT_RUN = re.compile(r"[+(]?\d[\d\s().+-]{5,}\d")

#: Key words that make a mapping key secret (after splitting ``camelCase``/``snake``/``kebab``).
DEFAULT_SECRET_KEYS: Final[frozenset[str]] = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "authorization",
        "auth", "credential", "credentials", "cookie", "cookies", "ssn", "cvv", "cvc", "pin",
        "otp", "jwt", "bearer", "privatekey", "accesskey", "sessionid", "secretkey",
        "api_key", "private_key", "access_key", "session_id", "card_number", "account_number",
        "secret_key", "client_secret", "refresh_token", "access_token", "set_cookie",
    }
)  # fmt: skip

_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_CACHE_MAX = 4096
_OVERLAP = 256
_SHORT = 64  # strings up to this length are cached: keys, names, enum-like values


def _rule_pairs(
    rules: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items: Iterable[Any] = rules.items() if isinstance(rules, Mapping) else rules
    return tuple((str(kind), str(regex)) for kind, regex in items)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclasses.dataclass(frozen=True, slots=True)
class _Gated:
    kind: str
    pattern: re.Pattern[str]
    replacement: str
    gates: tuple[str, ...]
    lower_gates: tuple[str, ...]


def _compile_custom(
    rules: Iterable[tuple[str, str]],
) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    parts: list[str] = []
    kinds: dict[str, str] = {}
    for i, (kind, regex) in enumerate(rules):
        kinds[f"c{i}"] = kind
        parts.append(f"(?P<c{i}>{regex})")
    return (re.compile("|".join(parts)) if parts else None), kinds


class Redactor:
    """Scrub personal data and secrets from any value, and bound its size.

    Args:
        rules: Your own ``(kind, regex)`` text rules (or a ``{kind: regex}`` mapping), tried
            before the built-in ones; a match becomes ``[REDACTED:<kind>]``.
        secret_keys: Words that make a mapping key secret; its value is replaced whole. A
            key is split into words (``X-Api-Key`` -> ``x api key``); it is secret when one
            word, or two adjacent words joined by ``_`` or nothing, is in this set.
        builtin: Which built-in rules to apply (default all of :data:`BUILTIN_KINDS`);
            ``card`` matches must also pass the Luhn check.
        max_string: Strings longer than this keep their head and a truncation marker.
        max_items: Lists and dicts keep this many items plus a marker.
        max_depth: Deeper nesting is replaced by ``"[max depth]"``.

    Use :meth:`default` for the built-in rules, :meth:`with_rules` to add your own and
    :meth:`disabled` to keep only truncation. Instances are immutable and thread-safe.
    """

    __slots__ = (
        "_custom",
        "_custom_kinds",
        "_digit_kinds",
        "_digits",
        "_gated",
        "_key_cache",
        "_text_cache",
        "builtin",
        "max_depth",
        "max_items",
        "max_string",
        "rules",
        "secret_keys",
    )

    def __init__(
        self,
        rules: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        secret_keys: Iterable[str] = DEFAULT_SECRET_KEYS,
        *,
        builtin: Iterable[str] = BUILTIN_KINDS,
        max_string: int = 2048,
        max_items: int = 100,
        max_depth: int = 8,
    ) -> None:
        self.rules: tuple[tuple[str, str], ...] = _rule_pairs(rules)
        self.secret_keys = frozenset(k.lower() for k in secret_keys)
        self.builtin = tuple(builtin)
        unknown = set(self.builtin) - set(BUILTIN_KINDS)
        if unknown:
            from agentpatterns.errors import ConfigurationError

            raise ConfigurationError(
                f"unknown built-in redaction rules {sorted(unknown)}; known: {BUILTIN_KINDS}"
            )
        self.max_string = max_string
        self.max_items = max_items
        self.max_depth = max_depth
        self._custom, self._custom_kinds = _compile_custom(self.rules)
        gated: list[_Gated] = []
        digit_rules: list[tuple[str, str]] = []
        for kind, regex, gates in _BUILTIN:
            if kind not in self.builtin:
                continue
            if gates == ("digits",):
                digit_rules.append((kind, regex))
                continue
            gated.append(
                _Gated(
                    kind,
                    re.compile(regex),
                    f"[REDACTED:{kind}]",
                    tuple(g for g in gates if not g.startswith("lower:")),
                    tuple(g[6:] for g in gates if g.startswith("lower:")),
                )
            )
        self._gated = tuple(gated)
        self._digits, self._digit_kinds = _compile_custom(digit_rules)
        self._key_cache: dict[str, bool] = {}
        self._text_cache: dict[str, str] = {}

    @classmethod
    def default(cls) -> Redactor:
        """The built-in rules and secret keys (see the module docstring)."""
        return cls()

    @classmethod
    def disabled(cls, **limits: int) -> Redactor:
        """No text rules and no secret keys: only truncation (for trusted, local data)."""
        return cls((), (), builtin=(), **limits)

    def with_rules(
        self,
        rules: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        secret_keys: Iterable[str] = (),
        **limits: int,
    ) -> Redactor:
        """A new Redactor with extra text rules (tried first) and extra secret keys.

        Example:
            >>> r = Redactor.default().with_rules({"order": r"#W\\d{7}"}, secret_keys=["dob"])
            >>> r.redact({"dob": "1990-01-01", "msg": "order #W1234567"})
            {'dob': '[REDACTED:secret]', 'msg': 'order [REDACTED:order]'}
        """
        return Redactor(
            _rule_pairs(rules) + self.rules,
            self.secret_keys | {k.lower() for k in secret_keys},
            builtin=self.builtin,
            max_string=limits.get("max_string", self.max_string),
            max_items=limits.get("max_items", self.max_items),
            max_depth=limits.get("max_depth", self.max_depth),
        )

    # --- text -------------------------------------------------------------------------------
    def _custom_repl(self, match: re.Match[str]) -> str:
        return f"[REDACTED:{self._custom_kinds[match.lastgroup or '']}]"

    def _digit_repl(self, match: re.Match[str]) -> str:
        kind = self._digit_kinds[match.lastgroup or ""]
        if kind == "card":
            digits = "".join(ch for ch in match.group() if ch.isdigit())
            if not (13 <= len(digits) <= 19 and _luhn(digits)):
                return match.group()
        return f"[REDACTED:{kind}]"

    def _digit_run(self, match: re.Match[str]) -> str:
        # Only runs of digits and separators can hold a card, SSN or phone number.
        assert self._digits is not None
        return self._digits.sub(self._digit_repl, match.group())

    def redact_text(self, text: str) -> str:
        """Replace sensitive spans of ``text`` and truncate it to ``max_string``."""
        size = len(text)
        if size <= _SHORT:
            if size < 6 and self._custom is None:  # nothing this short can match
                return text
            cached = self._text_cache.get(text)
            if cached is None:
                cached = self._redact_text(text, size)
                if len(self._text_cache) >= _KEY_CACHE_MAX:
                    self._text_cache.clear()
                self._text_cache[text] = cached
            return cached
        return self._redact_text(text, size)

    def _redact_text(self, text: str, size: int) -> str:
        if size > self.max_string:
            # Redact a little past the cut so a secret that straddles it is still caught.
            text = text[: self.max_string + _OVERLAP]
        if self._custom is not None:
            text = self._custom.sub(self._custom_repl, text)
        lower: str | None = None
        for rule in self._gated:
            hit = False
            for gate in rule.gates:
                if gate in text:
                    hit = True
                    break
            if not hit and rule.lower_gates:
                if lower is None:
                    lower = text.lower()
                for gate in rule.lower_gates:
                    if gate in lower:
                        hit = True
                        break
            if hit:
                new = rule.pattern.sub(rule.replacement, text)
                if new != text:
                    text, lower = new, None
        if self._digits is not None:
            text = _DIGIT_RUN.sub(self._digit_run, text)
        if size > self.max_string:
            text = f"{text[: self.max_string]}...[truncated {size - self.max_string} chars]"
        return text

    def is_secret_key(self, key: str) -> bool:
        """Whether values under mapping key ``key`` are secret."""
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        words = [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", key).lower()) if w]
        keys = self.secret_keys
        secret = any(w in keys for w in words) or any(
            f"{a}_{b}" in keys or f"{a}{b}" in keys for a, b in itertools.pairwise(words)
        )
        if len(self._key_cache) >= _KEY_CACHE_MAX:
            self._key_cache.clear()
        self._key_cache[key] = secret
        return secret

    # --- values -----------------------------------------------------------------------------
    def redact(self, value: Any) -> Any:
        """A redacted, JSON-ready copy of ``value`` (dict/list/str/int/float/bool/None).

        Messages, pydantic models, dataclasses, ``Command`` and ``Send`` become dicts; other
        objects become their redacted ``str()``.
        """
        return self._value(value, 0)

    def _value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.redact_text(value)
        if value is None or kind is int or kind is float or kind is bool:
            return value
        if depth >= self.max_depth:
            return "[max depth]"
        if kind is dict or isinstance(value, Mapping):
            return self._mapping(value, depth)  # pyright: ignore[reportUnknownArgumentType]
        if kind is list or kind is tuple or isinstance(value, list | tuple | set | frozenset):
            items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
            limit = self.max_items
            out = [self._value(v, depth + 1) for v in items[:limit]]
            if len(items) > limit:
                out.append(f"[+{len(items) - limit} more items]")
            return out
        if isinstance(value, str):  # str subclasses (enums)
            return self.redact_text(str(value))
        if isinstance(value, bool | int | float):
            return value
        if isinstance(value, bytes | bytearray):
            return f"<{len(value)} bytes>"
        return self._value(_plain(value), depth)

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= self.max_items:
                out["[truncated]"] = f"+{len(value) - self.max_items} more keys"
                break
            skey = key if type(key) is str else str(key)
            rkey = self.redact_text(skey) if len(skey) > 5 else skey
            if self.is_secret_key(skey):
                out[rkey] = "[REDACTED:secret]"
            else:
                out[rkey] = self._value(item, depth + 1)
        return out


def _plain(value: Any) -> Any:
    """A plain structure for a non-JSON object (never the object itself)."""
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        try:
            dumped = model_dump()
        except Exception:
            dumped = None
        if isinstance(dumped, dict):
            # Messages: keep what matters to a reader, drop empty defaults.
            return {k: v for k, v in dumped.items() if v not in (None, "", [], {})}  # pyright: ignore
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    cls = type(value).__name__
    if cls in ("Command", "Send", "Interrupt"):
        slots = getattr(type(value), "__slots__", ()) or tuple(vars(value))
        return {"type": cls, **{k: getattr(value, k, None) for k in slots if not k.startswith("_")}}
    return str(value)
