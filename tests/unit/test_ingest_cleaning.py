"""Article text cleaning: HTML stripped, Unicode and whitespace normalised, boilerplate lines
removed (whole short lines only, from the reviewed list)."""

from __future__ import annotations

import unicodedata

import pytest
from pactwatch_ingest.cleaning import (
    BOILERPLATE_MAX_CHARS,
    clean_body,
    clean_text,
    html_to_text,
    is_boilerplate,
    looks_like_html,
)


@pytest.mark.parametrize(
    "line",
    [
        "Follow us on social networks",
        "Follow us on Twitter and Facebook",
        "FOLLOW US ON TELEGRAM!",
        "Join us on WhatsApp for breaking news",
        "Leave a review",
        "Please leave a comment.",
        "Subscribe to our newsletter",
        "Sign up for our daily newsletter and never miss a story",
        "Share this article",
        "Share this story on LinkedIn",
        "Share on Facebook",
        "Print this article",
        "Read more: Ministers meet again next week",
        "Also read: Ports agree on pilots",
        "Related stories",
        "Advertisement",
        "ADVERTISEMENT - SCROLL TO CONTINUE",
        "We use cookies to improve your experience on our site.",
        "This website uses cookies",
        "Accept all cookies",
        "Cookie settings",
        "© 2024 Riverside Chronicle. All rights reserved.",
        "Copyright 2023 Lakeside Dispatch",
        "Lakeside Dispatch Ltd. All rights reserved.",
        "Download our free app for the latest news",
        "Click here to subscribe",
        "Please enable JavaScript to view the comments",
        "• Share this article •",
    ],
)
def test_boilerplate_lines_are_recognised(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        # sentences of real stories that mention the same words
        "The two leaders agreed to follow up on the talks within a month.",
        "Both sides will share intelligence on smuggling routes.",
        "Copyright disputes between the two publishers were settled in court.",
        "Officials said the agreement would help investors follow market rules.",
        "Farmers were asked to leave a review period of three months before planting.",
        "We use the word cooperation deliberately, the minister said.",
        "Subscribers to the state broadcaster will receive the channel free of charge.",
        "Follow-up talks are scheduled for June.",
        "",
    ],
)
def test_sentences_of_stories_are_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line)


def test_a_long_line_is_never_boilerplate_whatever_it_says() -> None:
    line = "We use cookies " + "and " * BOILERPLATE_MAX_CHARS
    assert not is_boilerplate(line)


def test_clean_body_removes_boilerplate_and_says_so() -> None:
    cleaned = clean_body(
        "First paragraph of the story.\n\nFollow us on social networks\n\n"
        "Second paragraph.\nLeave a review\n"
    )
    assert cleaned.text == "First paragraph of the story.\n\nSecond paragraph."
    assert cleaned.notes == ("2 boilerplate lines removed",)


def test_clean_body_strips_html_only_when_there_is_some() -> None:
    markup = clean_body(
        "<div><p>Ministers met in <b>Northgate</b>&nbsp;on Monday.</p>"
        "<script>track()</script><style>p{}</style>"
        "<p>They signed a protocol &amp; a letter.<br>It takes effect in June.</p></div>"
    )
    assert markup.text == (
        "Ministers met in Northgate on Monday.\n\n"
        "They signed a protocol & a letter. It takes effect in June."
    )
    assert markup.notes == ("HTML markup removed from the text",)
    prose = clean_body("Inflation < 3% and growth > 2% were the targets.")
    assert prose.text == "Inflation < 3% and growth > 2% were the targets."
    assert prose.notes == ()


def test_whitespace_and_unicode_are_normalised() -> None:
    decomposed = "Cafe\u0301 talks in Bak\u0131\u0308"
    text = clean_text(f"  {decomposed}\u00a0\u00a0ended\t\tlate.\r\n\r\n\r\n\x07Next  day.  ")
    assert text == unicodedata.normalize("NFC", f"{decomposed} ended late.\n\nNext day.")
    assert "\u0301" not in text  # é composed (NFC)


@pytest.mark.parametrize(
    "gap", [" ", "  ", "\t", " \t", "\t ", "\u00a0", "\u2009", " \u202f ", "\ufeff", "\u3000 "]
)
def test_any_run_of_spacing_between_words_is_one_space(gap: str) -> None:
    assert clean_text(f"Baku{gap}and{gap}Ankara{gap}signed.") == "Baku and Ankara signed."


def test_hard_wrapped_lines_are_reflowed_but_list_items_keep_their_lines() -> None:
    text = clean_text(
        "The two governments signed\nthree documents:\n- a customs protocol;\n"
        "- a water memorandum;\n2. a visa agreement.\n\nNext paragraph."
    )
    assert text == (
        "The two governments signed three documents:\n- a customs protocol;\n"
        "- a water memorandum;\n2. a visa agreement.\n\nNext paragraph."
    )


def test_html_detection_and_conversion() -> None:
    assert looks_like_html("<p>x</p>")
    assert looks_like_html("AT&amp;T")
    assert not looks_like_html("if a < b and c > d, then")
    assert html_to_text("AT&amp;T &#8212; done") == "AT&T — done"
    assert html_to_text("<ul><li>one</li><li>two</li></ul>").split() == ["one", "two"]
