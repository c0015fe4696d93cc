"""BCP-47 language tags as Genesys sends them (``en-US``, ``EN_us``), compared and spelled one way.

Ground floor: the engines (which languages they serve) and the translators (whether source and
target are the same language) both compare tags, so the spelling rules live here, below both.
Each engine's own mapping to what its API accepts stays in :mod:`connector.asr.languages`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["normalize_tag", "primary_subtag", "tag_in"]


def normalize_tag(tag: str) -> str:
    """``EN-us`` → ``en-US``: language lower case, 2-letter region upper case, script title case."""
    parts = tag.strip().replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) in (2, 3):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def primary_subtag(tag: str) -> str:
    """The language part of a tag, lower case (``pt-BR`` → ``pt``)."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


def tag_in(tag: str, supported: Iterable[str]) -> bool:
    """Case-insensitive membership of a full tag in a list of tags."""
    wanted = normalize_tag(tag)
    return any(normalize_tag(s) == wanted for s in supported)
