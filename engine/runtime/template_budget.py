"""What one chat-template render may build, and what an operation would build before it runs.

A render pays for every string, list and number it builds from a :class:`RenderBudget`
(see engine.runtime.template_sandbox for where the payments are taken). The size functions
here say what an operation will build from its arguments alone, so that
``'a'|center(1500000000)`` is refused before Python allocates anything; containers are
measured without converting them to text.
"""

from __future__ import annotations

import math
import re
import string
import threading
import time
from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    ValuesView,
)
from contextlib import contextmanager
from itertools import chain
from typing import Any

from jinja2.utils import Namespace

from engine.errors import TemplateError

#: Iterations ``range`` may produce over one render (Jinja's own sandbox allows as many
#: in one range; a chat template needs a handful).
MAX_RANGE_ITEMS = 100_000
#: Loop iterations, calls, filters and operators one render may take. Real templates
#: (Llama 3, Gemma, Qwen 2.5, DeepSeek R1, Mistral Small, Phi-4, Kimi K2) take 2 to 7
#: per message, so this lets a chat of a few hundred thousand messages through, and
#: a loop that does nothing else ends in about half a second.
MAX_RENDER_STEPS = 2_000_000
#: How much one render may build in all (strings in characters, lists in items), as a
#: multiple of the longest prompt it may write (engine.runtime.chat_templates). Real templates
#: build about three times what they write (``'<|im_start|>' + role + '\n' + content``
#: copies the content at each ``+``); eight leaves room for that and keeps a render
#: of a 1 MB chat under ~35 M characters.
BUILD_PER_OUTPUT_CHAR = 8
#: ... but never less than this: a template that collects messages into a list
#: across a loop (``ns.kept = ns.kept + [message]``) pays for every copy of the list,
#: n*n/2 items for n messages; this lets a 4,000-message chat through, and is at most
#: 64 MB of references or 32 MB of text.
BUILD_FLOOR = 8 * 1024 * 1024
#: What a constant folded while the template compiles may build (no render, so no
#: prompt to size it from): as much as the largest template we accept.
COMPILE_TIME_CHARS = 256 * 1024
#: Bits an integer may have. No chat template needs numbers past 1,233 digits, and
#: big-integer products take quadratic time.
MAX_INT_BITS = 4096

_local = threading.local()
_END = object()


class TemplateRefused(TemplateError):
    """The template tried to take more memory, time or access than a chat template may."""


def _size_text(chars: int) -> str:
    """A size in characters as a person reads it (a character is at least a byte)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if chars >= scale:
            return f"{chars / scale:.1f} {unit}"
    return f"{chars}-character"


class RenderBudget:
    """What one render may still build and how many steps it may take.

    One budget serves one render, on the thread that renders (see :func:`rendering`).
    """

    def __init__(self, *, max_chars: int, deadline: float = math.inf) -> None:
        self.max_chars = max_chars
        self.deadline = deadline
        self.built = 0
        self.steps = 0
        self.range_items = 0

    def require(self, size: int, what: str = "string") -> None:
        """Refuse to build a string of ``size`` characters (or a list of as many items)
        that would not fit."""
        if size > self.max_chars - self.built:
            if size > self.max_chars:
                if what == "list":
                    value = f"list of {size:,} items"
                else:
                    value = f"{_size_text(size)} {what}"
                raise TemplateRefused(
                    f"the model's chat template tried to build a {value}; Hearth refused it"
                )
            self._over()

    def charge(self, size: int) -> None:
        """Pay for a value that was just built."""
        self.built += size
        if self.built > self.max_chars:
            self._over()

    def _over(self) -> None:
        raise TemplateRefused(
            f"the model's chat template built over {_size_text(self.max_chars)} of text "
            "for one prompt; Hearth refused it"
        )

    def step(self) -> None:
        """Count one loop iteration, call or operator; check the clock now and then."""
        self.steps += 1
        if self.steps > MAX_RENDER_STEPS:
            raise TemplateRefused(
                "the model's chat template loops too many times; Hearth refused it"
            )
        if self.steps % 1024 == 0:
            self.check_time()

    def check_time(self) -> None:
        """Stop a render that ran past its deadline."""
        if time.monotonic() > self.deadline:
            raise TemplateRefused(
                "the model's chat template took too long to render; Hearth refused it"
            )

    def bounded_range(self, *args: int) -> Iterator[int]:
        """``range`` for templates, counted against :data:`MAX_RANGE_ITEMS` per render."""
        for value in range(*args):
            self.range_items += 1
            if self.range_items > MAX_RANGE_ITEMS:
                raise TemplateRefused(
                    "the model's chat template loops too many times; Hearth refused it"
                )
            self.step()
            yield value


@contextmanager
def rendering(budget: RenderBudget) -> Iterator[RenderBudget]:
    """Make ``budget`` the one the current thread's render pays from."""
    _local.budget = budget
    try:
        yield budget
    finally:
        _local.budget = None


