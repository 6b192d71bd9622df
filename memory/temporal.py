"""Time expressions in conversation text, resolved to dates against the turn's own timestamp (no LLM).

`resolve("I ran a race yesterday", parse_anchor("1:56 pm on 8 May, 2023"))` finds "yesterday" at its
exact offsets and resolves it to 7 May 2023; `TimeMention.label()` writes it the way LoCoMo's
temporal answers do ("7 May 2023", "May 2023", "2022", "summer 2022", "the week before 9 June 2023").

A compact regex grammar with dateutil arithmetic covers what people say in chat (about 20,000
LoCoMo sentences a second); dateparser reads only anchors in formats other than ISO, LoCoMo and REALTALK,
because its `search_dates` is slow and misreads conversational phrases. Conventions, chosen so that
answers are deterministic:
- weeks run Monday–Sunday; "last week" is the previous calendar week, "this weekend" the Saturday and
  Sunday of the anchor's week; seasons are meteorological and northern (summer = June–August; winter
  starts in December and is labelled with that year);
- a bare weekday ("on Monday") is the latest one on or before the anchor, "last Friday" (or "last Fri")
  the latest one strictly before it, "next Tuesday" the first one strictly after it, "this Friday" the
  one in the anchor's week; a date or month without a year is the occurrence nearest the anchor (ties:
  the past), and so is "on the 15th" without a month, read only when no noun follows ("the 5th floor");
- "a couple of" = 2 and "a few" = 3; vague phrases ("a while ago", "recently", "the other day",
  "several days ago") and durations ("in 3 days", "for two weeks") give no mention rather than a guess;
- "may"/"march" count as months only when the context rules out the verb, and the months that are also
  first names (April, May, June, August) only after "in", "since", "during", "of" and the like;
- a four-digit year (1900–2099) stands alone only after a preposition ("in 2022", "since 2019"),
  and never before a unit ("in 2000 dollars").
Relative expressions need an anchor; without one only absolute dates resolve.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from dateutil.relativedelta import relativedelta

from hyperloom.memory.formats import parse_time

Granularity = Literal["day", "week", "weekend", "month", "season", "year"]
_Range = tuple[date, date, Granularity]


@dataclass(frozen=True, slots=True)
class TimeMention:
    """A time expression at `text == source[start:end]`, meaning the days `first..last` (inclusive)."""

    start: int
    end: int
    text: str
    first: date
    last: date
    granularity: Granularity
    anchor: date | None = None  # the day it was said; week and weekend labels count from it

    def label(self) -> str:
        """LoCoMo's form: "7 May 2023", "May 2023", "2022", "summer 2022", "the week before 9 June 2023"."""
        if self.granularity == "day":
            return _day_label(self.first)
        if self.granularity == "month":
            return f"{_MONTHS[self.first.month - 1].title()} {self.first.year}"
        if self.granularity == "year":
            return str(self.first.year)
        if self.granularity == "season":
            name = "autumn" if "autumn" in self.text.lower() else _SEASON_NAMES[self.first.month]
            return f"{name} {self.first.year}"
        return self._week_label()

    def _week_label(self) -> str:
        unit = self.granularity
        if self.anchor is None:
            return f"the {unit} of {_day_label(self.first)}"
        said = _day_label(self.anchor)
        weeks = (_monday(self.first) - _monday(self.anchor)).days // 7
        if weeks == 0:  # LoCoMo: "this weekend" said on a Monday or a Friday is "the weekend of" that day
            return f"the {unit} of {said}"
        count = f"the {unit}" if abs(weeks) == 1 else f"{_COUNT_WORDS.get(abs(weeks), str(abs(weeks)))} {unit}s"
        return f"{count} {'after' if weeks > 0 else 'before'} {said}"


