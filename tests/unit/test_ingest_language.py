"""Language detection (py3langid): ISO 639-1 codes when confident, unknown with a reason
otherwise."""

from __future__ import annotations

import pytest
from pactwatch_ingest.language import detect_language

TEXTS = {
    "en": "The foreign ministers of the two countries signed a memorandum on water sharing on "
    "Tuesday, after two years of talks about the river basin.",
    "fr": "Les ministres des affaires étrangères des deux pays ont signé mardi un mémorandum "
    "sur le partage de l'eau, après deux ans de négociations.",
    "de": "Die Außenminister der beiden Länder haben am Dienstag nach zweijährigen Gesprächen "
    "ein Abkommen über die gemeinsame Nutzung des Flusses unterzeichnet.",
    "es": "Los ministros de Asuntos Exteriores de los dos países firmaron el martes un "
    "memorando sobre el reparto del agua tras dos años de negociaciones.",
    "ru": "Министры иностранных дел двух стран во вторник подписали меморандум о совместном "
    "использовании воды после двух лет переговоров.",
    "tr": "İki ülkenin dışişleri bakanları, iki yıl süren görüşmelerin ardından salı günü su "
    "paylaşımına ilişkin bir mutabakat zaptı imzaladı.",
    "az": "İki ölkənin xarici işlər nazirləri iki il davam edən danışıqlardan sonra çərşənbə "
    "axşamı su bölgüsü haqqında memorandum imzalayıblar.",
}


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_languages_are_told_apart(code: str) -> None:
    found = detect_language(TEXTS[code])
    assert (found.code, found.note) == (code, None)


@pytest.mark.parametrize("text", ["", "Hello", "12345 67890 !!!", "AZE TUR"])
def test_too_little_text_is_unknown_with_a_reason(text: str) -> None:
    found = detect_language(text)
    assert found.code is None
    assert found.note is not None
    assert "language not detected" in found.note


def test_a_long_text_is_judged_on_its_beginning() -> None:
    english = " ".join([TEXTS["en"]] * 40)  # past the sample the classifier reads
    assert detect_language(english + " " + " ".join([TEXTS["fr"]] * 400)).code == "en"


def test_plain_english_news_never_waits_for_the_classifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pactwatch_ingest.language as language

    def unavailable() -> object:
        raise AssertionError("the classifier was asked about plain English")

    monkeypatch.setattr(language, "_identifier", unavailable)
    text = (
        "Kenya and Uganda signed an agreement on Monday to build a railway between their "
        "capitals, officials said after talks in Entebbe. The line will be financed by the two "
        "governments and is to carry freight and passengers from the end of next year."
    )
    assert language.detect_language(text).code == "en"