def current_budget() -> RenderBudget:
    """The budget of the render on this thread, or a small one for compile-time folding."""
    budget: RenderBudget | None = getattr(_local, "budget", None)
    # Jinja folds constant expressions while compiling (``'a'|center(1500000000)``
    # was built right there, outside any render); those get a template-sized budget.
    return budget if budget is not None else RenderBudget(max_chars=COMPILE_TIME_CHARS)


# -- sizes ---------------------------------------------------------------------------


def text_size(value: Any, cap: int, *, indent: int = 0) -> int:
    """Characters ``str(value)`` (or its JSON) takes.

    Containers are walked without converting anything: ``str()`` of a list holding the
    same 1 MB string a thousand times is 1 GB, though the list itself is small.

    Raises:
        TemplateRefused: the text would pass ``cap`` (the walk stops there).
    """
    total = 0
    # A stack of iterators, not of items: a list of a million references is walked
    # one item at a time instead of copied onto the stack.
    stack: list[tuple[Iterator[Any], int]] = [(iter((value,)), 0)]
    while stack:
        items, depth = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
            continue
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Mapping):
            total += (4 + indent * (depth + 1)) * len(item)
            stack.append((chain.from_iterable(item.items()), depth + 1))
        elif isinstance(item, (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)):
            total += (2 + indent * (depth + 1)) * len(item)
            stack.append((iter(item), depth + 1))
        elif isinstance(item, Namespace):
            # Its repr shows every attribute; the attributes live in a private dict.
            stack.append((iter((object.__getattribute__(item, "_Namespace__attrs"),)), depth))
        else:  # loop contexts, macros, undefined values: short reprs
            total += 64
        if total > cap:
            raise TemplateRefused(
                f"the model's chat template tried to build a string of over {_size_text(cap)}; "
                "Hearth refused it"
            )
    return total


