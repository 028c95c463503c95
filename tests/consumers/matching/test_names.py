"""Names in characters and in pinyin reduce to comparable syllables."""

from __future__ import annotations

import pytest

from consumers.record_store.matching.names import agreement, default_key, fuzzy_key, split_pinyin, syllables


def name(text: str):
    return syllables(text)[0]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("张伟", "张伟", "pinyin"),
        ("张伟", "章玮", "pinyin"),  # homophones
        ("张伟", "Zhang Wei", "pinyin"),
        ("张伟", "ZHANG WEI", "pinyin"),
        ("张伟", "zhangwei", "pinyin"),  # one word, split into syllables
        ("欧阳振华", "OuYang ZhenHua", "pinyin"),  # two-character surname, camel case
        ("单立", "Shan Li", "pinyin"),  # 单 as a surname is Shan
        ("曾小红", "Zeng Xiaohong", "pinyin"),
        ("吕芳", "Lü Fang", "pinyin"),
        ("吕芳", "Lv Fang", "pinyin"),
        ("张伟", "Zang Wei", "fuzzy"),  # zh/z
        ("刘宁", "Niu Ning", "fuzzy"),  # l/n
        ("张伟", "Wei Zhang", "reordered"),  # given name first
        ("张伟明", "张伟亮", "partial"),  # siblings sharing the generation character
        ("张伟", "赵伟", "none"),
        ("张伟", "", "missing"),
    ],
)
def test_agreement(a: str, b: str, expected: str) -> None:
    assert agreement(name(a), name(b)) == expected


def test_polyphonic_characters_keep_every_reading() -> None:
    (surname, given) = name("单立")
    assert surname[0] == "shan" and {"dan", "shan"} <= set(surname)


def test_keys_are_the_same_for_characters_and_pinyin() -> None:
    assert default_key(name("张伟")) == default_key(name("Zhang Wei")) == "zhangwei"
    assert fuzzy_key(name("张伟")) == fuzzy_key(name("Zang Wei"))


def test_split_pinyin() -> None:
    assert split_pinyin("xian") == ["xian"]  # longest syllable first
    assert split_pinyin("zhangxiaoming") == ["zhang", "xiao", "ming"]
    assert split_pinyin("smith") is None


def test_latin_names_that_are_not_pinyin_still_compare() -> None:
    assert agreement(name("John Smith"), name("JOHN SMITH")) == "pinyin"
    assert agreement(name("John Smith"), name("Jane Smith")) == "none"