def _day_label(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1].title()} {day.year}"


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
_MONTH_ABBREVIATIONS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MONTH_NUMBER = {name: i for i, name in enumerate(_MONTHS, 1)} | _MONTH_ABBREVIATIONS
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# "Sat" and "Sun" are left out: "I last sat there", "the sun".
_WEEKDAY_ABBREVIATIONS = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4}
_WEEKDAY_NUMBER = {name: i for i, name in enumerate(_WEEKDAYS)} | _WEEKDAY_ABBREVIATIONS
_SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_SEASON_NAMES = {3: "spring", 6: "summer", 9: "fall", 12: "winter"}
_COUNT_WORDS = dict(enumerate("two three four five six seven eight nine ten".split(), 2))
_THIRDS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}
_WHICH = {"last": -1, "this past": -1, "this": 0, "this coming": 1, "next": 1}

_SMALL = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_FUZZY = {"a": 1, "an": 1, "a couple of": 2, "a couple": 2, "couple of": 2, "couple": 2, "a few": 3, "few": 3}
_NUMBER_WORDS = {word: i for i, word in enumerate(_SMALL, 1)} | _TENS | _FUZZY
_ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
             "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth").split()
_ORDINAL_NUMBER = ({word: i for i, word in enumerate(_ORDINALS, 1)}
                   | {f"twenty-{word}": 20 + i for i, word in enumerate(_ORDINALS[:9], 1)}
                   | {"thirtieth": 30, "thirty-first": 31})

# Months that are also verbs ("I may go") or first names ("I told June") stand alone as months only
# after prepositions that rarely precede a verb or a person.
_SAFE_PREPOSITIONS = {"in", "since", "until", "till", "during", "through", "throughout", "of"}
_VERB_MONTHS = {"may", "march"}
_AMBIGUOUS_MONTHS = {"april", "may", "june", "august", "march"}


def _alternatives(words: Iterable[str]) -> str:
    # Longest first, so "a couple of" is tried before "a"; spaces match any run of whitespace.
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


_NUM = rf"(?P<num>\d{{1,3}}|(?:{_alternatives(_TENS)})(?:[\s-](?:{_alternatives(_SMALL[:9])}))?|{_alternatives(_NUMBER_WORDS)})"
# An abbreviation's dot belongs to the date only before a number ("Sept. 5"); otherwise it ends the sentence.
_MONTH = rf"(?P<month>{_alternatives(_MONTH_NUMBER)})\b(?:(?:(?<=jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec)|(?<=sept))\.(?=\s*\d))?"
_FULL_MONTH = rf"(?P<month>{_alternatives(_MONTHS)})\b"
_DAY = r"(?P<day>[0-3]?\d)(?P<suffix>st|nd|rd|th)?(?!\d|:\d)"
_YEAR = r"(?P<year>(?:19|20)\d\d)(?!\d)"
_OPT_YEAR = rf"(?:(?:\s+of|,)?\s+{_YEAR})?"
_WEEKDAY_PREFIX = rf"(?:(?:{_alternatives(_WEEKDAYS)}),?\s+)?"
_WHICH_WORDS = r"(?P<which>this\s+past|this\s+coming|last|next|this)"
_SEASON = r"(?P<season>spring|summer|autumn|fall|winter)"
_PREPOSITIONS = "in|on|since|until|till|by|during|from|of|through|throughout|before|after|around|circa|to"
# "on the 15th" is a date only when nothing follows that it could count ("on the 5th floor").
_ALONE = (r"(?=\s*(?:[.,;:!?)]|$)|\s+(?:after|before|at|when|but|so|as|because|too|then|this|last|next|"
          r"i|we|he|she|they|it|my|our|with|for|in)\b)")
_NOT_A_YEAR = (r"(?![.,:]\d)(?!\s*(?:%|percent|dollars|euros|pounds|bucks|yen|usd|eur|people|persons|kids|"
               r"km|kilometers|miles|meters|metres|feet|ft|steps|calories|kcal|words|pages|points|times|"
               r"followers|likes|views|copies|members|users|students|hours|minutes|seconds|days|weeks|months|years)\b)")


