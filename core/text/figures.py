"""Numbers as written: where a text states a figure, and the one token it reads as (sign,
decimals and unit kept), so "1" is never "-1" and "60 days" never "60 months". The figure
check of written answers compares these tokens; the answer's emphasis finds these spans.

>>> [(f.text, f.value) for f in figure_spans("Give sixty days notice, or $1,250 by 5 June.")]
[('sixty days', '60 day'), ('$1,250', '1250'), ('5 June', '5 june')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A number as written: "60", "$1,250.5", "5%", "-1" (not the 4 of "Q4" or a 2 inside "v2.1a").
# A minus sign counts when it stands before the digits ("-1", "(−2)"), not between two
# words or numbers ("5-10", "pre-2000").
_FIGURE = re.compile(r"(?<![\w.,])(?:(?<![\w\-−])([-−]))?(\d+(?:[.,]\d+)*)(?![\w])")
# ... and as an ordinal: the "3rd" or "third" of "third quarter" is what a reader checks.
_ORDINAL = re.compile(r"(?<![\w.,])(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
# What follows a number and changes what it means: "60 days" is not "60 months", "$6.8
# billion" not "$6.8 million", "5 June" not "5 May".
_UNIT_AFTER = re.compile(r"\s?(%|percent\b|per\s?cent\b)|[\s-]?([A-Za-z]+)")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_UNITS = frozenset((
    "second", "sec", "minute", "min", "hour", "hr", "day", "week", "month", "year", "decade",
    "century", "ms", "millisecond", "microsecond", "nanosecond",
    "thousand", "million", "billion", "trillion", "hundred", "dozen",
    "dollar", "cent", "euro", "pound", "yen", "usd", "eur", "gbp",
    "mm", "cm", "m", "km", "meter", "metre", "kilometer", "kilometre", "mile", "foot", "feet",
    "inch", "yard", "kg", "g", "mg", "gram", "kilogram", "ton", "tonne", "lb", "ounce", "oz",
    "l", "ml", "liter", "litre", "gallon", "b", "kb", "mb", "gb", "tb", "byte", "bit",
    "kilobyte", "megabyte", "gigabyte", "terabyte", "hz", "khz", "mhz", "ghz", "w", "kw",
    "mw", "watt", "v", "volt", "degree", "times", "percent", "point", "level", "bp",
    *_MONTHS,
))
# Number words, so "sixty days" and "60 days" agree; "one" is left out ("one of the ...").
_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen", "twenty")
_TENS = ("thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth", "eleventh", "twelfth")
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_ONES) if word != "one"} | {
    word: str(10 * tens) for tens, word in enumerate(_TENS, start=3)}
_ORDINAL_WORDS = {word: value for value, word in enumerate(_ORDINALS, start=1)}
# "twenty-eight" is 28, not 20 and 8.
_COMPOUND = (r"(twenty|" + "|".join(_TENS) + r")[-‐](" + "|".join(_ONES[1:10]) + r")")
_NUMBER_WORD = re.compile(
    r"\b(?:" + _COMPOUND + r"|(" + "|".join((*_NUMBER_WORDS, *_ORDINAL_WORDS)) + r"))\b",
    re.IGNORECASE)
_MONTH_BEFORE = re.compile(r"\b(" + "|".join(_MONTHS) + r")\.?\s$", re.IGNORECASE)
# A currency sign is part of a figure as written ("$1,250"), though not of its token.
_CURRENCY_BEFORE = re.compile(r"[$€£¥]$")


@dataclass(frozen=True)
class Figure:
    """A figure in a text: ``text[start:end]`` as written (with its currency sign, unit or
    month), and ``value``, the token it reads as ("60 day", "-1", "5 june", "3rd")."""

    start: int
    end: int
    text: str
    value: str

    @property
    def unit(self) -> str:
        """The unit of ``value`` ("day", "june", "%"), or "" when it has none."""
        if self.value.endswith("%"):
            return "%"
        return self.value.partition(" ")[2]


def figures(text: str) -> set[str]:
    """The numbers ``text`` states, each as one token with its sign, decimals and unit:
    "$1,250.5 million" gives "1250.5 million", "-1" "-1", "sixty days" "60 day", "third" and
    "3rd" both "3rd", "5 June" and "June 5" "5 june"."""
    return {figure.value for figure in figure_spans(text)}


def figure_spans(text: str) -> list[Figure]:
    """The figures of ``text`` in the order they are written."""
    found: list[Figure] = []
    for match in _FIGURE.finditer(text):
        value = ("-" if match.group(1) else "") + match.group(2).replace(",", "")
        found.append(_with_unit(value, text, match.start(), match.end()))
    for match in _ORDINAL.finditer(text):
        found.append(_with_unit(_ordinal(int(match.group(1))), text, match.start(), match.end()))
    for match in _NUMBER_WORD.finditer(text):
        if match.group(1):
            tens, ones = match.group(1).lower(), match.group(2).lower()
            value = str(int(_NUMBER_WORDS[tens]) + _ONES.index(ones))
        else:
            word = match.group(3).lower()
            value = _NUMBER_WORDS.get(word) or _ordinal(_ORDINAL_WORDS[word])
        found.append(_with_unit(value, text, match.start(), match.end()))
    return sorted(found, key=lambda figure: figure.start)


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th')}"


def _with_unit(value: str, text: str, start: int, end: int) -> Figure:
    """``value`` with the unit after it ("60 day", "5%"), or the month before it ("5 june"),
    and the span they are written over."""
    if _CURRENCY_BEFORE.search(text, max(0, start - 1), start):
        start -= 1
    after = _UNIT_AFTER.match(text, end)
    if after is not None:
        if after.group(1):
            return Figure(start, after.end(), text[start:after.end()], f"{value}%")
        word = after.group(2).lower()
        word = word[:-1] if word.endswith("s") and word[:-1] in _UNITS else word
        if word in _UNITS:
            return Figure(start, after.end(), text[start:after.end()], f"{value} {word}")
    before = _MONTH_BEFORE.search(text, max(0, start - 12), start)
    if before is not None:
        return Figure(before.start(), end, text[before.start():end],
                      f"{value} {before.group(1).lower()}")
    return Figure(start, end, text[start:end], value)
