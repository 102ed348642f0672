"""The text a user types for pictures in order: links `1>2:40, 2>3:40`, chains `1-30:48`, ranges `5-9`. One parser
for the command line, the notebooks and the Python API; each mistake is named and pointed at."""
import re
from dataclasses import dataclass

from . import checks
from .errors import MorphError

NAME = re.compile(r"\w+")  # a picture's name in a link: letters, digits, _
RANGE = re.compile(r"([0-9]+)\s*-\s*([0-9]+)")  # 5-9: pictures 5, 6, 7, 8, 9 (9-5 goes down)
EXAMPLE = "like 1>2:40 (or a chain like 1-30:48)"


@dataclass(frozen=True)
class Link:
    src: str
    dst: str
    steps: int


def number_range(text):
    """'5-9' -> [5, 6, 7, 8, 9] ('9-5': downwards); None if `text` is not a range. One of more than
    checks.MAX_FRAMES numbers is refused."""
    m = RANGE.fullmatch(str(text).strip())
    if not m:
        return None
    first, last = int(m[1]), int(m[2])
    if abs(last - first) >= checks.MAX_FRAMES:
        raise MorphError(f"the range {m[0]} is too long ({abs(last - first) + 1:,} pictures, at most "
                         f"{checks.MAX_FRAMES:,}): give a shorter one")
    step = 1 if last >= first else -1
    return list(range(first, last + step, step))


def _listed(sequence) -> list:
    """Links given as a list: Links, or (from, to, steps) tuples."""
    if not isinstance(sequence, (list, tuple)) or not all(isinstance(x, (Link, list, tuple)) for x in sequence):
        raise MorphError(f"sequence {sequence!r} is not a sequence: give text like '1>2:40, 2>3:40', or a list of "
                         "(from, to, steps) links")
    return [_link((x.src, x.dst, x.steps) if isinstance(x, Link) else x) for x in sequence]


def _link(item) -> Link:
    if len(item) != 3 or not all(isinstance(n, (str, int)) and not isinstance(n, bool) and NAME.fullmatch(str(n))
                                 for n in item[:2]):
        raise MorphError(f"sequence link {item!r} is not (from, to, steps): give two picture names and a number of "
                         "steps, like ('1', '2', 40)")
    return Link(str(item[0]), str(item[1]), checks.whole("steps", item[2], 2))


def parse_sequence(text) -> list:
    """'1>2:40, 2>3:40' -> Links (from, to, steps); '1-30:48' is the chain 1>2:48, ..., 29>30:48 (a folder of
    pictures in order). A mistake is refused with what is wrong and a caret under it. A list of Links or
    (from, to, steps) tuples is checked and returned as Links."""
    if not isinstance(text, str):
        return _listed(text)
    if not text.strip():
        raise MorphError("the sequence is empty: write links like 1>2:40, 2>3:40 (from>to:steps)")
    found, pos = [], 0
    for part in text.split(","):
        found += _part(text, pos, part)
        pos += len(part) + 1
    return found


def _part(text, pos, part) -> list:
    """The Links of one comma-separated part of `text`, which starts at `pos`."""
    if not part.strip():
        last = pos > 0 and pos + len(part) == len(text)
        why = ("a comma at the start, with no link before it" if pos == 0 else
               "a comma at the end, with no link after it" if last else
               "two commas in a row: a link is missing between them")
        raise MorphError(_point(text, pos - 1 if last else pos, why))
    ends, colon, steps = part.partition(":")
    if not colon:
        raise MorphError(_point(text, pos + len(part.rstrip()), f"a link needs its steps after a colon, {EXAMPLE}"))
    n = _steps(text, pos + len(ends) + 1, steps)
    span = RANGE.fullmatch(ends.strip())
    if span:
        start = pos + len(ends) - len(ends.lstrip())
        try:
            numbers = number_range(span[0])
        except MorphError as e:
            raise MorphError(_point(text, start, str(e))) from None
        if len(numbers) < 2:
            raise MorphError(_point(text, start, f"a chain goes from one picture to another, not {span[0]}"))
        return [Link(str(a), str(b), n) for a, b in zip(numbers, numbers[1:])]
    names = ends.split(">")
    if len(names) != 2:
        where = pos + (len(names[0]) + 1 + len(names[1]) if len(names) > 2 else len(ends) - len(ends.lstrip()))
        why = ("one > per link, from>to" if len(names) > 2 else "a chain is two numbers, like 1-30:48" if "-" in ends
               else f"{ends.strip()!r} has no >: a link is from>to:steps, {EXAMPLE}")
        raise MorphError(_point(text, where, why))
    for k, name in enumerate(names):
        at = pos + (len(names[0]) + 1 if k else 0)
        if not NAME.fullmatch(name.strip()):
            what = f"{name.strip()!r} is not a picture name (letters, digits, _)" if name.strip() else \
                f"a picture name is missing {'after' if k else 'before'} >"
            raise MorphError(_point(text, at + len(name) - len(name.lstrip()), what))
    return [Link(names[0].strip(), names[1].strip(), n)]


def _steps(text, pos, steps) -> int:
    """The number after a link's colon: a whole number of at least 2."""
    word, at = steps.strip(), pos + len(steps) - len(steps.lstrip())
    if re.fullmatch(r"-?[0-9]+", word):
        if int(word) < 2:
            raise MorphError(_point(text, at, f"a link needs at least 2 steps, not {int(word)}"))
        return int(word)
    hint = " (separate links with commas)" if ">" in word or "-" in word[1:] else ""
    what = f"not {word!r}" if word else "and none is given"
    raise MorphError(_point(text, at, f"steps are a whole number of frames, like 40, {what}{hint}"))


def _point(text, pos, msg) -> str:
    return f"bad sequence: {msg}\n  {text}\n  {' ' * pos}^"
