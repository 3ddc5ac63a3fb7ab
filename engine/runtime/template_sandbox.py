"""The Jinja2 sandbox chat templates render in: every value a render builds is paid for first.

A chat template is code from whoever made the GGUF file. Jinja2's immutable sandbox
keeps it away from Python's internals, but not from memory: ``'a'|center(1500000000)``,
``'%1500000000s' % 'a'`` or a string doubled forty times in a loop are all allowed
and cost gigabytes before any output appears. So every operation that can build a
string, a list or a number goes through this module and is paid for from one
render's budget (engine.runtime.template_budget): *before* it runs when its size can be known in
advance (a width, a repeat count, a format spec, the text of a list), after it runs
otherwise (the result is then at most a small multiple of values already paid for).

The hooks are the sandbox's own (``call``, ``call_binop``), a ``finalize`` for
output, wrapped filters, and a code generator that routes ``~``, slices, loops and
the output buffers of macros and blocks through the budget. The same render counts
its steps, so a loop that builds nothing still ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import update_wrapper
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.runtime.template_budget import (
    TemplateRefused,
    binop_size,
    built_size,
    current_budget,
    filter_size,
    precheck_call,
    text_size,
)

#: ``tojson``'s indent: templates use 2 or 4; a huge one multiplies every line.
MAX_JSON_INDENT = 16


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` paid for from the render's budget; Jinja passes it the same first arguments."""
    # A filter marked pass_context/pass_environment/pass_eval_context gets that object
    # first; update_wrapper copies the mark, so the wrapper gets it too and skips it.
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.step()
        size, what, values = filter_size(name, args[skip:], kwargs, budget.max_chars)
        budget.require(size, what)
        result = func(*args[:skip], *values, **kwargs)
        budget.charge(built_size(result))
        return result

    return update_wrapper(bounded, func)


def tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
    """The ``tojson`` filter as Hugging Face's templates expect it (non-ASCII kept as is)."""
    if indent is not None and not 0 <= indent <= MAX_JSON_INDENT:
        raise TemplateRefused(
            f"the model's chat template asked for JSON indented by {indent}; Hearth refused it"
        )
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


# -- the generated code: ~, loops, buffers ----------------------------------------


class _BoundedBuffer(list[str]):
    """The output buffer of a macro, call block, filter block or ``{% set %}`` block.

    Each piece is paid for as it is added: a macro that outputs the same 1 MB string
    a thousand times holds a thousand references, and only the final join would
    have built the gigabyte.
    """

    def append(self, piece: str, /) -> None:
        current_budget().charge(len(piece))
        super().append(piece)

    def extend(self, pieces: Iterable[str], /) -> None:
        items = list(pieces)
        current_budget().charge(sum(len(p) for p in items))
        super().extend(items)


def _concat(pieces: Iterable[str]) -> str:
    """``environment.concat``: joins a buffer (paid for as it was filled) or other pieces."""
    if isinstance(pieces, _BoundedBuffer):
        return "".join(pieces)
    items = list(pieces)
    current_budget().require(sum(len(p) for p in items))
    result = "".join(items)
    current_budget().charge(len(result))
    return result


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with ``~``, loops and output buffers routed through the budget."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        # Every loop iterates through environment.bounded_iter, so each iteration is a
        # step: a loop that builds nothing still meets the step and time limits.
        for loop in node.find_all(nodes.For):
            lineno = loop.iter.lineno
            hook = nodes.EnvironmentAttribute("bounded_iter", lineno=lineno)
            loop.iter = nodes.Call(hook, [loop.iter], [], None, None, lineno=lineno)
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if not isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        # Jinja writes slices as plain Python subscripts, past the sandbox's getitem.
        self.write("environment.bounded_slice(")
        self.visit(node.node, frame)
        for bound in (node.arg.start, node.arg.stop, node.arg.step):
            self.write(", ")
            if bound is None:
                self.write("None")
            else:
                self.visit(bound, frame)
        self.write(")")

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.bounded_buffer()")


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: refuse before ``str()`` turns a small list into gigabytes."""
    if not isinstance(value, str):
        budget = current_budget()
        budget.require(text_size(value, budget.max_chars))
    return value


# -- the environment ----------------------------------------------------------------


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with everything that can build a value paid for first.

    Attribute access that the stock sandbox answers with an empty "undefined" is
    refused outright: a template that reaches for internals is hostile.
    """

    intercepted_binops = frozenset(["+", "*", "**", "%"])
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        self.concat = _concat  # type: ignore[method-assign]
        # lipsum(n) writes n paragraphs of filler in one C-speed call; no chat
        # template needs lorem ipsum.
        del self.globals["lipsum"]
        self.globals["range"] = lambda *args: current_budget().bounded_range(*args)
        self.filters["tojson"] = tojson
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        """Refuse access to internals (the stock sandbox renders it as "")."""
        raise TemplateRefused(
            f"the model's chat template tried to reach {type(obj).__name__}.{attribute}, "
            "which templates may not use; Hearth refused it"
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``+``, ``*``, ``**`` and ``%``, refused when the result would be too big."""
        budget = current_budget()
        budget.step()
        size, what = binop_size(operator, left, right, budget.max_chars)
        budget.require(size, what)
        result = super().call_binop(context, operator, left, right)
        budget.charge(built_size(result))
        return result

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Any call from a template: methods, macros, globals."""
        budget = current_budget()
        budget.step()
        args = precheck_call(budget, obj, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        budget.charge(built_size(result))
        return result

    def bounded_slice(self, obj: Any, start: Any, stop: Any, step: Any) -> Any:
        """``x[a:b:c]``: a copy, so it is paid for."""
        budget = current_budget()
        budget.step()
        value = obj[start:stop:step]
        budget.charge(built_size(value))
        return value

    def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """A loop's iterable, one step per iteration."""
        budget = current_budget()
        for item in iterable:
            budget.step()
            yield item

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``."""
        budget = current_budget()
        budget.step()
        budget.require(sum(text_size(p, budget.max_chars) for p in parts))
        result = "".join(str(p) for p in parts)
        budget.charge(len(result))
        return result

    def bounded_buffer(self) -> list[str]:
        """A new output buffer for a macro or block."""
        return _BoundedBuffer()
