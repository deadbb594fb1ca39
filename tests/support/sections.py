"""Header sections made at random from parts, for parsers checked against each other."""

from __future__ import annotations

import random
from typing import List, Tuple

# Field lines built from parts, mostly well formed, the odd ones included:
# folding, spaces and tabs around names and values, CR and NUL inside, bare
# LF, doubled CR, Latin-1, long values, a last line without its end.
_NAMES = ([b"Host", b"content-length", b"X-A", b"x-a", b"A"], [b"B@d", b"", b" A", b"\tA", b"A "])
_SEPARATORS = ([b":", b": ", b":\t", b":  \t "], [b"", b" :"])
_VALUES = ([b"v", b"1", b" v ", b"a b", b"a\tb", b"\xe9", b"", b"x" * 300], [b"x\x00y", b"x\ry"])
_ENDS = ([b"\r\n", b"\n", b" \r\n", b"\t\n"], [b"\r\r\n", b""])


def random_section(rng: random.Random) -> bytes:
    """One to six field lines, each well formed nine times in ten."""

    def part(kinds: Tuple[List[bytes], List[bytes]]) -> bytes:
        usual, odd = kinds
        return rng.choice(usual if rng.random() < 0.9 else odd)

    return b"".join(
        part(_NAMES) + part(_SEPARATORS) + part(_VALUES) + part(_ENDS)
        for _ in range(rng.randint(1, 6))
    )
