"""``python -m adaptive_router.bench``: the same command as ``stratum bench``."""

from adaptive_router.bench.cli import bench_command

if __name__ == "__main__":
    bench_command(prog_name="python -m adaptive_router.bench")
