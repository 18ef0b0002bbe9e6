"""OpenWebUI in front of the stack (``stratum up --with openwebui``): its venv and environment.

OpenWebUI talks to LiteLLM when the stack runs it, else straight to Stratum. On the local
stack it is one user without login, on loopback only, offline, with its data in the run
directory. Its background tasks (chat titles, tags, follow-ups) go to ``gemma4-lite``, the
small tier, instead of taking the big tier's slots. Each variable below is documented at
https://docs.openwebui.com/getting-started/env-configuration/.
"""

from __future__ import annotations

from pathlib import Path

from adaptive_router.stack.venvs import VenvSpec

# The newest release published; about 7 GB installed (torch, CUDA wheels, chromadb...).
SPEC = VenvSpec("open-webui-0.12.4", ("open-webui==0.12.4",), "about 7 GB, a few minutes")


def environment(
    data_dir: Path, api_url: str, api_key: str, task_model: str, secret_key: str
) -> tuple[tuple[str, str], ...]:
    """The variables OpenWebUI runs with: its one OpenAI-compatible connection is
    ``api_url`` (LiteLLM's or Stratum's ``/v1``)."""
    return (
        ("DATA_DIR", str(data_dir)),
        ("WEBUI_AUTH", "False"),  # one user, no login: the stack listens on loopback only
        ("WEBUI_SECRET_KEY", secret_key),  # else it writes .webui_secret_key where it runs
        ("OFFLINE_MODE", "True"),  # no update checks or model downloads
        ("HF_HUB_OFFLINE", "1"),
        ("ENABLE_OLLAMA_API", "False"),
        ("ENABLE_OPENAI_API", "True"),
        ("OPENAI_API_BASE_URL", api_url),
        ("OPENAI_API_KEY", api_key),
        ("TASK_MODEL_EXTERNAL", task_model),
        # OpenWebUI's built-in tools (memory, notes, chats, ...) add about 7,400 tokens of
        # tool definitions to every chat: more than the local engines' context windows.
        ("DEFAULT_MODEL_METADATA", '{"capabilities": {"builtin_tools": false}}'),
        # No embedding model is loaded: none can be downloaded offline, and trying costs
        # start-up time and an error in the log. Documents and web search stay off.
        ("RAG_EMBEDDING_MODEL", ""),
        ("ENABLE_WEB_SEARCH", "False"),
        ("ENABLE_VERSION_UPDATE_CHECK", "False"),
        ("ANONYMIZED_TELEMETRY", "False"),
        ("DO_NOT_TRACK", "True"),
        ("SCARF_NO_ANALYTICS", "True"),
    )
