"""LiteLLM's proxy in front of Stratum (``stratum up --with litellm``): its venv, key and config.

Every Stratum model alias (``gemma4-fast`` routes, ``gemma4-smart`` forces tier_high,
``gemma4-lite`` forces tier_low) becomes a LiteLLM model served by Stratum. The master key
is ``LITELLM_MASTER_KEY`` from the environment or a ``.env`` file in the working directory;
without one, a key is generated and kept in the run directory.

Virtual keys and budgets need LiteLLM's database (``DATABASE_URL``, PostgreSQL through
Prisma). Prisma downloads its query engine from its own server on first use, which an
offline machine cannot reach; docs/DEPLOY.md says what that means here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from adaptive_router.stack.state import kept_secret
from adaptive_router.stack.venvs import VenvSpec

KEY_ENV = "LITELLM_MASTER_KEY"

# ``litellm[proxy]==1.110.2`` does not resolve from PyPI: the extra requires a
# ``litellm-proxy`` distribution that is not published there, and pins
# litellm-proxy-extras 0.4.114.post1 / litellm-enterprise 0.1.83.post1, newer than the ones
# published (0.4.110 / 0.1.83). The proxy's code ships inside the ``litellm`` wheel itself,
# so we install it with the extra's own requirements listed here, those two at the newest
# published versions. ``prisma`` is the database extra (virtual keys, budgets).
SPEC = VenvSpec(
    "litellm-1.110.2",
    (
        "litellm==1.110.2",
        "litellm-proxy-extras==0.4.110",
        "litellm-enterprise==0.1.83",
        "prisma>=0.11.0,<1.0",
        "gunicorn>=23.0.0,<24.0",
        "uvicorn>=0.33.0,<1.0",
        "uvloop>=0.22.1,<1.0",
        "fastapi>=0.136.3,<1.0",
        "starlette>=1.0.1,<2.0",
        "backoff>=2.2.1,<3.0",
        "rq>=2.7.0,<3.0",
        "orjson>=3.11.6,<4.0",
        "apscheduler>=3.11.2,<4.0",
        "fastapi-sso>=0.19.0,<1.0",
        "pyjwt>=2.13.0,<3.0",
        "python-multipart>=0.0.27,<1.0",
        "cryptography>=49.0.0,<51.0",
        "pynacl>=1.6.2,<2.0",
        "websockets>=15.0.1,<16.0",
        "mcp>=2.3.0,<3",
        "restrictedpython>=8.5,<9.0",
        "rich>=13.9.4,<14.0",
        "tomlkit>=0.13.3,<1.0",
        "polars>=1.38.1,<2.0",
        "soundfile>=0.12.1,<1.0",
        "expression>=5.6.0,<6.0",
        "backports-zstd>=1.0.0,<2.0",
        "semver>=3.0.4,<4",
    ),
    "about 800 MB",
)


def master_key(
    key_file: Path, environ: Mapping[str, str], dotenv: Path, create: bool
) -> tuple[str | None, str]:
    """(key, where it comes from): the environment, else ``dotenv``, else a key generated
    once and kept in ``key_file`` (None if it does not exist yet and ``create`` is false)."""
    if environ.get(KEY_ENV):
        return environ[KEY_ENV], "the environment"
    from_dotenv = read_dotenv(dotenv).get(KEY_ENV)
    if from_dotenv:
        return from_dotenv, str(dotenv)
    existed = key_file.is_file()
    key = kept_secret(key_file, "sk-", create)
    if key is None:
        return None, f"generated at start into {key_file}"
    return key, f"{'kept' if existed else 'generated'} in {key_file}"


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (comments, ``export`` and quotes allowed)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and name and not name.startswith("#"):
            values[name.strip()] = value.strip().strip("'\"")
    return values


def config_text(router_url: str, aliases: Iterable[str], upstream_key: str) -> str:
    """LiteLLM's ``config.yaml``: each alias served by Stratum under its own name, so
    Stratum still sees (and routes on) the alias the client chose."""
    models = [
        {
            "model_name": alias,
            "litellm_params": {
                "model": f"openai/{alias}",
                "api_base": f"{router_url}/v1",
                "api_key": upstream_key,
            },
        }
        for alias in aliases
    ]
    config = {
        "model_list": models,
        # Stratum fails over between tiers itself; a LiteLLM retry would send it again.
        "litellm_settings": {"num_retries": 0, "request_timeout": 900},
        "general_settings": {"master_key": f"os.environ/{KEY_ENV}"},
    }
    return yaml.safe_dump(config, sort_keys=False)


# LiteLLM fetches its model price list from the internet at import unless told to use
# the copy it ships.
ENV = (("LITELLM_LOCAL_MODEL_COST_MAP", "True"),)
