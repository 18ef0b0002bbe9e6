"""examples/rag_prompting.py, the cache-friendly RAG prompt builders: order, determinism,
shared prefix, edge cases; and the demo that imports it runs as a script.
"""

from __future__ import annotations

import doctest
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` by path: examples/ is no package and not on sys.path."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prompting = load_example("rag_prompting")
build_rag_messages = prompting.build_rag_messages
build_rag_prompt = prompting.build_rag_prompt
format_documents = prompting.format_documents

SYSTEM = "You are a support assistant. Answer only from the context. Cite documents as [n]."
DOCS = ["Refunds take 5 days.", "Shipping is free over 50 EUR.", "Support is open 9-17."]


def test_prompt_order_is_system_then_documents_then_query() -> None:
    prompt = build_rag_prompt(SYSTEM, DOCS, "How long do refunds take?")
    positions = [prompt.index(SYSTEM)]
    positions += [prompt.index(doc) for doc in DOCS]
    positions.append(prompt.index("How long do refunds take?"))
    assert positions == sorted(positions)
    assert prompt.startswith(SYSTEM)
    assert prompt.endswith("Question: How long do refunds take?\nAnswer:")


def test_messages_order_system_first_query_last() -> None:
    messages = build_rag_messages(SYSTEM, DOCS, "Is shipping free?")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM
    user = messages[1]["content"]
    assert user.index(DOCS[0]) < user.index(DOCS[1]) < user.index(DOCS[2])
    assert user.endswith("Question: Is shipping free?")


def test_same_inputs_give_identical_bytes() -> None:
    first = build_rag_prompt(SYSTEM, DOCS, "q").encode()
    again = build_rag_prompt(SYSTEM, list(DOCS), "q").encode()
    assert first == again
    assert build_rag_messages(SYSTEM, DOCS, "q") == build_rag_messages(SYSTEM, tuple(DOCS), "q")


def test_whitespace_and_line_endings_do_not_change_bytes() -> None:
    messy = [f"  {DOCS[0]}\r\n", DOCS[1] + "\n\n", "\t" + DOCS[2]]
    assert build_rag_prompt(SYSTEM + "\r\n", messy, " q ") == build_rag_prompt(SYSTEM, DOCS, "q")


def test_system_prompt_is_a_byte_identical_prefix_across_queries() -> None:
    requests = [
        (DOCS, "How long do refunds take?"),
        (DOCS[:1], "Something else entirely"),
        (["A completely different document."], "A third question"),
        ([], "No documents at all"),
    ]
    prompts = [build_rag_prompt(SYSTEM, docs, q).encode() for docs, q in requests]
    assert all(p.startswith((SYSTEM + "\n\n").encode()) for p in prompts)
    # chat: the first message (rendered first by chat templates) is the same in every request
    firsts = [build_rag_messages(SYSTEM, docs, q)[0] for docs, q in requests]
    assert all(first == {"role": "system", "content": SYSTEM} for first in firsts)


def test_same_documents_share_everything_before_the_query() -> None:
    a = build_rag_prompt(SYSTEM, DOCS, "first question")
    b = build_rag_prompt(SYSTEM, DOCS, "second question")
    shared = a[: a.index("Question:")]
    assert b.startswith(shared)
    assert DOCS[-1] in shared


def test_empty_documents_leave_no_context_block() -> None:
    assert format_documents([]) == ""
    assert format_documents(["", "   ", "\n"]) == ""
    assert build_rag_prompt(SYSTEM, [], "q") == f"{SYSTEM}\n\nQuestion: q\nAnswer:"
    assert build_rag_messages(SYSTEM, [], "q")[1] == {"role": "user", "content": "Question: q"}


def test_empty_documents_are_dropped_and_numbering_stays_dense() -> None:
    assert format_documents(["a", "", "b"]) == "Context:\n[1] a\n\n[2] b"


def test_empty_system_prompt_is_left_out() -> None:
    assert build_rag_messages("", DOCS, "q")[0]["role"] == "user"
    assert build_rag_prompt("  ", ["d"], "q") == "Context:\n[1] d\n\nQuestion: q\nAnswer:"


def test_documents_keep_retrieval_order_unless_sorted() -> None:
    assert format_documents(["b", "a"]) == "Context:\n[1] b\n\n[2] a"
    assert format_documents(["b", "a"], sort=True) == format_documents(["a", "b"], sort=True)
    sorted_a = build_rag_prompt(SYSTEM, ["b", "a"], "q", sort_documents=True)
    assert sorted_a == build_rag_prompt(SYSTEM, ["a", "b"], "q", sort_documents=True)


def test_a_bare_string_is_refused_as_documents() -> None:
    with pytest.raises(TypeError, match="not a single string"):
        build_rag_prompt(SYSTEM, "one long document", "q")


def test_non_string_parts_are_refused_with_their_name() -> None:
    with pytest.raises(TypeError, match=r"documents\[1\]"):
        format_documents(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="query"):
        build_rag_messages(SYSTEM, DOCS, None)  # type: ignore[arg-type]


def test_docstring_examples_hold() -> None:
    failures, tried = doctest.testmod(prompting, verbose=False)
    assert tried > 0
    assert failures == 0


def test_the_demo_runs_as_a_script_and_finds_the_builders() -> None:
    demo = EXAMPLES / "rag_prompt_structure_demo.py"
    done = subprocess.run(
        [sys.executable, str(demo), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--requests" in done.stdout
