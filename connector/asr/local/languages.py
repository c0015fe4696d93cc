"""BCP-47 ↔ Whisper language codes, and the region list advertised in ``opened``.

Whisper knows languages, not locales: ``es-MX`` and ``es-ES`` both decode as ``es``. A call
in any region of a supported language is therefore accepted (:func:`to_whisper`), while
:func:`advertised_locales` lists a sensible set of BCP-47 locales per language for
``opened.supportedLanguages`` (which must look like ``xx-YY``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["WHISPER_LANGUAGES", "advertised_locales", "primary_subtag", "to_whisper"]

# Whisper's language tokens in vocabulary order (<|en|> first … <|yue|> last, large-v3 only).
# Multilingual models know the first ``num_languages`` of these.
WHISPER_LANGUAGES: tuple[str, ...] = (
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv",
    "it", "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no",
    "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr",
    "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
    "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu",
    "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl",
    "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue",
)  # fmt: skip

# BCP-47 primary subtags that Whisper spells differently (or that are legacy aliases).
_ALIASES: dict[str, str] = {
    "jv": "jw",  # Javanese: Whisper uses the old ``jw``
    "iw": "he",  # legacy Hebrew
    "in": "id",  # legacy Indonesian
    "nb": "no",  # Norwegian Bokmål → Whisper's Norwegian
    "fil": "tl",  # Filipino → Tagalog
    "zh": "zh",
    "cmn": "zh",
    "ji": "yi",  # legacy Yiddish
    "mo": "ro",  # legacy Moldovan
    "sh": "sr",  # legacy Serbo-Croatian
}

# Regions advertised per Whisper language (the first is the language's main locale). Any other
# region still works for a call; this is only what ``opened.supportedLanguages`` lists.
_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("US", "GB", "AU", "CA", "IN", "IE", "NZ", "ZA", "SG", "PH"),
    "es": ("ES", "MX", "US", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CR", "PR", "UY", "BO", "DO"),
    "fr": ("FR", "CA", "BE", "CH", "LU"),
    "de": ("DE", "AT", "CH", "LU"),
    "pt": ("BR", "PT", "AO", "MZ"),
    "zh": ("CN", "TW", "HK", "SG"),
    "ar": ("SA", "AE", "EG", "MA", "DZ", "JO", "KW", "QA", "LB", "IQ"),
    "it": ("IT", "CH"),
    "nl": ("NL", "BE"),
    "ru": ("RU", "KZ", "BY"),
    "ko": ("KR",), "ja": ("JP",), "tr": ("TR",), "pl": ("PL",), "ca": ("ES",), "sv": ("SE", "FI"),
    "id": ("ID",), "hi": ("IN",), "fi": ("FI",), "vi": ("VN",), "he": ("IL",), "uk": ("UA",),
    "el": ("GR", "CY"), "ms": ("MY", "SG"), "cs": ("CZ",), "ro": ("RO", "MD"), "da": ("DK",),
    "hu": ("HU",), "ta": ("IN", "LK", "SG"), "no": ("NO",), "th": ("TH",), "ur": ("PK", "IN"),
    "hr": ("HR",), "bg": ("BG",), "lt": ("LT",), "la": ("VA",), "mi": ("NZ",), "ml": ("IN",),
    "cy": ("GB",), "sk": ("SK",), "te": ("IN",), "fa": ("IR", "AF"), "lv": ("LV",),
    "bn": ("BD", "IN"), "sr": ("RS",), "az": ("AZ",), "sl": ("SI",), "kn": ("IN",), "et": ("EE",),
    "mk": ("MK",), "br": ("FR",), "eu": ("ES",), "is": ("IS",), "hy": ("AM",), "ne": ("NP",),
    "mn": ("MN",), "bs": ("BA",), "kk": ("KZ",), "sq": ("AL",), "sw": ("KE", "TZ"), "gl": ("ES",),
    "mr": ("IN",), "pa": ("IN", "PK"), "si": ("LK",), "km": ("KH",), "sn": ("ZW",), "yo": ("NG",),
    "so": ("SO",), "af": ("ZA",), "oc": ("FR",), "ka": ("GE",), "be": ("BY",), "tg": ("TJ",),
    "sd": ("PK",), "gu": ("IN",), "am": ("ET",), "yi": ("US",), "lo": ("LA",), "uz": ("UZ",),
    "fo": ("FO",), "ht": ("HT",), "ps": ("AF",), "tk": ("TM",), "nn": ("NO",), "mt": ("MT",),
    "sa": ("IN",), "lb": ("LU",), "my": ("MM",), "bo": ("CN",), "tl": ("PH",), "mg": ("MG",),
    "as": ("IN",), "tt": ("RU",), "haw": ("US",), "ln": ("CD",), "ha": ("NG",), "ba": ("RU",),
    "jw": ("ID",), "su": ("ID",), "yue": ("HK", "CN"),
}  # fmt: skip

# The BCP-47 primary subtag to advertise for a Whisper code (where they differ).
_BCP47_FOR: dict[str, str] = {"jw": "jv", "no": "nb"}

_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


def primary_subtag(language: str) -> str | None:
    """``"es-MX"`` → ``"es"``; ``None`` if it does not look like a BCP-47 tag at all."""
    match = _TAG.match(language.strip())
    return match.group(1).lower() if match else None


def to_whisper(language: str, available: Iterable[str]) -> str | None:
    """The Whisper code for a BCP-47 tag (any region, any case), or ``None`` if unsupported.

    Cantonese (``yue``, ``zh-HK``) falls back to ``zh`` on models without a ``yue`` token.
    """
    known = set(available)
    primary = primary_subtag(language)
    if primary is None:
        return None
    code = _ALIASES.get(primary, primary)
    if code == "zh" and language.strip().lower().replace("_", "-") in {"zh-hk", "zh-mo"} and "yue" in known:
        return "yue"
    if code == "yue" and "yue" not in known:
        code = "zh"
    return code if code in known else None


def advertised_locales(codes: Iterable[str]) -> list[str]:
    """BCP-47 locales (``xx-YY``) for ``opened.supportedLanguages``, main language order kept."""
    out: list[str] = []
    for code in codes:
        subtag = _BCP47_FOR.get(code, code)
        for region in _REGIONS.get(code, ()):
            out.append(f"{subtag}-{region}")
    return out
