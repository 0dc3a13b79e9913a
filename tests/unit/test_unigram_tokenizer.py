"""The ONNX route's tokenizer gives the tokenizers library's ids for the same tokenizer.json, without its trie."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from rag.embed.tokenizer import UnigramTokenizer
from rag.errors import ModelError

tokenizers = pytest.importorskip("tokenizers")

VOCAB = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0), ("a", -3.0), ("b", -3.0),
         ("▁a", -2.5), ("ab", -2.0), ("▁ab", -1.5), ("abc", -4.0), ("c", -3.5), ("é", -3.0), ("▁é", -2.8),
         ("t", -3.0), ("été", -3.0), ("▁été", -2.0), ("bc", -5.5), ("▁c", -6.5), ("x", -9.0)]
# Strings that reach every branch: ties, unknown runs (fused), added tokens with and without lstrip, spaces the
# normaliser collapses, characters NFKC rewrites, truncation.
HARD = ["", " ", "  a  b  ", "a ", " a", "ab abc", "abc", "xyz", "a\ue000\ue001b", "zz zz", "<s>", "a<s>b", "<s><s>",
        "x <mask> y", "x \t <mask>", "<mask>", " <mask>", "<pad></s><unk>", "ＡＢＣ　ａｂ", "e\u0301té été", "ﬁ",
        "a\u00a0b", "x\x1c<mask>", "abc " * 40]


@pytest.fixture(scope="module")
def library() -> tokenizers.Tokenizer:
    from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.Unigram(VOCAB, unk_id=3, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ("<s>", "<pad>", "</s>",
                                                                                          "<unk>")]
                                 + [AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
    return tokenizer


@pytest.fixture
def folder(tmp_path: Path, library: tokenizers.Tokenizer) -> Path:
    library.save(str(tmp_path / "tokenizer.json"))
    return tmp_path


def _random_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    alphabet = list("abcétx <>/smkup") + ["\u3000", "\ue000", "ｂ", "\t", "<mask>", "<s>"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(count)]


def test_the_ids_are_the_tokenizers_library_ids(folder: Path, library: tokenizers.Tokenizer) -> None:
    ours = UnigramTokenizer.from_folder(folder)
    for text in HARD + _random_texts(2000):
        assert ours.encode(text) == library.encode(text).ids, repr(text)


def test_long_texts_are_cut_on_the_right_as_the_library_truncates(folder: Path,
                                                                   library: tokenizers.Tokenizer) -> None:
    library.enable_truncation(16)
    assert UnigramTokenizer.from_folder(folder).encode("ab " * 30, max_length=16) == library.encode("ab " * 30).ids


def test_a_batch_is_padded_with_the_pad_id_and_masked(folder: Path) -> None:
    ids, mask = UnigramTokenizer.from_folder(folder).encode_batch(["ab", "ab abc ab"])
    assert ids.dtype == mask.dtype == np.int64 and ids.shape == mask.shape
    assert ids.shape[1] > 3 and mask[1].all()
    assert mask[0, :3].all() and not mask[0, 3:].any() and (ids[0, 3:] == 1).all()  # <s> ▁ab </s>, then <pad>


def test_the_compact_copy_is_read_on_the_next_start_and_gives_the_same_ids(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = UnigramTokenizer.from_folder(folder, cache)
    read: list[str] = []
    original = Path.read_text

    def recording_read_text(self: Path, *args: object, **kwargs: object) -> str:
        read.append(self.name)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", recording_read_text)
    second = UnigramTokenizer.from_folder(folder, cache)
    assert "tokenizer.json" not in read and "tokenizer.pieces" in read
    assert [second.encode(t) for t in HARD] == [first.encode(t) for t in HARD]


def test_a_changed_tokenizer_json_replaces_the_compact_copy(folder: Path, tmp_path: Path,
                                                            library: tokenizers.Tokenizer) -> None:
    cache = tmp_path / "cache"
    UnigramTokenizer.from_folder(folder, cache)
    library.add_special_tokens(["<extra>"])
    library.save(str(folder / "tokenizer.json"))
    assert UnigramTokenizer.from_folder(folder, cache).encode("a<extra>") == library.encode("a<extra>").ids


def test_a_tokenizer_that_is_not_unigram_is_refused(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, unk_token="<unk>")).save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ModelError, match="Unigram"):
        UnigramTokenizer.from_folder(tmp_path)