def _number(words: str) -> int:
    words = " ".join(words.lower().replace("-", " ").split())
    if words.isdigit():
        return int(words)
    if words in _NUMBER_WORDS:
        return _NUMBER_WORDS[words]
    tens, ones = words.split()
    return _TENS[tens] + _NUMBER_WORDS[ones]


def _norm(words: str | None) -> str:
    return " ".join((words or "").lower().split())


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    return first, first + relativedelta(months=1, days=-1)


def _period(day: date, unit: str, k: int) -> _Range:
    """The day, week, weekend, month or year `k` units away from the one holding `day`."""
    if unit == "day":
        moved = day + timedelta(days=k)
        return moved, moved, "day"
    if unit in ("week", "weekend"):
        monday = _monday(day) + timedelta(weeks=k)
        if unit == "week":
            return monday, monday + timedelta(days=6), "week"
        return monday + timedelta(days=5), monday + timedelta(days=6), "weekend"
    if unit == "month":
        first = date(day.year, day.month, 1) + relativedelta(months=k)
        return first, first + relativedelta(months=1, days=-1), "month"
    return date(day.year + k, 1, 1), date(day.year + k, 12, 31), "year"


def _ago(m: re.Match[str], day: date) -> _Range:
    n = _number(m["num"])
    return _period(day, m["unit"].lower(), -n if m["dir"].lower() == "ago" else n)


def _relative(m: re.Match[str], day: date) -> _Range:
    first, last, granularity = _period(day, m["unit"].lower(), _WHICH[_norm(m["which"])])
    edge = _norm(m["edge"])
    if edge and first <= day <= last:
        # "earlier this month" is the part before the anchor, "later this week" the part after it.
        first, last = (first, day) if edge == "earlier" else (day, last)
    return first, last, granularity


def _before_last(m: re.Match[str], day: date) -> _Range:
    return _period(day, m["unit"].lower(), -2)


def _named_day(m: re.Match[str], day: date) -> _Range:
    name = _norm(m["name"])
    if "before yesterday" in name or "after tomorrow" in name:
        k = -2 if "before" in name else 2
    else:
        k = -1 if name in ("yesterday", "last night") else 1 if name == "tomorrow" else 0
    return _period(day, "day", k)


def _weekday(m: re.Match[str], day: date) -> _Range:
    wanted, today = _WEEKDAY_NUMBER[m["wd"].lower()], day.weekday()
    which = _norm(m["which"])
    if not which:
        moved = day - timedelta(days=(today - wanted) % 7)
    elif which == "this":
        moved = _monday(day) + timedelta(days=wanted)
    elif _WHICH[which] < 0:
        moved = day - timedelta(days=(today - wanted - 1) % 7 + 1)
    else:
        moved = day + timedelta(days=(wanted - today - 1) % 7 + 1)
    return moved, moved, "day"


def _day_of_nearby_month(m: re.Match[str], day: date) -> _Range:
    """"on the 15th": that day of the anchor's month, or of the month before or after, whichever is nearest."""
    dom, this_month = int(m["day"]), date(day.year, day.month, 1)
    candidates = []
    for k in (-1, 0, 1):
        month = this_month + relativedelta(months=k)
        if dom <= (month + relativedelta(months=1, days=-1)).day:
            candidates.append(month.replace(day=dom))
    if not candidates:
        raise ValueError(f"no month has a day {dom}")
    found = _nearest(candidates, day)
    return found, found, "day"


def _season_range(year: int, season: str) -> tuple[date, date]:
    first = date(year, _SEASON_START[season], 1)
    return first, first + relativedelta(months=3, days=-1)


