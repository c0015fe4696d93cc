"""BCP-47 tags as Genesys sends them, mapped to what each cloud API accepts.

Genesys speaks BCP-47 (``en-US``, ``cmn-CN``); Google Speech v2 wants its own locale spelling
for a few of them (``cmn-Hans-CN``); OpenAI's transcription API takes an ISO-639-1 code and
rejects codes it does not list. For languages the Whisper family knows but the ``language``
parameter does not accept, a short prompt written in that language steers the model instead
(the "native-language prompt" fallback), which is better than letting it guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..language_tags import normalize_tag, primary_subtag, tag_in

__all__ = [
    "DEFAULT_GOOGLE_LANGUAGES",
    "DEFAULT_OPENAI_LANGUAGES",
    "NATIVE_PROMPTS",
    "OPENAI_ISO639_1",
    "OpenAILanguage",
    "google_language_code",
    "normalize_tag",
    "openai_language",
    "primary_subtag",
    "tag_in",
]

# Languages OpenAI documents as supported by the ``language`` parameter of audio transcriptions.
OPENAI_ISO639_1: frozenset[str] = frozenset(
    {
        "af", "ar", "hy", "az", "be", "bs", "bg", "ca", "zh", "hr", "cs", "da", "nl", "en", "et", "fi",
        "fr", "gl", "de", "el", "he", "hi", "hu", "is", "id", "it", "ja", "kn", "kk", "ko", "lv", "lt",
        "mk", "ms", "mr", "mi", "ne", "no", "fa", "pl", "pt", "ro", "ru", "sr", "sk", "sl", "es", "sw",
        "sv", "tl", "ta", "th", "tr", "uk", "ur", "vi", "cy",
    }
)

# A short greeting written in the language itself, used as ``prompt`` when the API would
# reject the ``language`` code: the model continues in the language of its prompt.
NATIVE_PROMPTS: dict[str, str] = {
    "am": "ሰላም፣ እንዴት ነህ?",
    "bn": "নমস্কার, আপনি কেমন আছেন?",
    "eu": "Kaixo, zer moduz?",
    "ga": "Dia duit, conas atá tú?",
    "gu": "નમસ્તે, તમે કેમ છો?",
    "ha": "Sannu, yaya kake?",
    "ka": "გამარჯობა, როგორ ხართ?",
    "km": "សួស្តី តើអ្នកសុខសប្បាយទេ?",
    "lo": "ສະບາຍດີ",
    "ml": "നമസ്കാരം, സുഖമാണോ?",
    "mn": "Сайн байна уу?",
    "my": "မင်္ဂလာပါ",
    "pa": "ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਤੁਸੀਂ ਕਿਵੇਂ ਹੋ?",
    "ps": "سلام، څنګه یې؟",
    "si": "ආයුබෝවන්, ඔබට කොහොමද?",
    "so": "Salaan, sidee tahay?",
    "sq": "Përshëndetje, si jeni?",
    "te": "నమస్కారం, మీరు ఎలా ఉన్నారు?",
    "uz": "Salom, qalaysiz?",
    "xh": "Molo, unjani?",
    "yue": "你好，你今日點呀？",
    "zu": "Sawubona, unjani?",
}

# Primary subtags that OpenAI spells differently (ISO-639-3 or legacy codes → ISO-639-1).
_OPENAI_ALIASES: dict[str, str] = {
    "cmn": "zh",
    "fil": "tl",
    "nb": "no",
    "nn": "no",
    "iw": "he",
    "in": "id",
    "zsm": "ms",
}

# Google Speech v2 locales that differ from the BCP-47 tag Genesys uses.
_GOOGLE_CODES: dict[str, str] = {
    "cmn-cn": "cmn-Hans-CN",
    "zh-cn": "cmn-Hans-CN",
    "cmn-tw": "cmn-Hant-TW",
    "zh-tw": "cmn-Hant-TW",
    "yue-hk": "yue-Hant-HK",
    "zh-hk": "yue-Hant-HK",
}

DEFAULT_GOOGLE_LANGUAGES: tuple[str, ...] = (
    "en-US", "en-GB", "en-AU", "en-IN", "en-ZA", "fr-FR", "fr-CA", "de-DE", "es-ES", "es-US",
    "es-MX", "it-IT", "pt-BR", "pt-PT", "nl-NL", "ja-JP", "ko-KR", "cmn-CN", "hi-IN", "ar-EG",
    "pl-PL", "sv-SE", "da-DK", "nb-NO", "fi-FI", "tr-TR", "ru-RU", "bg-BG", "el-GR",
)  # fmt: skip

DEFAULT_OPENAI_LANGUAGES: tuple[str, ...] = (
    "en-US", "en-GB", "en-AU", "en-IN", "en-ZA", "fr-FR", "fr-CA", "de-DE", "es-ES", "es-US",
    "es-MX", "it-IT", "pt-BR", "pt-PT", "nl-NL", "ja-JP", "ko-KR", "zh-CN", "cmn-CN", "hi-IN",
    "ar-EG", "pl-PL", "sv-SE", "da-DK", "nb-NO", "fi-FI", "tr-TR", "ru-RU", "bg-BG", "el-GR",
)  # fmt: skip


def google_language_code(tag: str) -> str:
    """The locale to send in ``RecognitionConfig.language_codes`` for a Genesys tag."""
    return _GOOGLE_CODES.get(tag.strip().lower(), normalize_tag(tag))


@dataclass(frozen=True, slots=True)
class OpenAILanguage:
    """How to ask OpenAI for a language: a ``language`` code, or a native-language ``prompt``."""

    iso: str | None
    prompt: str | None


def openai_language(tag: str) -> OpenAILanguage | None:
    """The request parameters for ``tag``, or ``None`` when neither way is available."""
    primary = primary_subtag(tag)
    if primary in ("zh", "cmn") and tag.strip().lower() in ("zh-hk", "yue-hk"):
        primary = "yue"
    primary = _OPENAI_ALIASES.get(primary, primary)
    if primary in OPENAI_ISO639_1:
        return OpenAILanguage(iso=primary, prompt=None)
    if primary in NATIVE_PROMPTS:
        return OpenAILanguage(iso=None, prompt=NATIVE_PROMPTS[primary])
    return None
