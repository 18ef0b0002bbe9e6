#!/usr/bin/env bash
# Start the GPU compose stack (deploy/compose.yaml): vLLM + llama.cpp + Stratum + LiteLLM +
# OpenWebUI + Prometheus + Grafana. Checks first, then `docker compose up -d`, then waits until
# every service is healthy (the first start downloads the models: that can take a while).
#
#   bash scripts/start.sh            check, start, wait, then run scripts/health-check.sh --compose
#   SKIP_FIT=1 bash scripts/start.sh  skip the VRAM check (stratum fit)
#   WAIT_S=7200 bash scripts/start.sh wait up to 2 hours for health (default 3600 s)
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE=(docker compose -f deploy/compose.yaml --env-file .env)
WAIT_S="${WAIT_S:-3600}"

die() {
    echo "error: $*" >&2
    exit 1
}

check_docker() {
    command -v docker >/dev/null 2>&1 ||
        die "docker is not installed: https://docs.docker.com/engine/install/"
    docker info >/dev/null 2>&1 ||
        die "the docker daemon does not answer (is it running, and may this user use it?)"
    docker compose version >/dev/null 2>&1 ||
        die "docker compose v2 is missing: install the docker-compose-plugin package"
    command -v nvidia-smi >/dev/null 2>&1 || die "nvidia-smi is missing: install the NVIDIA driver"
    docker info --format '{{json .Runtimes}}' | grep -q nvidia ||
        die "docker has no nvidia runtime: install the NVIDIA Container Toolkit and run" \
            "'sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker'"
    echo "ok    docker $(docker version --format '{{.Server.Version}}'), compose," \
        "NVIDIA container toolkit"
}

