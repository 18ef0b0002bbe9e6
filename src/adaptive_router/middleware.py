"""``python -m adaptive_router.middleware``: the seed project's command, kept working.

Stratum grew out of a project whose proxy was started as ``python -m
adaptive_router.middleware``; this module exists only so that the commands, compose files
and scripts written for it keep working unchanged:

    python -m adaptive_router.middleware \\
        --tier-high-url http://llama-cpp:8080/v1 --tier-low-url http://vllm:8000/v1 --port 9000

It is ``stratum serve`` under its old name: the same click command, so the same flags,
environment variables and config file. New setups use ``stratum serve``. Nothing else lives
here: the ASGI app is ``adaptive_router.proxy.app.create_app`` and the launcher
``adaptive_router.proxy.server.serve``.
"""

from adaptive_router.cli import serve_command

if __name__ == "__main__":
    serve_command(prog_name="python -m adaptive_router.middleware")
