#!/usr/bin/env python3
"""Writes N realistic rpm EVR pairs (`left<TAB>right` lines) to stdout.

The shapes follow what a patch evaluation compares: an installed package against candidate
versions of the same package, so most pairs share a version or a release prefix. Versions and
releases are modelled on Amazon Linux 2 / 2023, RHEL 8/9 and Fedora packages. Seeded, so the
same N gives the same file.

usage: gen_pairs.py [N] > pairs.tsv
"""

import random
import sys

DISTS = ["amzn2", "amzn2023", "el8", "el8_9", "el9", "el9_4", "fc39", "fc40", "amzn1"]


def version(rng):
    shape = rng.random()
    if shape < 0.5:
        return f"{rng.randrange(0, 10)}.{rng.randrange(0, 40)}.{rng.randrange(0, 300)}"
    if shape < 0.75:
        return f"{rng.randrange(0, 6)}.{rng.randrange(0, 100)}"
    if shape < 0.85:
        return f"{rng.randrange(2000, 2025)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    if shape < 0.95:
        return f"{rng.randrange(0, 4)}.{rng.randrange(0, 10)}.{rng.randrange(0, 10)}{rng.choice('abcdefk')}"
    return f"{rng.randrange(0, 10)}.{rng.randrange(0, 10)}.{rng.randrange(0, 10)}.{rng.randrange(0, 100)}"


def release(rng):
    dist = rng.choice(DISTS)
    shape = rng.random()
    if shape < 0.4:
        return f"{rng.randrange(1, 60)}.{dist}"
    if shape < 0.7:
        return f"{rng.randrange(1, 60)}.{dist}.0.{rng.randrange(1, 5)}"
    if shape < 0.9:
        return f"{rng.randrange(1, 500)}.{rng.randrange(1, 40)}.{rng.randrange(1, 5)}.{dist}"
    return f"0.{rng.randrange(1, 80)}.rc{rng.randrange(1, 3)}.{rng.randrange(1, 60)}.{dist}"


def bump(rng, text):
    """Changes one number of `text` a little, or appends a segment."""
    parts = text.split(".")
    index = rng.randrange(len(parts))
    digits = "".join(c for c in parts[index] if c.isdigit())
    if digits and rng.random() < 0.9:
        parts[index] = parts[index].replace(digits, str(max(0, int(digits) + rng.choice([-2, -1, 1, 1, 2]))), 1)
    else:
        parts.append(str(rng.randrange(1, 5)))
    return ".".join(parts)


def evr(epoch, ver, rel):
    return f"{epoch}:{ver}-{rel}" if epoch else f"{ver}-{rel}"


def pair(rng):
    epoch = rng.choice([0] * 18 + [1, 2])
    ver, rel = version(rng), release(rng)
    kind = rng.random()
    if kind < 0.45:
        other = (epoch, ver, bump(rng, rel))
    elif kind < 0.75:
        other = (epoch, bump(rng, ver), release(rng))
    elif kind < 0.88:
        other = (epoch, ver, rel)
    elif kind < 0.95:
        other = (epoch, ver + rng.choice(["~rc1", "~beta2", "^git20240101", ".1"]), rel)
    else:
        other = (rng.choice([0, 1, 2]), version(rng), release(rng))
    left, right = evr(epoch, ver, rel), evr(*other)
    return (left, right) if rng.random() < 0.5 else (right, left)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(1)
    out = sys.stdout
    for _ in range(count):
        left, right = pair(rng)
        out.write(f"{left}\t{right}\n")


if __name__ == "__main__":
    main()
