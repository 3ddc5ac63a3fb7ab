"""llama.cpp's native sampler chains, and JSON mode's grammar checked against them.

Runs on the worker's model thread, over ``llama_cpp``'s low-level API (the module is passed
in, so nothing here imports it).
"""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Callable
from typing import Any

from engine.errors import UsageError
from engine.types import SamplingParams


def make_sampler(
    lib: Any,
    vocab: Any,
    params: SamplingParams,
    history: list[int],
    last_error: Callable[[], str],
) -> Sampler:
    """The native sampler chain for ``params``, primed with the prompt's tokens.

    Args:
        lib: the ``llama_cpp`` module.
        vocab: the model's ``llama_vocab`` pointer.
        params: the sampling settings; with a ``grammar``, a :class:`GrammarSampler`.
        history: the prompt's tokens (the repetition penalty counts them).
        last_error: llama.cpp's last logged error line, to say why a grammar failed.

    Raises:
        UsageError: ``params.grammar`` is not a grammar llama.cpp can parse.
    """
    grammar = None
    if params.grammar:
        grammar = lib.llama_sampler_init_grammar(vocab, params.grammar.encode("utf-8"), b"root")
        if not grammar:
            why = last_error() or "llama.cpp could not parse it"
            raise UsageError(f"The grammar the answer must follow is not valid GBNF: {why}.")
    n_vocab = int(lib.llama_vocab_n_tokens(vocab))
    chain = native_chain(lib, n_vocab, params, history)
    if grammar is None:
        return Sampler(lib, chain)
    return GrammarSampler(lib, chain, grammar, n_vocab)


def native_chain(lib: Any, n_vocab: int, params: SamplingParams, history: list[int]) -> Any:
    """llama.cpp's sampler chain for ``params`` (no grammar), primed with the prompt's tokens.

    The repetition penalty first, then greedy, or top-k, top-p, min-p, temperature and a
    seeded draw. Both backends sample with it (the PyTorch one over its own logits).

    Args:
        lib: the ``llama_cpp`` module.
        n_vocab: the vocabulary's size.
        params: the sampling settings.
        history: the prompt's tokens (the repetition penalty counts them).
    """
    chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
    if params.repeat_penalty != 1.0 and params.repeat_last_n != 0:
        penalties = lib.llama_sampler_init_penalties(
            n_vocab, params.repeat_last_n, params.repeat_penalty, 0.0, 0.0
        )
        # Like llama.cpp's own CLI: the prompt counts for the repetition penalty. Fed
        # to this sampler alone: a grammar must see only the answer's tokens.
        for tok in history[-max(params.repeat_last_n, 0) :]:
            lib.llama_sampler_accept(penalties, tok)
        lib.llama_sampler_chain_add(chain, penalties)
    if params.temperature <= 0:
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
    else:
        if params.top_k > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(params.top_k))
        if 0 < params.top_p < 1:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(params.min_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(params.temperature))
        seed = params.seed if params.seed >= 0 else int.from_bytes(os.urandom(4), "little")
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed & 0xFFFFFFFF))
    return chain


class Sampler:
    """A native sampler chain: picks a token from a row of logits and remembers it."""

    def __init__(self, lib: Any, chain: Any) -> None:
        self._lib = lib
        self._chain = chain

    def sample(self, ctx: Any, row: int) -> int:
        """The next token, from the logits of batch row ``row`` (-1: the last)."""
        return int(self._lib.llama_sampler_sample(self._chain, ctx, row))

    def free(self) -> None:
        """Free the native samplers; safe to call twice."""
        if self._chain is not None:
            self._lib.llama_sampler_free(self._chain)
            self._chain = None


class GrammarSampler(Sampler):
    """A sampler chain whose tokens a GBNF grammar must allow (JSON mode).

    As llama.cpp's own ``common_sampler`` does it: the chain picks a token as usual, the
    grammar checks that one token, and only when it refuses is the grammar applied to the
    whole vocabulary and the chain run again over what it allows. Applying the grammar to
    every token of a 150,000-token vocabulary at every step made a schema's answer 10x
    slower than free text; most tokens of a JSON answer pass the single check.
    """

    def __init__(self, lib: Any, chain: Any, grammar: Any, n_vocab: int) -> None:
        import numpy as np

        super().__init__(lib, chain)
        self._grammar = grammar
        self._n_vocab = n_vocab
        self._data = (lib.llama_token_data * n_vocab)()
        self._view = np.ctypeslib.as_array(self._data)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._one = (lib.llama_token_data * 1)()
        self._np = np

    def _candidates(self, ctx: Any, row: int) -> Any:
        """Every token with its logit from row ``row``, as llama.cpp's samplers take them."""
        lib, np = self._lib, self._np
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx, row), shape=(self._n_vocab,))
        # The samplers sort and cut the array in place: it is laid out afresh each time.
        self._view["id"] = self._ids
        self._view["logit"] = logits
        self._view["p"] = 0.0
        return lib.llama_token_data_array(self._data, self._n_vocab, -1, False)

    def _pick(self, candidates: Any) -> int:
        self._lib.llama_sampler_apply(self._chain, ctypes.byref(candidates))
        return int(candidates.data[candidates.selected].id)

    def _allowed(self, token: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        one = self._lib.llama_token_data_array(self._one, 1, -1, False)
        self._lib.llama_sampler_apply(self._grammar, ctypes.byref(one))
        return math.isfinite(self._one[0].logit)

    def sample(self, ctx: Any, row: int) -> int:
        """The next token the grammar allows, from the logits of batch row ``row``."""
        lib = self._lib
        token = self._pick(self._candidates(ctx, row))
        if not self._allowed(token):
            candidates = self._candidates(ctx, row)
            lib.llama_sampler_apply(self._grammar, ctypes.byref(candidates))
            token = self._pick(candidates)
        lib.llama_sampler_accept(self._grammar, token)
        lib.llama_sampler_accept(self._chain, token)
        return token

    def free(self) -> None:
        """Free the chain and the grammar; safe to call twice."""
        super().free()
        if self._grammar is not None:
            self._lib.llama_sampler_free(self._grammar)
            self._grammar = None
