"""Whisper's tokenizer: prompts, text, and splitting tokens into words for alignment.

The Hugging Face ``tokenizers`` file that ships with each model does the byte-level BPE; this
module adds what Whisper needs around it: the special-token prompt, and grouping subword
tokens into words (on spaces, or per character for languages written without them) the same
way Whisper's own word-timestamp code does, so ``align()`` results map onto words.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import NamedTuple

import tokenizers

__all__ = ["MAX_PREVIOUS", "WhisperTokenizer", "WordSpan"]

# Languages written without spaces between words: one "word" per character group instead.
_NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})
MAX_PREVIOUS = 223  # tokens of previous text a prompt may hold (Whisper's limit: half its 448-token context)
_PREPENDED = "\"'“¿([{-"
_APPENDED = "\"'.。,，!！?？:：”)]}、"


class WordSpan(NamedTuple):
    """A word and the half-open range ``[start, end)`` of its tokens."""

    text: str
    start: int
    end: int


class WhisperTokenizer:
    """Special tokens and word grouping on top of a model's ``tokenizer.json``."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, multilingual: bool) -> None:
        self._tok = tokenizer
        self.multilingual = multilingual
        self.eot = self._special("<|endoftext|>")
        self.sot = self._special("<|startoftranscript|>")
        self.transcribe = self._special("<|transcribe|>")
        self.no_timestamps = self._special("<|notimestamps|>")
        self.previous = self._special("<|startofprev|>")

    def _special(self, token: str) -> int:
        token_id = self._tok.token_to_id(token)
        if token_id is None:
            raise ValueError(f"tokenizer has no {token} token: not a Whisper tokenizer")
        return int(token_id)

    def has_language(self, code: str) -> bool:
        return self._tok.token_to_id(f"<|{code}|>") is not None

    def prompt(self, language: str | None) -> list[int]:
        """The decoder prompt: start, language and task (multilingual only), no timestamps."""
        if not self.multilingual or language is None:
            return [self.sot, self.no_timestamps]
        return [self.sot, self._special(f"<|{language}|>"), self.transcribe, self.no_timestamps]

    def with_previous(self, previous: Sequence[int], prompt: Sequence[int]) -> list[int]:
        """``prompt`` preceded by what was said before (Whisper's ``<|startofprev|>`` context).

        At most :data:`MAX_PREVIOUS` tokens, the latest ones, as Whisper conditions on previous
        text; nothing is added when there is no previous text.
        """
        if not previous:
            return list(prompt)
        return [self.previous, *list(previous)[-MAX_PREVIOUS:], *prompt]

    def text_tokens(self, tokens: Sequence[int]) -> list[int]:
        """Drop special and timestamp tokens (everything from ``<|endoftext|>`` up)."""
        return [t for t in tokens if t < self.eot]

    def decode(self, tokens: Sequence[int]) -> str:
        return str(self._tok.decode(self.text_tokens(tokens), skip_special_tokens=True))

    def _split_on_unicode(self, tokens: Sequence[int]) -> tuple[list[str], list[list[int]]]:
        """Group tokens so each group decodes to whole characters (no U+FFFD halves)."""
        words: list[str] = []
        groups: list[list[int]] = []
        current: list[int] = []
        for token in tokens:
            current.append(token)
            decoded = self.decode(current)
            if "\ufffd" not in decoded:
                words.append(decoded)
                groups.append(current)
                current = []
        if current:
            words.append(self.decode(current))
            groups.append(current)
        return words, groups

    def _split_on_spaces(self, tokens: Sequence[int]) -> tuple[list[str], list[list[int]]]:
        subwords, subword_groups = self._split_on_unicode(tokens)
        words: list[str] = []
        groups: list[list[int]] = []
        for subword, group in zip(subwords, subword_groups, strict=True):
            starts_word = subword.startswith(" ") or subword.strip() in string.punctuation
            if starts_word or not words:
                words.append(subword)
                groups.append(list(group))
            else:
                words[-1] += subword
                groups[-1].extend(group)
        return words, groups

    def split_words(self, tokens: Sequence[int], language: str | None) -> list[WordSpan]:
        """Words of ``tokens`` with the index range of their tokens in :meth:`text_tokens`.

        Punctuation is merged into the neighbouring word (opening marks forward, closing marks
        backward) so each word's token range still covers its tokens and no word is punctuation
        alone.
        """
        text = self.text_tokens(tokens)
        if language in _NO_SPACE_LANGUAGES:
            words, groups = self._split_on_unicode(text)
        else:
            words, groups = self._split_on_spaces(text)
        spans: list[WordSpan] = []
        index = 0
        for word, group in zip(words, groups, strict=True):
            spans.append(WordSpan(word, index, index + len(group)))
            index += len(group)
        merged: list[WordSpan] = []
        prefix: WordSpan | None = None
        for span in spans:
            core = span.text.strip()
            if prefix is not None:
                span = WordSpan(prefix.text.strip() + span.text.lstrip(), prefix.start, span.end)
                prefix = None
            elif core and span.text.startswith(" ") and all(ch in _PREPENDED for ch in core):
                prefix = span
                continue
            elif merged and core and not span.text.startswith(" ") and core[0] in _APPENDED:
                last = merged[-1]
                merged[-1] = WordSpan(last.text + core, last.start, span.end)
                continue
            merged.append(span)
        if prefix is not None:
            if merged:
                last = merged[-1]
                merged[-1] = WordSpan(last.text + prefix.text.strip(), last.start, prefix.end)
            else:
                merged.append(prefix)
        return [WordSpan(s.text.strip(), s.start, s.end) for s in merged if s.text.strip()]