def _season_relative(m: re.Match[str], day: date) -> _Range:
    season, k = m["season"].lower(), _WHICH[_norm(m["which"])]
    seasons = [_season_range(y, season) for y in range(day.year - 2, day.year + 2)]
    if k < 0:
        first, last = [s for s in seasons if s[1] < day][-1]
    elif k > 0:
        first, last = next(s for s in seasons if s[0] > day)
    else:
        first, last = next((s for s in seasons if s[0] <= day <= s[1]), _season_range(day.year, season))
    return first, last, "season"


def _season_of_year(m: re.Match[str], day: date | None) -> _Range:
    return *_season_range(int(m["year"]), m["season"].lower()), "season"


def _is_titlecase(word: str) -> bool:
    return word[:1].isupper() and word[1:].islower()


def _nearest(candidates: list[date], day: date) -> date:
    return min(candidates, key=lambda c: (abs((c - day).days), c > day))


def _day_of_month(m: re.Match[str], day: date | None, dom: int) -> _Range | None:
    """A dated day: the year written, else the occurrence nearest the anchor."""
    month_word = m["month"]
    month = _MONTH_NUMBER[month_word.lower()]
    groups = m.groupdict()
    explicit = bool(groups.get("year") or groups.get("suffix") or groups.get("of") or groups.get("ordinal"))
    if month_word.lower() in _VERB_MONTHS and not _is_titlecase(month_word) and not explicit:
        return None  # "I may 3 times", "7 may be enough"
    if m["year"]:
        found = date(int(m["year"]), month, dom)
        return found, found, "day"
    if day is None:
        return None
    candidates = []
    for year in (day.year - 1, day.year, day.year + 1):
        try:
            candidates.append(date(year, month, dom))
        except ValueError:  # 29 February outside leap years
            continue
    if not candidates:
        raise ValueError(f"no year has day {dom} in month {month}")
    found = _nearest(candidates, day)
    return found, found, "day"


def _numeric_day(m: re.Match[str], day: date | None) -> _Range | None:
    return _day_of_month(m, day, int(m["day"]))


def _ordinal_day(m: re.Match[str], day: date | None) -> _Range | None:
    return _day_of_month(m, day, _ORDINAL_NUMBER[m["ordinal"].lower()])


def _month_of_year(m: re.Match[str], day: date | None) -> _Range:
    return *_month_range(int(m["year"]), _MONTH_NUMBER[m["month"].lower()]), "month"


def _month_year_for(month: int, which: str, day: date) -> int:
    if which == "last":
        return day.year if month < day.month else day.year - 1
    if which == "next":
        return day.year if month > day.month else day.year + 1
    if which == "this":
        return day.year
    years = (day.year - 1, day.year, day.year + 1)
    return min(years, key=lambda y: (abs((y - day.year) * 12 + month - day.month), y > day.year))


def _modified_month(m: re.Match[str], day: date | None) -> _Range | None:
    """"last May", "this June", "early July", "mid-March 2022"."""
    word, modifier = m["month"], m["mod"].lower()
    if word.lower() in _VERB_MONTHS and not _is_titlecase(word) and modifier in _WHICH:
        return None  # "this may help", "next march"
    month = _MONTH_NUMBER[word.lower()]
    if m["year"]:
        year = int(m["year"])
    elif day is None:
        return None
    else:
        year = _month_year_for(month, modifier, day)
    first, last = _month_range(year, month)
    if modifier in _THIRDS:  # the label stays the month; only the range narrows
        low, high = _THIRDS[modifier]
        first, last = first.replace(day=low), last.replace(day=min(high, last.day))
    return first, last, "month"


def _month_after_preposition(m: re.Match[str], day: date | None) -> _Range | None:
    word, preposition = m["month"].lower(), m["prep"].lower()
    if day is None or (word in _AMBIGUOUS_MONTHS and preposition not in _SAFE_PREPOSITIONS):
        return None  # "I told June", "a letter from April"
    month = _MONTH_NUMBER[word]
    return *_month_range(_month_year_for(month, "", day), month), "month"


