#!/usr/bin/python3
"""Generates the differential version-comparison tables in this directory.

Run with the *system* Python (it needs python3-rpm) on a machine with dpkg:

    /usr/bin/python3 crates/pw-core/test_data/versions/generate.py

Outputs (tab-separated, one pair per line, `#` lines are comments):

* rpmvercmp.tsv  left, right, librpm's rpmvercmp(left, right) (called through ctypes)
* rpm_evr.tsv    left, right, comparison of rpm.ver(left) with rpm.ver(right) (= librpm's rpmverCmp)
* deb.tsv        left, right, result of `dpkg --compare-versions` (lt / eq / gt)

The pairs are random but seeded, so a re-run reproduces the same files with the same tools.
"""

import os
import ctypes
import random
import subprocess
import sys

import rpm

LIBRPMIO = ctypes.CDLL("librpmio.so.9")
LIBRPMIO.rpmvercmp.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
LIBRPMIO.rpmvercmp.restype = ctypes.c_int

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240611
N_RPMVERCMP = 4000
N_RPM_EVR = 3000
N_DEB = 2500


def rpm_token(rng):
    kind = rng.random()
    if kind < 0.45:
        digits = str(rng.choice([0, 1, 2, 3, 9, 10, 11, 99, 100, 2023, rng.randrange(0, 10**6)]))
        if rng.random() < 0.1:
            digits = "0" * rng.randrange(1, 3) + digits
        if rng.random() < 0.02:
            digits = str(rng.randrange(10**18, 10**25))
        return digits
    if kind < 0.75:
        return rng.choice(["a", "b", "rc", "beta", "el", "fc", "amzn", "git", "Z", "A", "pre", "p", "x", "elb"])
    if kind < 0.85:
        return rng.choice(["~", "~~", "^", "^^"])
    return rng.choice([".", ".", ".", "_", "+", "%", "..", "é", "{", "}"])


def rpm_version(rng, allow_dash=True):
    parts = [rpm_token(rng) for _ in range(rng.randrange(1, 7))]
    text = "".join(parts)
    if not allow_dash:
        text = text.replace("-", ".")
    return text


def mutate_rpm(rng, text):
    """A near neighbour of `text`, so that many pairs share prefixes."""
    choice = rng.randrange(8)
    if not text:
        return rpm_version(rng)
    position = rng.randrange(len(text) + 1)
    if choice == 0:
        return text[:position] + rpm_token(rng) + text[position:]
    if choice == 1:
        return text[:position] + text[position + 1 :]
    if choice == 2:
        return text + rng.choice(["~rc1", "^git1", ".1", "a", "~", "^", ".0", "_1", "+"])
    if choice == 3:
        return text.replace(".", rng.choice(["_", "+", ".", "..", "~"]), 1)
    if choice == 4:
        return "".join("0" + c if c.isdigit() and rng.random() < 0.3 else c for c in text)
    if choice == 5:
        return text
    if choice == 6:
        return text[:position]
    return rpm_version(rng)


def rpm_pairs(rng, count):
    pairs = []
    for _ in range(count):
        left = rpm_version(rng)
        right = mutate_rpm(rng, left) if rng.random() < 0.7 else rpm_version(rng)
        if rng.random() < 0.5:
            left, right = right, left
        pairs.append((left, right))
    return pairs


def evr_part(rng):
    """A version or release for an EVR: no `-`, `:` or whitespace, and not empty."""
    while True:
        text = rpm_version(rng).replace("-", ".").replace(":", ".")
        if text:
            return text


def evr(rng, epoch=None, version=None, release=None):
    epoch = epoch if epoch is not None else rng.choice([None, None, None, "0", "1", "2", "10", "01"])
    version = version if version is not None else evr_part(rng)
    release = release if release is not None else rng.choice([None, evr_part(rng), evr_part(rng)])
    return epoch, version, release


def evr_text(parts):
    epoch, version, release = parts
    text = version
    if epoch is not None:
        text = f"{epoch}:{text}"
    if release is not None:
        text = f"{text}-{release}"
    return text


def mutate_evr(rng, parts):
    epoch, version, release = parts
    choice = rng.randrange(6)
    if choice == 0:
        return evr(rng, None, version, release)
    if choice == 1:
        return (epoch, mutate_rpm(rng, version).replace("-", ".").replace(":", ".") or "0", release)
    if choice == 2:
        return (epoch, version, None)
    if choice == 3:
        return (epoch, version, mutate_rpm(rng, release or "1").replace("-", ".").replace(":", ".") or "1")
    if choice == 4:
        return parts
    return evr(rng)


def sign(value):
    return (value > 0) - (value < 0)


def write(name, header, rows):
    path = os.path.join(HERE, name)
    with open(path, "w", encoding="utf-8") as out:
        for line in header:
            out.write(f"# {line}\n")
        for row in rows:
            for cell in row:
                assert "\t" not in str(cell) and "\n" not in str(cell)
            out.write("\t".join(str(cell) for cell in row) + "\n")
    print(f"wrote {len(rows)} rows to {path}", file=sys.stderr)


