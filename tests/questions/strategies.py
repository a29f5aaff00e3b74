"""Real Japanese text for Hypothesis: kana, kanji, full-width forms, ASCII, and the line breaks,
tabs and control characters that pasted text brings."""

from hypothesis import strategies as st

KANA = st.characters(min_codepoint=0x3041, max_codepoint=0x30FF)
KANJI = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
FULL_WIDTH = st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E)
HALF_KATAKANA = st.characters(min_codepoint=0xFF61, max_codepoint=0xFF9F)
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
SPACES = st.sampled_from([" ", "\u3000", "\n", "\r\n", "\r", "\t", "\x00", "\x0b"])
JAPANESE_CHAR = st.one_of(KANA, KANJI, KANJI, FULL_WIDTH, HALF_KATAKANA, ASCII, SPACES)


def japanese(max_size: int = 300, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.lists(JAPANESE_CHAR, min_size=min_size, max_size=max_size).map("".join)