def _calendar_date(m: re.Match[str], day: date | None) -> _Range | None:
    if m.groupdict().get("slash_a"):
        a, b = int(m["slash_a"]), int(m["slash_b"])
        month, dom = (b, a) if a > 12 else (a, b)  # US order, unless the first number cannot be a month
    else:
        month, dom = int(m["m"]), int(m["d"])
    found = date(int(m["year"]), month, dom)
    return found, found, "day"


def _year(m: re.Match[str], day: date | None) -> _Range:
    year = int(m["t"])
    return date(year, 1, 1), date(year, 12, 31), "year"


def _rule(pattern: str) -> re.Pattern[str]:
    # ASCII: case-insensitive Unicode folding would let "ſeptember" or the Kelvin sign match month names.
    return re.compile(pattern, re.IGNORECASE | re.ASCII)


_Handler = Callable[[re.Match[str], date | None], _Range | None]
# (pattern, handler, needs an anchor); the group `t` is the mention, so context words can stay outside it.
_RULES: tuple[tuple[re.Pattern[str], _Handler, bool], ...] = (
    (_rule(rf"\b(?P<t>{_NUM}\s+(?P<unit>day|weekend|week|month|year)s?\s+(?P<dir>ago|from\s+now))\b"), _ago, True),
    (_rule(rf"\b(?P<t>(?:(?P<edge>earlier|later)\s+)?{_WHICH_WORDS}\s+(?P<unit>weekend|week|month|year))\b"), _relative, True),
    (_rule(r"\b(?P<t>the\s+(?P<unit>weekend|week|month|year)\s+before\s+last)\b"), _before_last, True),
    (_rule(r"\b(?P<t>(?P<name>the\s+day\s+before\s+yesterday|the\s+day\s+after\s+tomorrow|yesterday|today|tomorrow|"
           r"tonight|last\s+night|this\s+(?:morning|afternoon|evening)|(?:earlier|later)\s+today)"
           r"(?:\s+(?:morning|afternoon|evening|night))?)\b"), _named_day, True),
    (_rule(rf"\b(?P<t>(?:{_WHICH_WORDS}\s+)?(?P<wd>{_alternatives(_WEEKDAYS)})(?:\s+(?:morning|afternoon|evening|night))?)\b"), _weekday, True),
    (_rule(rf"\b(?P<t>{_WHICH_WORDS}\s+(?P<wd>{_alternatives(_WEEKDAY_ABBREVIATIONS)}))\b"), _weekday, True),
    (_rule(rf"\b(?:on|since|by|until|till|before|after)\s+(?P<t>the\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th))\b{_ALONE}"), _day_of_nearby_month, True),
    (_rule(rf"\b(?P<t>{_WHICH_WORDS}\s+{_SEASON})\b"), _season_relative, True),
    (_rule(rf"\b(?P<t>(?:the\s+)?{_SEASON}\s+(?:of\s+)?{_YEAR})"), _season_of_year, False),
    (_rule(rf"\b(?P<t>{_WEEKDAY_PREFIX}{_MONTH}\s+(?:the\s+)?{_DAY}(?:,?\s+{_YEAR})?)(?!\w)"), _numeric_day, False),
    (_rule(rf"\b(?P<t>{_WEEKDAY_PREFIX}(?:the\s+)?{_DAY}\s+(?P<of>of\s+)?{_MONTH}(?:,?\s+{_YEAR})?)(?!\w)"), _numeric_day, False),
    (_rule(rf"\b(?P<t>the\s+(?P<ordinal>{_alternatives(_ORDINAL_NUMBER)})\s+of\s+{_MONTH}(?:,?\s+{_YEAR})?)(?!\w)"), _ordinal_day, False),
    (_rule(rf"\b(?P<t>{_MONTH}(?:\s+of|,)?\s+{_YEAR})"), _month_of_year, False),
    (_rule(rf"\b(?P<t>(?P<mod>last|this|next|early|mid|late)(?:\s+|-){_FULL_MONTH}{_OPT_YEAR})"), _modified_month, False),
    (_rule(rf"\b(?P<prep>{_PREPOSITIONS})\s+(?P<t>{_FULL_MONTH})(?!['\u2019]s\b)"), _month_after_preposition, False),
    (_rule(r"\b(?P<t>(?P<year>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d))(?!\d)"), _calendar_date, False),
    (_rule(r"\b(?P<t>(?P<slash_a>\d{1,2})/(?P<slash_b>\d{1,2})/(?P<year>(?:19|20)\d\d))(?!\d)"), _calendar_date, False),
    (_rule(r"\b(?P<t>(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<year>(?:19|20)\d\d))(?!\d)"), _calendar_date, False),
    (_rule(rf"\b(?:(?:{_PREPOSITIONS}|early|mid|late)(?:\s+|-)|the\s+year\s+)(?P<t>(?:19|20)\d\d)(?!\w){_NOT_A_YEAR}"), _year, False),
)


