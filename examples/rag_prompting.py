"""Retrieval-augmented prompts in the order that prefix caches can reuse.

An example, not part of the ``adaptive_router`` package: Stratum routes requests and builds
no prompts. It needs nothing but the standard library: copy it into your application. A
script in ``examples/`` imports it as ``rag_prompting`` (Python puts a script's own folder
on ``sys.path``), as ``rag_prompt_structure_demo.py`` does.

Every serving engine Stratum sits in front of keeps the KV cache of prompts it has already
processed and skips the prefill of a new prompt's longest *shared prefix*: llama.cpp reuses a
slot's cached tokens (``cache_n`` in its ``timings``), vLLM has automatic prefix caching
(hash-chained KV blocks), SGLang keeps a radix tree of prefixes (RadixAttention). All three
match from the first token on and stop at the first token that differs. So the order of a
RAG prompt decides what can be reused:

- fixed system prompt first: it is the same bytes in every request, so it is the prefix
  every request shares, and its prefill is paid once;
- retrieved documents next: identical documents in the same order give identical bytes, so
  a follow-up question on the same documents reuses them too;
- the user's query last: it is new in every request, so nothing after it is lost.

Put the documents first (``f"{docs}\\nSystem: {system}\\nUser: {query}"``) and the prompt
differs from the previous one at its first token whenever retrieval returns something
else: the system prompt behind them is recomputed every time.

The builders here only fix order and formatting; they change nothing else. Formatting is
deterministic: line endings are normalised to ``\\n`` and surrounding whitespace is stripped
from every part, so the same inputs always give the same bytes, and the system prompt is
a byte-identical prefix of every prompt built with it.

    >>> msgs = build_rag_messages("Answer from the context only.", ["Paris is in France."],
    ...                           "Where is Paris?")
    >>> [m["role"] for m in msgs]
    ['system', 'user']
    >>> print(build_rag_prompt("Answer from the context only.", ["Paris is in France."],
    ...                        "Where is Paris?"))
    Answer from the context only.
    <BLANKLINE>
    Context:
    [1] Paris is in France.
    <BLANKLINE>
    Question: Where is Paris?
    Answer:

``benchmarks/radixattention_prefix_sweep.py`` measures what the order is worth (time to
first token and cached tokens, both orders) and ``docs/RADIXATTENTION-OPERATIVE-TABLE.md``
has the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["build_rag_messages", "build_rag_prompt", "format_documents"]

CONTEXT_HEADER = "Context:"
QUESTION_LABEL = "Question:"
ANSWER_LABEL = "Answer:"


def _normalise(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _documents(documents: Sequence[str], sort: bool) -> list[str]:
    if isinstance(documents, str | bytes):
        # a bare string is a Sequence[str] of characters: almost certainly a mistake
        raise TypeError("documents must be a sequence of strings, not a single string")
    texts = [_normalise(doc, f"documents[{i}]") for i, doc in enumerate(documents)]
    texts = [text for text in texts if text]
    return sorted(texts) if sort else texts


def format_documents(documents: Sequence[str], *, sort: bool = False) -> str:
    """The context block: ``Context:`` then ``[1] ...``, ``[2] ...``, one blank line apart.

    Empty (or whitespace-only) documents are dropped; no documents give ``""``. Documents
    keep the order given (retrieval rank), unless ``sort=True``: then the same *set* of
    documents gives the same bytes whatever order retrieval returned them in, which lets
    the cache reuse them, at the cost of no longer putting the best match first.

        >>> print(format_documents(["b", "a"], sort=True))
        Context:
        [1] a
        <BLANKLINE>
        [2] b
    """
    texts = _documents(documents, sort)
    if not texts:
        return ""
    body = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(texts, 1))
    return f"{CONTEXT_HEADER}\n{body}"


def _user_turn(documents: Sequence[str], query: str, sort: bool) -> str:
    context = format_documents(documents, sort=sort)
    question = f"{QUESTION_LABEL} {_normalise(query, 'query')}"
    return f"{context}\n\n{question}" if context else question


def build_rag_messages(
    system: str, documents: Sequence[str], query: str, *, sort_documents: bool = False
) -> list[dict[str, str]]:
    """OpenAI chat ``messages`` in cache-friendly order.

    A ``system`` message with the fixed system prompt (left out when it is empty), then one
    ``user`` message with the context block (see :func:`format_documents`) followed by the
    question. Chat templates render the system message first, so the rendered prompt
    starts with the same bytes in every request.

        >>> build_rag_messages("Be brief.", [], "Hi?")
        [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Question: Hi?'}]
    """
    messages: list[dict[str, str]] = []
    system_text = _normalise(system, "system")
    if system_text:
        messages.append({"role": "system", "content": system_text})
    messages.append({"role": "user", "content": _user_turn(documents, query, sort_documents)})
    return messages


def build_rag_prompt(
    system: str, documents: Sequence[str], query: str, *, sort_documents: bool = False
) -> str:
    """One completion prompt in cache-friendly order, ending with ``Answer:``.

    The system prompt, a blank line, the context block, a blank line, ``Question: ...``
    and ``Answer:`` on the last line (for ``/v1/completions`` and base models). With an
    empty system prompt the prompt starts with the context block.

        >>> build_rag_prompt("Be brief.", [], "Hi?")
        'Be brief.\\n\\nQuestion: Hi?\\nAnswer:'
    """
    system_text = _normalise(system, "system")
    user = _user_turn(documents, query, sort_documents)
    head = f"{system_text}\n\n" if system_text else ""
    return f"{head}{user}\n{ANSWER_LABEL}"