def built_size(value: Any) -> int:
    """What a value just built costs: its length (characters or items), or its digits."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    if isinstance(value, int):
        return value.bit_length() // 8
    return 0


_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _number(digits: str, cap: int) -> int:
    # int() of thousands of digits is refused by Python itself; anything that long is
    # past any cap anyway.
    return int(digits) if len(digits) <= 12 else cap + 1


def _int_args(values: Iterable[Any]) -> int:
    return sum(abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool))


def _values(args: Any) -> list[Any]:
    if isinstance(args, Mapping):
        return list(args.values())
    return list(args) if isinstance(args, tuple) else [args]


def percent_size(fmt: Any, args: Any, cap: int) -> int:
    """Most characters ``fmt % args`` can produce: its text, its values, its widths."""
    if isinstance(fmt, bytes):
        fmt = fmt.decode("latin-1")  # the same fields, one character per byte
    if not isinstance(fmt, str):
        return text_size(fmt, cap) + text_size(args, cap)
    size = len(fmt) + text_size(args, cap)
    starred = False
    for match in _PERCENT_FIELD.finditer(fmt):
        for group in match.groups():
            if group == "*":
                starred = True
            elif group:
                size += _number(group, cap)
        if size > cap:
            return size
    if starred:
        size += _int_args(_values(args))
    return size


def format_size(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], cap: int) -> int:
    """Most characters ``fmt.format(*args, **kwargs)`` can produce."""
    size = len(fmt) + text_size(args, cap) + text_size(dict(kwargs), cap)
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return size  # format() itself refuses it
    for _literal, _name, spec, _conversion in fields:
        if not spec:
            continue
        size += sum(_number(d, cap) for d in _DIGITS.findall(spec))
        if "{" in spec:  # a width taken from the arguments: '{:{}}'.format(x, 10**9)
            size += _int_args([*args, *kwargs.values()])
        if size > cap:
            return size
    return size


# -- calls: str methods ------------------------------------------------------------


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name)


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _replace_size(text: Any, old: Any, new: Any, count: Any) -> int:
    kind = type(text)
    if not (isinstance(text, (str, bytes)) and isinstance(old, kind) and isinstance(new, kind)):
        return 0  # replace() refuses mixed types itself
    hits = text.count(old) if old else len(text) + 1
    limit = _int_or(count, -1)
    if limit >= 0:
        hits = min(hits, limit)
    return len(text) + hits * max(0, len(new) - len(old))


def _join_size(separator: str | bytes, items: list[Any], cap: int) -> int:
    size = len(separator) * max(0, len(items) - 1)
    for item in items:
        size += len(item) if isinstance(item, (str, bytes)) else text_size(item, cap)
        if size > cap:
            break
    return size


def _method_size(
    owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], cap: int
) -> tuple[int, tuple[Any, ...]]:
    """Most characters a str/bytes method can build, and its arguments (joins materialized)."""
    if name in ("center", "ljust", "rjust", "zfill"):
        return max(len(owner), _int_or(_arg(args, kwargs, 0, "width"), 0)), args
    if name == "expandtabs":
        tabsize = _int_or(_arg(args, kwargs, 0, "tabsize"), 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return len(owner) + tabs * max(0, tabsize), args
    if name == "replace":
        count = _arg(args, kwargs, 2, "count")
        return _replace_size(
            owner, _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new"), count
        ), args
    if name == "join" and args:
        items = list(args[0])  # a generator would be spent by counting it: pass the list on
        return _join_size(owner, items, cap), (items, *args[1:])
    if name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        return len(owner) * max(1, longest), args
    return 0, args


def _wrapped_format(obj: Any) -> tuple[str, str] | None:
    """(format string, "format" or "format_map") when ``obj`` is the sandbox's str.format."""
    wrapped = getattr(obj, "__wrapped__", None)
    owner = getattr(wrapped, "__self__", None)
    name = getattr(wrapped, "__name__", "")
    if isinstance(owner, str) and name in ("format", "format_map"):
        return owner, name
    return None


def precheck_call(
    budget: RenderBudget, obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, ...]:
    """Refuse a call that would build too much; returns the arguments to call with."""
    cap = budget.max_chars
    fmt = _wrapped_format(obj)
    if fmt is not None:
        text, name = fmt
        if name == "format_map" and args:
            budget.require(format_size(text, (), _mapping(args[0]), cap))
        else:
            budget.require(format_size(text, args, kwargs, cap))
        return args
    # Bound methods of str and bytes, and of Markup (a str whose methods are Python
    # wrappers around str's).
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, (str, bytes)):
        size, args = _method_size(owner, getattr(obj, "__name__", ""), args, kwargs, cap)
        budget.require(size)
    return args


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# -- filters -----------------------------------------------------------------------

