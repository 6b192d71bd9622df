"""Time expressions resolve against the turn's timestamp to LoCoMo-style dates, at exact offsets, and never raise."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperloom.memory.temporal import TimeMention, parse_anchor, resolve

MON_8_MAY = "1:56 pm on 8 May, 2023"  # LoCoMo session time
TUE_23_MAY = "10:37 am on 23 May, 2023"
FRI_9_JUNE = "7:55 pm on 9 June, 2023"
FRI_29_DEC = "29.12.2023, 00:51:12"  # REALTALK
SUN_15_OCT = "2023-10-15T09:00:00"  # ISO

# (sentence, the expression found in it, anchor, first, last, label)
CASES = [
    ("I ran a charity race yesterday.", "yesterday", MON_8_MAY, "2023-05-07", "2023-05-07", "7 May 2023"),
    ("We went hiking the day before yesterday.", "the day before yesterday", MON_8_MAY, "2023-05-06", "2023-05-06", "6 May 2023"),
    ("My interview is tomorrow!", "tomorrow", MON_8_MAY, "2023-05-09", "2023-05-09", "9 May 2023"),
    ("Last year I started painting.", "Last year", MON_8_MAY, "2022-01-01", "2022-12-31", "2022"),
    ("I adopted Luna two weeks ago.", "two weeks ago", MON_8_MAY, "2023-04-24", "2023-04-30", "two weeks before 8 May 2023"),
    ("I visited my mom a few days ago.", "a few days ago", MON_8_MAY, "2023-05-05", "2023-05-05", "5 May 2023"),
    ("I'm moving next month.", "next month", MON_8_MAY, "2023-06-01", "2023-06-30", "June 2023"),
    ("We painted a lake sunrise last summer.", "last summer", MON_8_MAY, "2022-06-01", "2022-08-31", "summer 2022"),
    ("I got my degree three years ago.", "three years ago", MON_8_MAY, "2020-01-01", "2020-12-31", "2020"),
    ("I quit smoking ten years ago.", "ten years ago", MON_8_MAY, "2013-01-01", "2013-12-31", "2013"),
    ("My dad retired twenty years ago.", "twenty years ago", MON_8_MAY, "2003-01-01", "2003-12-31", "2003"),
    ("This morning I baked bread.", "This morning", MON_8_MAY, "2023-05-08", "2023-05-08", "8 May 2023"),
    ("Tonight we're watching a movie.", "Tonight", MON_8_MAY, "2023-05-08", "2023-05-08", "8 May 2023"),
    ("I signed up for classes earlier this month.", "earlier this month", MON_8_MAY, "2023-05-01", "2023-05-08", "May 2023"),
    ("A couple of weeks ago I joined a support group.", "A couple of weeks ago", MON_8_MAY, "2023-04-24", "2023-04-30", "two weeks before 8 May 2023"),
    ("I finished the book 12 days ago.", "12 days ago", MON_8_MAY, "2023-04-26", "2023-04-26", "26 April 2023"),
    ("I lost my keys a year ago.", "a year ago", MON_8_MAY, "2022-01-01", "2022-12-31", "2022"),
    ("The kids planted seeds mid-May.", "mid-May", MON_8_MAY, "2023-05-11", "2023-05-20", "May 2023"),
    ("We have a game next Saturday.", "next Saturday", MON_8_MAY, "2023-05-13", "2023-05-13", "13 May 2023"),
    ("We're going camping this weekend.", "this weekend", MON_8_MAY, "2023-05-13", "2023-05-14", "the weekend of 8 May 2023"),
    ("I met my teammates on the 15th after the trip.", "the 15th", TUE_23_MAY, "2023-05-15", "2023-05-15", "15 May 2023"),
    ("Last Fri I took the kids to a pottery workshop.", "Last Fri", TUE_23_MAY, "2023-05-19", "2023-05-19", "19 May 2023"),
    ("I went to the beach last Saturday.", "last Saturday", TUE_23_MAY, "2023-05-20", "2023-05-20", "20 May 2023"),
    ("On Monday I gave a talk at school.", "Monday", TUE_23_MAY, "2023-05-22", "2023-05-22", "22 May 2023"),
    ("We saw fireworks on Friday night.", "Friday night", TUE_23_MAY, "2023-05-19", "2023-05-19", "19 May 2023"),
    ("This Friday we have a match.", "This Friday", TUE_23_MAY, "2023-05-26", "2023-05-26", "26 May 2023"),
    ("Last month I visited Paris.", "Last month", TUE_23_MAY, "2023-04-01", "2023-04-30", "April 2023"),
    ("My trip to Spain was in March.", "March", TUE_23_MAY, "2023-03-01", "2023-03-31", "March 2023"),
    ("In early June we plant tomatoes.", "early June", TUE_23_MAY, "2023-06-01", "2023-06-10", "June 2023"),
    ("Back in 2015 I lived in Ohio.", "2015", TUE_23_MAY, "2015-01-01", "2015-12-31", "2015"),
    ("I went to a pride parade last week.", "last week", FRI_9_JUNE, "2023-05-29", "2023-06-04", "the week before 9 June 2023"),
    ("We camped by the lake last weekend.", "last weekend", FRI_9_JUNE, "2023-06-03", "2023-06-04", "the weekend before 9 June 2023"),
    ("I'll call you next Tuesday.", "next Tuesday", FRI_9_JUNE, "2023-06-13", "2023-06-13", "13 June 2023"),
    ("Last Friday I went to a concert.", "Last Friday", FRI_9_JUNE, "2023-06-02", "2023-06-02", "2 June 2023"),
    ("Next week I'm starting a new job.", "Next week", FRI_9_JUNE, "2023-06-12", "2023-06-18", "the week after 9 June 2023"),
    ("The week before last was rough.", "The week before last", FRI_9_JUNE, "2023-05-22", "2023-05-28", "two weeks before 9 June 2023"),
    ("I've been so busy earlier this week.", "earlier this week", FRI_9_JUNE, "2023-06-05", "2023-06-09", "the week of 9 June 2023"),
    ("I read that novel in 2022.", "2022", FRI_9_JUNE, "2022-01-01", "2022-12-31", "2022"),
    ("We've been friends since 2019.", "2019", FRI_9_JUNE, "2019-01-01", "2019-12-31", "2019"),
    ("My sister's wedding was on the 5th of June.", "the 5th of June", FRI_9_JUNE, "2023-06-05", "2023-06-05", "5 June 2023"),
    ("Rent went up in late February.", "late February", FRI_9_JUNE, "2023-02-21", "2023-02-28", "February 2023"),
    ("We first met on 7 May.", "7 May", FRI_9_JUNE, "2023-05-07", "2023-05-07", "7 May 2023"),
    ("I ran a half marathon last May.", "last May", FRI_9_JUNE, "2023-05-01", "2023-05-31", "May 2023"),
    ("Next summer I'm going to Japan.", "Next summer", FRI_9_JUNE, "2024-06-01", "2024-08-31", "summer 2024"),
    ("I'll see you the day after tomorrow.", "the day after tomorrow", FRI_29_DEC, "2023-12-31", "2023-12-31", "31 December 2023"),
    ("Last night I couldn't sleep.", "Last night", FRI_29_DEC, "2023-12-28", "2023-12-28", "28 December 2023"),
    ("Next year will be great.", "Next year", FRI_29_DEC, "2024-01-01", "2024-12-31", "2024"),
    ("I changed jobs a month ago.", "a month ago", FRI_29_DEC, "2023-11-01", "2023-11-30", "November 2023"),
    ("This winter is so cold.", "This winter", FRI_29_DEC, "2023-12-01", "2024-02-29", "winter 2023"),
    ("The deadline was 15.11.2023, sadly.", "15.11.2023", FRI_29_DEC, "2023-11-15", "2023-11-15", "15 November 2023"),
    ("We went to the coast two weekends ago.", "two weekends ago", SUN_15_OCT, "2023-09-30", "2023-10-01", "two weekends before 15 October 2023"),
    ("Last autumn the leaves were amazing.", "Last autumn", SUN_15_OCT, "2022-09-01", "2022-11-30", "autumn 2022"),
    ("Grandma's birthday is the third of July.", "the third of July", SUN_15_OCT, "2023-07-03", "2023-07-03", "3 July 2023"),
    ("Sunday is my rest day.", "Sunday", SUN_15_OCT, "2023-10-15", "2023-10-15", "15 October 2023"),
    ("The concert was on May 7, 2023.", "May 7, 2023", None, "2023-05-07", "2023-05-07", "7 May 2023"),
    ("Friday, May 5, 2023 was the big day.", "Friday, May 5, 2023", None, "2023-05-05", "2023-05-05", "5 May 2023"),
    ("She started the course in June 2023.", "June 2023", None, "2023-06-01", "2023-06-30", "June 2023"),
    ("She finished the course in 2019.", "2019", None, "2019-01-01", "2019-12-31", "2019"),
    ("The summer of 2021 was the best.", "The summer of 2021", None, "2021-06-01", "2021-08-31", "summer 2021"),
    ("The dentist is booked for 2024-01-03.", "2024-01-03", None, "2024-01-03", "2024-01-03", "3 January 2024"),
    ("Her visa expired on 5/7/2023.", "5/7/2023", None, "2023-05-07", "2023-05-07", "7 May 2023"),
    ("We opened the shop in Oct 2022.", "Oct 2022", None, "2022-10-01", "2022-10-31", "October 2022"),
]

NO_MENTION = [
    "I may go to the gym later.",
    "May I ask you something?",
    "This may sound silly, but I love it.",
    "Maybe 7 may be enough.",
    "Soldiers march in line.",
    "March forward, everyone!",
    "I told June about the party.",
    "I got a letter from April.",
    "Wear sunscreen, the sun is strong.",
    "It was my second time there.",
    "Call me in a second.",
    "That was a while ago.",
    "Years ago I lived there.",
    "The other day I saw him at the store.",
    "I waited for a few days.",
    "I have 2019 photos on my phone.",
    "My PIN is 2022.",
    "The bill came to 2023 dollars.",
    "Room 1999 is on the 5th floor.",
    "The offices are on the 1st and 2nd floors.",
    "The party is on the 31st of June.",  # no such day, and not read as "June" either
    "We met on 29 February 2023.",
    "I last sat there in the back row.",
    "We meet on Sundays.",
    "🎉🎻👩‍👩‍👧",
    "",
]


@pytest.mark.parametrize(("sentence", "expression", "anchor", "first", "last", "label"), CASES, ids=[c[1] for c in CASES])
def test_expression_resolves_against_the_anchor(sentence: str, expression: str, anchor: str | None, first: str, last: str, label: str) -> None:
    (mention,) = resolve(sentence, parse_anchor(anchor))
    assert sentence[mention.start : mention.end] == mention.text == expression
    assert (mention.first, mention.last) == (date.fromisoformat(first), date.fromisoformat(last))
    assert mention.label() == label


@pytest.mark.parametrize("sentence", NO_MENTION)
def test_false_positive_traps_give_no_mention(sentence: str) -> None:
    assert resolve(sentence, parse_anchor(MON_8_MAY)) == []


def test_relative_expressions_need_an_anchor_and_absolute_ones_do_not() -> None:
    text = "Yesterday I booked flights for May 7, 2024 and last week I paid."
    assert [m.text for m in resolve(text, None)] == ["May 7, 2024"]
    assert [m.text for m in resolve(text, date(2023, 5, 8))] == ["Yesterday", "May 7, 2024", "last week"]


def test_longest_expression_wins_and_mentions_come_in_order() -> None:
    text = "The day before yesterday, then last Friday night, and on the 5th of June 2022."
    mentions = resolve(text, datetime(2023, 6, 9, 19, 55))
    assert [m.text for m in mentions] == ["The day before yesterday", "last Friday night", "the 5th of June 2022"]
    assert [m.label() for m in mentions] == ["7 June 2023", "2 June 2023", "5 June 2022"]


def test_weekday_on_the_anchor_day_is_that_day_unless_last_or_next() -> None:
    monday = datetime(2023, 5, 8, 13, 56)
    assert [(m.text, m.first.day) for m in resolve("Monday, last Monday, next Monday", monday)] == [
        ("Monday", 8), ("last Monday", 1), ("next Monday", 15)]


def test_parse_anchor_reads_the_formats_conversations_use() -> None:
    assert parse_anchor(MON_8_MAY) == datetime(2023, 5, 8, 13, 56)
    assert parse_anchor(FRI_29_DEC) == datetime(2023, 12, 29, 0, 51, 12)
    assert parse_anchor(SUN_15_OCT) == datetime(2023, 10, 15, 9, 0)
    assert parse_anchor("May 8, 2023 1:56 PM") == datetime(2023, 5, 8, 13, 56)  # through dateparser
    assert parse_anchor(datetime(2020, 1, 2, 3, 4)) == datetime(2020, 1, 2, 3, 4)
    assert parse_anchor(date(2020, 1, 2)) == datetime(2020, 1, 2)


@pytest.mark.parametrize("value", [None, "", "   ", "not a date", "yesterday", "May 8", "🙂", "2023"])
def test_parse_anchor_returns_none_for_anything_incomplete_or_relative(value: str | None) -> None:
    assert parse_anchor(value) is None


# Text that stresses both the grammar and the offsets: time words glued to emoji, combining marks,
# Unicode case-folding traps ("ſ", the Kelvin sign) and odd whitespace.
pieces = st.sampled_from([
    "last", "next", "this", "the", "of", "in", "since", "ago", "a few", "couple", "two", "twenty-one", "days", "week",
    "weekend", "months", "year", "May", "may", "march", "June", "Sept.", "5th", "31", "29", "2019", "2023", "1999", ",",
    "Friday", "summer", "winter", "yesterday", "tomorrow", "before", "early", "mid-", "/", ".", "-", " ", "\n", "\u00a0",
    "ſeptember", "\u212a", "🎻", "e\u0301", "日本語",
])
texts = st.one_of(st.text(), st.lists(pieces, max_size=30).map(" ".join), st.lists(pieces, max_size=30).map("".join))
anchors = st.one_of(
    st.none(),
    st.dates(),
    st.datetimes(),
    st.sampled_from([MON_8_MAY, FRI_29_DEC, SUN_15_OCT, "0001-01-01T00:00:00", "9999-12-31T23:59:59"]).map(parse_anchor),
)


@given(texts, anchors)
@settings(max_examples=500, deadline=None)
def test_resolve_never_raises_and_offsets_are_exact(text: str, anchor: date | datetime | None) -> None:
    mentions = resolve(text, anchor)
    previous_end = 0
    for m in mentions:
        assert isinstance(m, TimeMention)
        assert previous_end <= m.start < m.end <= len(text)
        assert text[m.start : m.end] == m.text
        assert m.first <= m.last
        assert m.label()
        previous_end = m.end


@given(st.one_of(st.text(max_size=60), st.none()))
@settings(max_examples=200, deadline=None)
def test_parse_anchor_never_raises(value: str | None) -> None:
    assert parse_anchor(value) is None or isinstance(parse_anchor(value), datetime)
