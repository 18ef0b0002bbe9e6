#!/usr/bin/env bash
# Check every service of the running stack: one line per service, exit code 0 when all are
# healthy, 1 otherwise.
#
#   bash scripts/health-check.sh                the local stack (stratum up --with ...): router,
#                                               both engines, LiteLLM, OpenWebUI, Prometheus
#   bash scripts/health-check.sh --compose      the GPU compose stack: the same and Grafana
#   bash scripts/health-check.sh router litellm only these
#
# URLs come from the environment when set: STRATUM_URL, TIER_LOW_URL, TIER_HIGH_URL,
# LITELLM_URL, OPENWEBUI_URL, PROMETHEUS_URL, GRAFANA_URL (e.g. STRATUM_URL=http://gpu-box:9000).
set -uo pipefail

services=(router tier_low tier_high litellm openwebui prometheus)
low_port=8081 high_port=8082 # stratum up's engines
case "${1:-}" in
--compose)
    services+=(grafana)
    low_port=8000 high_port=8080 # vLLM and llama.cpp in deploy/compose.yaml
    ;;
-h | --help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*) services=("$@") ;;
esac

STRATUM_URL="${STRATUM_URL:-http://127.0.0.1:9000}"
TIER_LOW_URL="${TIER_LOW_URL:-http://127.0.0.1:$low_port}"
TIER_HIGH_URL="${TIER_HIGH_URL:-http://127.0.0.1:$high_port}"
LITELLM_URL="${LITELLM_URL:-http://127.0.0.1:4000}"
OPENWEBUI_URL="${OPENWEBUI_URL:-http://127.0.0.1:3000}"
PROMETHEUS_URL="${PROMETHEUS_URL:-http://127.0.0.1:9090}"
GRAFANA_URL="${GRAFANA_URL:-http://127.0.0.1:3001}"

command -v curl >/dev/null 2>&1 || {
    echo "error: curl is needed (apt-get install curl)" >&2
    exit 2
}

# probe NAME URL: print one line; return 0 when the URL answers 2xx
probe() {
    local name="$1" url="$2" status error
    read -r status error < <(curl -s -m 5 -o /dev/null -w '%{http_code} %{errormsg}\n' "$url")
    if [[ "$status" == 2?? ]]; then
        printf 'ok    %-11s %s\n' "$name" "$url"
        return 0
    fi
    printf 'FAIL  %-11s %s  (%s)\n' "$name" "$url" "${error:-HTTP $status}"
    return 1
}

# The router's /health also says whether each tier is ready: "degraded" counts as a failure.
router() {
    local url="$STRATUM_URL/health" body state
    body="$(curl -sS -m 5 "$url" 2>/dev/null)"
    state="$(grep -o '"status":"[a-z]*"' <<<"$body" | head -n 1 | cut -d'"' -f4)"
    case "$state" in
    ok) printf 'ok    %-11s %s  (both tiers ready)\n' router "$url" ;;
    degraded | down)
        printf 'FAIL  %-11s %s  (%s: %s)\n' router "$url" "$state" \
            "$(grep -o '"tier_[a-z]*":{"ready":false' <<<"$body" | cut -d'"' -f2 |
                paste -sd, -) not ready"
        return 1
        ;;
    *) probe router "$url" ;;
    esac
}

failed=0
for service in "${services[@]}"; do
    case "$service" in
    router | stratum) router ;;
    litellm) probe litellm "$LITELLM_URL/health/liveliness" ;;
    openwebui) probe openwebui "$OPENWEBUI_URL/health" ;;
    prometheus) probe prometheus "$PROMETHEUS_URL/-/ready" ;;
    grafana) probe grafana "$GRAFANA_URL/api/health" ;;
    tier_low) probe tier_low "$TIER_LOW_URL/health" ;;
    tier_high) probe tier_high "$TIER_HIGH_URL/health" ;;
    *)
        echo "error: unknown service '$service' (router tier_low tier_high litellm openwebui" \
            "prometheus grafana)" >&2
        exit 2
        ;;
    esac || failed=1
done
exit "$failed"
