"""Which paragraphs read as a newsroom's correction or update notice."""

from __future__ import annotations

import pytest

from monitor.diff import is_correction_notice


@pytest.mark.parametrize(
    "text",
    [
        "Correction: an earlier version of this article gave the wrong figure.",
        "CORRECTION – the minister is Kaare Dybvad Bek.",
        "Clarification (23 May): the report covers 2022.",
        "Update: the ministry has responded.",
        "Updated: figures revised.",
        "Editor’s note: this story was changed.",
        "Rettelse: Tallet er 548.",
        "*This article has been corrected to show the right figure.",
        "**Correction:** wrong date.",
        "This story was updated on 23 May.",
        "An earlier version of this article said 550.",
        "[Update] - new figures.",
        "Artiklen er blevet rettet.",
    ],
)
def test_notice(text: str) -> None:
    assert is_correction_notice(text)


@pytest.mark.parametrize(
    "text",
    [
        "Corrections officers said the prison was full.",
        "Update your app before Monday, the agency said.",
        "The minister wants an update on the figures.",
        "This article is about asylum.",
        "",
    ],
)
def test_not_a_notice(text: str) -> None:
    assert not is_correction_notice(text)