def _as_day(anchor: object) -> date | None:
    if isinstance(anchor, datetime):  # before `date`: a datetime is a date too
        return anchor.date()
    return anchor if isinstance(anchor, date) else None


def _matches(text: str, day: date | None) -> Iterator[tuple[int, int, _Range | None]]:
    """Every grammar match as (start, end, range); the range is None for a date that does not exist."""
    for pattern, handler, needs_anchor in _RULES:
        if needs_anchor and day is None:
            continue
        for m in pattern.finditer(text):
            try:
                found = handler(m, day)
            except (ValueError, OverflowError):  # "31 June", or a real expression landing outside years 1–9999
                yield *m.span("t"), None
                continue
            if found:
                yield *m.span("t"), found


def resolve(text: str, anchor: datetime | date | None) -> list[TimeMention]:
    """Every time expression in `text`, resolved against `anchor`; non-overlapping, in order of position.

    Where expressions overlap the longest wins ("the day before yesterday" over "yesterday"); a date
    that does not exist wins too and is dropped, so "the 31st of June" is not read as "June". Without
    an anchor only absolute expressions (a written year or full date) resolve.
    """
    if not isinstance(text, str) or not text:
        return []
    day = _as_day(anchor)
    chosen: list[tuple[int, int, _Range | None]] = []
    for start, end, found in sorted(_matches(text, day), key=lambda s: (s[0] - s[1], s[0])):
        if all(end <= other[0] or other[1] <= start for other in chosen):
            chosen.append((start, end, found))
    return [TimeMention(start, end, text[start:end], *found, anchor=day) for start, end, found in sorted(chosen) if found]


_DATEPARSER_SETTINGS = {
    "PARSERS": ["custom-formats", "absolute-time"],  # an anchor is absolute: "yesterday" must not become "now - 1 day"
    "REQUIRE_PARTS": ["day", "month", "year"],  # and complete: "May 8" must not borrow today's year
    "RETURN_AS_TIMEZONE_AWARE": False,
}


def parse_anchor(value: str | date | None) -> datetime | None:
    """The datetime a turn was said at: ISO, LoCoMo "1:56 pm on 8 May, 2023", REALTALK "29.12.2023, 00:51:12",
    other complete written dates (through dateparser), a datetime, or a date (at midnight); None when unreadable."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if not isinstance(value, str) or not value.strip() or len(value) > 80:
        return None
    iso = parse_time(value)
    return datetime.fromisoformat(iso) if iso else _parse_with_dateparser(value)


def _parse_with_dateparser(value: str) -> datetime | None:
    import dateparser  # here, not at the top: 0.2 s of import that only unusual anchors need

    try:
        return dateparser.parse(value, languages=["en"], settings=_DATEPARSER_SETTINGS)
    except Exception:  # a third-party parser on arbitrary text; an unreadable anchor is simply absent
        return None
