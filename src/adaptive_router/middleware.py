"""``python -m adaptive_router.middleware``: the router as a service, seed-compatible.

    python -m adaptive_router.middleware \\
        --tier-high-url http://llama-cpp:8080/v1 --tier-low-url http://vllm:8000/v1 --port 9000

Same command and flags as ``stratum serve``.
"""

from adaptive_router.cli import serve_command

if __name__ == "__main__":
    serve_command(prog_name="python -m adaptive_router.middleware")
