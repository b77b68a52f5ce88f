"""Near-duplicate text: word shingles, MinHash signatures and LSH bands (datasketch).

Two texts are near-duplicates when the Jaccard similarity of their sets of 5-word shingles
reaches the threshold. On the dev corpus the labelled near-duplicate pairs (new headline,
byline, a sentence added or cut, paragraphs reordered) score 0.57 to 0.82, while every other
pair, independent reports of the same signing included, scores 0.02 or less: the default
threshold of 0.5 sits in that gap, nearer the duplicates so that heavier edits still match.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from datasketch import MinHash, MinHashLSH
from pactwatch.identity import words

SHINGLE_WORDS = 5
NUM_PERM = 256
"""256 permutations: the estimate's standard error near the threshold is about 0.03 (0.045
with 128, which let a 0.57 pair of the dev corpus estimate below 0.5)."""
LSH_BANDS = (32, 3)
"""32 bands of 3 rows: a pair at the 0.5 threshold shares a band with probability 0.986 (0.997
at 0.55). Short bands favour recall, since a missed candidate is a missed duplicate while a
spurious one only costs a signature comparison; 32 of them keep the Redis work per article
(one sorted-set entry a band) lower than datasketch's recall-weighted layout (53 bands of 4,
0.967 at 0.5)."""
SEED = 20211027
_SCHEME = "affine32"
_MULTIPLIER = np.uint64(0x100000001B3)
"""The 64-bit FNV prime: odd, so each word's place in a shingle changes its hash."""
_MIX = np.uint64(0xFF51AFD7ED558CCD)
"""MurmurHash3's 64-bit finaliser constant: spreads every input bit over the high half."""
_CHUNK = 4096
"""Shingles permuted at once: bounds the working array (4096 x 256 x 4 bytes = 4 MiB)."""


def shingle_hashes(text_words: Sequence[str], k: int = SHINGLE_WORDS) -> np.ndarray:
    """The hashes (uint32) of a text's k-word shingles, repeats included, from its words
    (:func:`pactwatch.identity.words`); a text of k words or fewer is one shingle.

    Each word is hashed once (crc32, in C); each run of k word hashes is combined as a
    polynomial in 64 bits, then mixed (MurmurHash3's finaliser) and its high half kept, in
    numpy over the whole text at once: joining and hashing every shingle's text took a fifth
    of the deduplicator's time per article.
    """
    if not text_words:
        return np.empty(0, dtype=np.uint32)
    hashes = np.fromiter(
        map(zlib.crc32, map(str.encode, text_words)), dtype=np.uint64, count=len(text_words)
    )
    span = min(k, len(hashes))
    count = len(hashes) - span + 1
    combined = hashes[:count].copy()
    for offset in range(1, span):
        combined *= _MULTIPLIER
        combined += hashes[offset : offset + count]
    combined ^= combined >> np.uint64(33)
    combined *= _MIX
    combined ^= combined >> np.uint64(33)
    mixed: np.ndarray = (combined >> np.uint64(32)).astype(np.uint32)
    return mixed


@dataclass(frozen=True)
class Fingerprinter:
    """MinHash signatures and their LSH band keys for one threshold."""

    threshold: float = 0.5
    num_perm: int = NUM_PERM

    @cached_property
    def _permutations(self) -> tuple[np.ndarray, np.ndarray]:
        perms: tuple[np.ndarray, np.ndarray] = MinHash(
            num_perm=self.num_perm, seed=SEED, scheme=_SCHEME
        ).permutations
        return perms

    @cached_property
    def _ranges(self) -> list[tuple[int, int]]:
        ranges: list[tuple[int, int]] = MinHashLSH(
            threshold=self.threshold, num_perm=self.num_perm, params=LSH_BANDS
        ).hashranges
        return ranges

    def signature(self, text: str) -> np.ndarray:
        """The MinHash signature (uint32 values) of a text's shingles."""
        return self.signature_of_words(words(text))

    def signature_of_words(self, text_words: Sequence[str]) -> np.ndarray:
        """The signature of a text from its words (:func:`pactwatch.identity.words`): for
        each of datasketch's permutations (h -> a*h + b mod 2^32, a odd: a bijection), the
        least permuted shingle hash. An empty text has every value at the maximum, as an
        empty datasketch MinHash does. Computed here rather than by a datasketch ``MinHash``
        per article, whose set-up and per-shingle calls cost as much as the permutations."""
        a, b = self._permutations
        values = np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        hashes = shingle_hashes(text_words)
        for start in range(0, len(hashes), _CHUNK):
            chunk = hashes[start : start + _CHUNK, np.newaxis]
            np.minimum(values, (chunk * a + b).min(axis=0), out=values)
        return values

    def bands(self, signature: np.ndarray) -> list[str]:
        """One key per LSH band (its values in hex): texts sharing a band key are candidates."""
        raw = signature.tobytes()
        return [f"{n}:{raw[a * 4 : b * 4].hex()}" for n, (a, b) in enumerate(self._ranges)]


def similarity(a: np.ndarray | bytes, b: np.ndarray | bytes) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal values."""
    x = np.frombuffer(a, dtype=np.uint32) if isinstance(a, bytes) else a
    y = np.frombuffer(b, dtype=np.uint32) if isinstance(b, bytes) else b
    if len(x) != len(y) or not len(x):
        return 0.0
    return float(np.count_nonzero(x == y)) / len(x)