check_env() {
    [ -f .env ] || die ".env is missing: cp .env.example .env, then fill in its secrets"
    # As docker compose does: a variable already in the environment wins over .env.
    local name value
    while IFS='=' read -r name value; do
        [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
        value="${value%\"}"
        value="${value#\"}"
        [ -n "${!name+set}" ] || export "$name=$value"
    done <.env
    local missing=()
    for name in HF_TOKEN LITELLM_MASTER_KEY LITELLM_SALT_KEY LITELLM_DB_PASSWORD \
        WEBUI_SECRET_KEY GRAFANA_ADMIN_PASSWORD; do
        [ -n "${!name:-}" ] || missing+=("$name")
    done
    [ ${#missing[@]} -eq 0 ] || die "set these in .env: ${missing[*]} (openssl rand -hex 32)"
    case "$LITELLM_MASTER_KEY" in
    sk-*) ;;
    *) die "LITELLM_MASTER_KEY must start with 'sk-' (LiteLLM refuses other keys)" ;;
    esac
    echo "ok    .env has every secret"
}

stratum_cmd() {
    if [ -x .venv/bin/stratum ]; then
        echo .venv/bin/stratum
    elif command -v stratum >/dev/null 2>&1; then
        command -v stratum
    else
        echo ./scripts/stratum
    fi
}

# fits MODEL_JSON GPU_GIB ARGS...: "yes" or "no" from `stratum fit --json`
fits() {
    local model="$1" gpu_gb="$2"
    shift 2
    "$(stratum_cmd)" fit "$model" --gpu-gb "$gpu_gb" --json "$@" |
        python3 -c 'import json, sys; print("yes" if json.load(sys.stdin)["fits"] else "no")'
}

check_vram() {
    if [ -n "${SKIP_FIT:-}" ]; then
        echo "skip  VRAM check (SKIP_FIT is set)"
        return
    fi
    local gpu="${GPU_DEVICE:-0}" free_mib total_mib
    IFS=', ' read -r free_mib total_mib < <(nvidia-smi -i "$gpu" \
        --query-gpu=memory.free,memory.total --format=csv,noheader,nounits)
    local gmu="${LOW_GPU_MEMORY_UTILIZATION:-0.8}"
    local total_gb free_gb left_gb
    total_gb=$(python3 -c "print(round($total_mib / 1024, 2))")
    free_gb=$(python3 -c "print(round($free_mib / 1024, 2))")
    left_gb=$(python3 -c "print(round(($free_mib - $gmu * $total_mib) / 1024, 2))")
    echo "      GPU $gpu: $free_gb GiB free of $total_gb GiB; vLLM takes $gmu of it"
    if [ "${LOW_MODEL:-google/gemma-4-E4B-it}" = google/gemma-4-E4B-it ]; then
        [ "$(fits deploy/models/gemma-4-E4B-it.json "$total_gb" --engine vllm \
            --ctx "${LOW_MAX_MODEL_LEN:-8192}" --parallel "${LOW_MAX_NUM_SEQS:-4}" \
            --gpu-memory-utilization "$gmu" \
            --quant "${LOW_QUANTIZATION:-fp8}")" = yes ] ||
            die "tier_low does not fit in $gmu of the GPU: raise LOW_GPU_MEMORY_UTILIZATION" \
                "or lower LOW_MAX_MODEL_LEN (see: stratum fit deploy/models/gemma-4-E4B-it.json" \
                "--engine vllm --gpu-gb $total_gb)"
        echo "ok    tier_low (vLLM, Gemma 4 E4B) fits in $gmu of the GPU"
    else
        echo "skip  tier_low fit: LOW_MODEL is not the shipped one; run stratum fit yourself"
    fi
    if [ "${HIGH_GGUF:-unsloth/gemma-4-26B-A4B-it-GGUF:UD-Q4_K_M}" != \
        unsloth/gemma-4-26B-A4B-it-GGUF:UD-Q4_K_M ] || [ "${HIGH_N_CPU_MOE:-99}" != 0 ]; then
        echo "skip  tier_high fit: stratum fit does not size HIGH_N_CPU_MOE (experts in CPU" \
            "memory) or a custom GGUF; $left_gb GiB are left for it"
        return
    fi
    [ "$(fits deploy/models/gemma-4-26B-A4B-it.json "$left_gb" --engine llama.cpp \
        --ctx "${HIGH_CTX:-8192}" --parallel "${HIGH_PARALLEL:-1}" --quant q4_k_m)" = yes ] ||
        die "tier_high does not fit in the $left_gb GiB vLLM leaves: set HIGH_N_CPU_MOE" \
            "(e.g. 20) to keep experts in CPU memory, lower HIGH_CTX, or use a bigger GPU"
    echo "ok    tier_high (llama.cpp, Gemma 4 26B A4B Q4_K_M) fits in $left_gb GiB"
}

wait_healthy() {
    local began=$SECONDS line waiting failed
    while true; do
        waiting=()
        failed=()
        while read -r service state health; do
            case "$state/$health" in
            running/healthy) ;;
            exited/* | dead/* | */unhealthy) failed+=("$service ($state${health:+, $health})") ;;
            *) waiting+=("$service") ;;
            esac
        done < <("${COMPOSE[@]}" ps --all --format '{{.Service}} {{.State}} {{.Health}}')
        if [ ${#failed[@]} -gt 0 ]; then
            echo "error: ${failed[*]}; its last log lines:" >&2
            for line in "${failed[@]}"; do
                "${COMPOSE[@]}" logs --tail 20 "${line%% *}" >&2
            done
            exit 1
        fi
        [ ${#waiting[@]} -eq 0 ] && break
        [ $((SECONDS - began)) -lt "$WAIT_S" ] ||
            die "not healthy after $WAIT_S s: ${waiting[*]} (docker compose logs SERVICE)"
        echo "      $((SECONDS - began)) s: waiting for ${waiting[*]}"
        sleep 15
    done
    echo "ok    every service is healthy after $((SECONDS - began)) s"
}

# health-check.sh's URLs from the ports .env publishes
health_check() {
    local host="${BIND_ADDRESS:-127.0.0.1}"
    [ "$host" != 0.0.0.0 ] || host=127.0.0.1
    STRATUM_URL="http://$host:${STRATUM_PORT:-9000}" \
        TIER_LOW_URL="http://$host:${LOW_PORT:-8000}" \
        TIER_HIGH_URL="http://$host:${HIGH_PORT:-8080}" \
        LITELLM_URL="http://$host:${LITELLM_PORT:-4000}" \
        OPENWEBUI_URL="http://$host:${OPENWEBUI_PORT:-3000}" \
        PROMETHEUS_URL="http://$host:${PROMETHEUS_PORT:-9090}" \
        GRAFANA_URL="http://$host:${GRAFANA_PORT:-3001}" \
        bash scripts/health-check.sh --compose
}

check_docker
check_env
check_vram
echo "== docker compose up -d"
"${COMPOSE[@]}" up -d --build
wait_healthy
health_check
