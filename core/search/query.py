"""Query syntax: free words, ``"exact phrase"``, ``-excluded``, ``dir:PATH``, ``ext:pdf``,
``after:2024-01-01`` and ``before:2024-12-31``.

Every piece of user text reaches FTS5 only as a quoted string, so no query can cause an SQL or
FTS5 syntax error.

>>> q = parse_query('"notice period" lease -draft ext:pdf after:2024-01')
>>> q.phrases, q.terms, q.excluded, q.exts
(['notice period'], ['lease'], ['draft'], ['pdf'])
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.text.words import QUERY_STOPWORDS

_TOKEN = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))')
_FILTERS = {"dir", "ext", "after", "before", "in", "type"}


@dataclass
class ParsedQuery:
    raw: str
    terms: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    exts: list[str] = field(default_factory=list)
    after: float | None = None
    before: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def semantic_text(self) -> str:
        """What the meaning-based side embeds: the words and phrases as the user wrote them."""
        return " ".join([*self.phrases, *self.terms]).strip()

    @property
    def has_text(self) -> bool:
        return bool(self.terms or self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(self.dirs or self.exts or self.after or self.before)

    def keywords(self) -> list[str]:
        """The free words the keyword side looks for: stop words out, unless that is all."""
        return [t for t in self.terms if t.lower() not in QUERY_STOPWORDS] or self.terms

    def fts_match(self, words: list[str] | None = None) -> str | None:
        """The FTS5 MATCH expression for the keyword side, or None when there are no words.

        Phrases are required; free words (``keywords()`` unless ``words`` narrows them) are
        OR-ed (BM25 ranks documents with more of them first); exclusions are subtracted.
        """
        if words is None:
            words = self.keywords()
        parts = [fts_quote(p) for p in self.phrases]
        if words:
            parts.append("(" + " OR ".join(fts_quote(w) for w in words) + ")")
        if not parts:
            return None
        expr = " AND ".join(parts)
        if self.excluded:
            expr = f"({expr}) NOT ({self.excluded_match()})"
        return expr

    def excluded_match(self) -> str:
        return " OR ".join(fts_quote(e) for e in self.excluded)


def fts_quote(text: str) -> str:
    """Quote user text as one FTS5 string (a phrase of its tokens)."""
    return '"' + text.replace('"', '""') + '"'


def parse_query(raw: str, cwd: Path | None = None) -> ParsedQuery:
    query = ParsedQuery(raw=raw)
    for match in _TOKEN.finditer(raw):
        negated, key, quoted, bare = match.groups()
        value = quoted if quoted is not None else (bare or "")
        key_l = (key or "").lower()
        if key_l in _FILTERS and not negated and value:
            _apply_filter(query, key_l, value, cwd)
            continue
        if key and key_l not in _FILTERS:
            # "re:ports" or "http://x" is just text, not a filter.
            value = f"{key}:{value}"
        value = value.strip()
        if not _has_word(value):
            continue
        if negated:
            query.excluded.append(value)
        elif quoted is not None:
            query.phrases.append(value)
        else:
            query.terms.extend(w for w in re.findall(r"\w+", value))
    return query


def _has_word(text: str) -> bool:
    return re.search(r"\w", text) is not None


def _apply_filter(query: ParsedQuery, key: str, value: str, cwd: Path | None) -> None:
    if key in ("dir", "in"):
        query.dirs.append(_normalise_dir(value, cwd))
    elif key in ("ext", "type"):
        query.exts.extend(e.lower().lstrip(".") for e in value.split(",") if e.strip(". "))
    else:
        stamp = parse_date(value)
        if stamp is None:
            query.warnings.append(
                f"'{key}:{value}' is not a date I understand; use YYYY, YYYY-MM or YYYY-MM-DD."
            )
        elif key == "after":
            query.after = stamp
        else:
            query.before = stamp


def _normalise_dir(value: str, cwd: Path | None) -> str:
    path = Path(os.path.expanduser(value))
    if path.is_absolute() or value.startswith((".", "~")):
        base = cwd or Path.cwd()
        return str((base / path).resolve()) if not path.is_absolute() else str(path)
    # A bare name matches any folder of that name.
    return value.strip("/\\")


def parse_date(value: str) -> float | None:
    """Local midnight at the start of YYYY, YYYY-MM or YYYY-MM-DD, as a timestamp."""
    for fmt in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return dt.datetime.strptime(value, fmt).timestamp()
        except ValueError:
            continue
    return None


def query_words(query: str) -> list[str]:
    """The words and phrases of a query worth marking in a preview (no filters, no stopwords).

    >>> query_words('"notice period" the lease ext:pdf')
    ['notice period', 'lease']
    """
    parsed = parse_query(query)
    words = [t for t in parsed.terms if t.lower() not in QUERY_STOPWORDS]
    return [*parsed.phrases, *words]