def generate_rpmvercmp(rng):
    rows = []
    for left, right in rpm_pairs(rng, N_RPMVERCMP):
        result = sign(LIBRPMIO.rpmvercmp(left.encode(), right.encode()))
        rows.append((left, right, result))
    write(
        "rpmvercmp.tsv",
        [
            "left<TAB>right<TAB>rpmvercmp(left, right) from librpm " + rpm.__version__,
            "generated by generate.py (librpmio's rpmvercmp through ctypes); do not edit",
        ],
        rows,
    )


def generate_rpm_evr(rng):
    rows = []
    for _ in range(N_RPM_EVR):
        left = evr(rng)
        right = mutate_evr(rng, left) if rng.random() < 0.7 else evr(rng)
        if rng.random() < 0.5:
            left, right = right, left
        left_text, right_text = evr_text(left), evr_text(right)
        left_ver, right_ver = rpm.ver(left_text), rpm.ver(right_text)
        result = (left_ver > right_ver) - (left_ver < right_ver)
        # rpm.ver's ordering (rpmverCmp) agrees with labelCompare, where a missing release
        # sorts before any release.
        assert result == sign(rpm.labelCompare(left, right)), (left_text, right_text)
        rows.append((left_text, right_text, result))
    write(
        "rpm_evr.tsv",
        [
            "left<TAB>right<TAB>rpmverCmp(left, right) from librpm " + rpm.__version__ + " (python3-rpm rpm.ver)",
            "generated by generate.py; do not edit",
        ],
        rows,
    )


def deb_part(rng, alphabet, first_digit):
    tokens = []
    for _ in range(rng.randrange(1, 6)):
        kind = rng.random()
        if kind < 0.45:
            tokens.append(str(rng.choice([0, 1, 2, 9, 10, 99, 2023, rng.randrange(0, 10**5)])))
            if rng.random() < 0.1:
                tokens[-1] = "0" + tokens[-1]
        elif kind < 0.7:
            tokens.append(rng.choice(["a", "b", "rc", "ubuntu", "deb", "build", "Z", "A", "dfsg", "git"]))
        else:
            tokens.append(rng.choice(alphabet))
    text = "".join(tokens)
    if first_digit and not text[0].isdigit():
        text = str(rng.randrange(0, 10)) + text
    return text


def deb_version(rng):
    epoch = rng.choice(["", "", "", "0:", "1:", "2:", "10:"])
    # Upstream may contain `-` only when there is a revision, and `:` only after an epoch.
    has_revision = rng.random() < 0.7
    upstream_alphabet = [".", "+", "~", "~~", "."] + (["-"] if has_revision else []) + ([":"] if epoch else [])
    upstream = deb_part(rng, upstream_alphabet, first_digit=rng.random() < 0.95)
    if upstream.endswith("-"):
        upstream += "1"
    text = epoch + upstream
    if has_revision:
        text += "-" + deb_part(rng, [".", "+", "~", "."], first_digit=False)
    return text


def mutate_deb(rng, text):
    choice = rng.randrange(6)
    if choice == 0:
        return text + rng.choice(["~", "~rc1", "+b1", ".0", "a", "-1", "0"])
    if choice == 1:
        return text.replace(".", rng.choice(["+", "~", ".", "a"]), 1)
    if choice == 2:
        return "".join("0" + c if c.isdigit() and rng.random() < 0.3 else c for c in text)
    if choice == 3:
        return text
    if choice == 4 and "-" in text:
        return text.rsplit("-", 1)[0]
    return deb_version(rng)


def dpkg_compare(left, right):
    def holds(relation):
        completed = subprocess.run(
            ["dpkg", "--compare-versions", left, relation, right],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if completed.returncode not in (0, 1):
            raise RuntimeError(f"dpkg rejected {left!r} or {right!r}")
        return completed.returncode == 0

    if holds("lt"):
        return -1
    return 0 if holds("eq") else 1


def valid_deb(text):
    upstream = text.split(":", 1)[1] if ":" in text else text
    if "-" in upstream:
        upstream, revision = upstream.rsplit("-", 1)
        if not revision:
            return False
    return bool(upstream) and not text.endswith(":")


def generate_deb(rng):
    rows = []
    while len(rows) < N_DEB:
        left = deb_version(rng)
        right = mutate_deb(rng, left) if rng.random() < 0.7 else deb_version(rng)
        if rng.random() < 0.5:
            left, right = right, left
        if not (valid_deb(left) and valid_deb(right)):
            continue
        rows.append((left, right, dpkg_compare(left, right)))
    dpkg_version = subprocess.run(["dpkg-query", "--version"], capture_output=True, text=True, check=True)
    write(
        "deb.tsv",
        [
            "left<TAB>right<TAB>`dpkg --compare-versions` result (-1 lt, 0 eq, 1 gt)",
            dpkg_version.stdout.splitlines()[0],
            "generated by generate.py; do not edit",
        ],
        rows,
    )


def main():
    generate_rpmvercmp(random.Random(SEED))
    generate_rpm_evr(random.Random(SEED + 1))
    generate_deb(random.Random(SEED + 2))


if __name__ == "__main__":
    main()