#: Filters that turn their value into text, with the most each output character of
#: the text can grow to (escaping turns ``&`` into ``&amp;``, URL-encoding a 4-byte
#: character into 12).
_STRINGIFYING_FILTERS = {
    "capitalize": 1,
    "e": 6,
    "escape": 6,
    "filesizeformat": 1,
    "forceescape": 6,
    "lower": 3,
    "pprint": 2,
    "safe": 1,
    "string": 1,
    "striptags": 1,
    "title": 3,
    "trim": 1,
    "truncate": 1,
    "upper": 3,
    "urlencode": 12,
    "urlize": 4,
    "wordcount": 1,
    "xmlattr": 6,
}


def filter_size(
    name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], cap: int
) -> tuple[int, str, tuple[Any, ...]]:
    """Most a filter can build (size, what), and its arguments (iterables materialized)."""
    value = args[0] if args else None
    rest = args[1:]
    if name == "center":
        return text_size(value, cap) + _int_or(_arg(rest, kwargs, 0, "width"), 80), "string", args
    if name == "indent":
        width = _arg(rest, kwargs, 0, "width")
        step = len(width) if isinstance(width, str) else _int_or(width, 4)
        lines = value.count("\n") + 1 if isinstance(value, str) else 1
        return text_size(value, cap) + lines * max(0, step), "string", args
    if name == "wordwrap":
        size = text_size(value, cap)
        width = max(1, _int_or(_arg(rest, kwargs, 0, "width"), 79))
        wrap = _arg(rest, kwargs, 2, "wrapstring")
        breaks = size // width + 1 + (value.count("\n") if isinstance(value, str) else 0)
        return size + breaks * (len(wrap) if isinstance(wrap, str) else 1), "string", args
    if name == "format":
        return percent_size(value, rest or dict(kwargs), cap), "string", args
    if name == "replace":
        old, new = _arg(rest, kwargs, 0, "old"), _arg(rest, kwargs, 1, "new")
        if isinstance(value, str):
            return _replace_size(value, old, new, _arg(rest, kwargs, 2, "count")), "string", args
        growth = len(new) if isinstance(new, str) else 1
        return text_size(value, cap) * max(1, growth), "string", args
    if name == "join":
        items = list(value) if value is not None else []
        separator = _arg(rest, kwargs, 0, "d")
        size = _join_size(separator if isinstance(separator, str) else "", items, cap)
        return size, "string", (items, *rest)
    if name == "batch":
        return _int_or(_arg(rest, kwargs, 0, "linecount"), 0), "list", args
    if name == "slice":
        return _int_or(_arg(rest, kwargs, 0, "slices"), 0), "list", args
    if name == "tojson":
        indent = _int_or(_arg(rest, kwargs, 0, "indent"), 0)
        # JSON escapes a control character as six characters.
        return 6 * text_size(value, cap, indent=min(indent, cap)), "string", args
    if name == "sum":
        # Adding lists copies the list so far each time: n lists of k items are n*n*k/2
        # copies, all inside one C call that no deadline can stop.
        items = list(value) if value is not None else []
        total = sum(len(i) for i in items if isinstance(i, (list, tuple, str)))
        return total * len(items), "list", (items, *rest)
    if name in _STRINGIFYING_FILTERS:
        return _STRINGIFYING_FILTERS[name] * text_size(value, cap), "string", args
    return 0, "string", args


def binop_size(operator: str, left: Any, right: Any, cap: int) -> tuple[int, str]:
    """Most a binary operator can build, and what (string, list or number)."""
    if operator == "%":
        if isinstance(left, (str, bytes)):
            return percent_size(left, right, cap), "string"
        return 0, ""
    if operator == "+":
        if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, type(left)):
            return len(left) + len(right), "string" if isinstance(left, (str, bytes)) else "list"
        return 0, ""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
                what = "string" if isinstance(seq, (str, bytes)) else "list"
                return len(seq) * max(0, count), what
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(left.bit_length() + right.bit_length())
        return 0, ""
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_bits(max(1, left.bit_length()) * right)
    return 0, ""


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateRefused(
            f"the model's chat template computes a {bits:,}-bit number; Hearth refused it"
        )
