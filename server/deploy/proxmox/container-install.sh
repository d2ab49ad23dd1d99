#!/usr/bin/env bash
# Installs the kyutai-dictate backend inside a Debian 12 LXC container that has the host's
# NVIDIA devices: NVIDIA userspace matching the host driver, the CUDA toolkit that driver can
# run, Rust, moshi-server, the proxy in a virtual environment, configuration, a token, systemd
# units, a smoke test. Idempotent: each step checks what is there first. Run by pve-host.sh
# (pct exec, no TTY).
set -euo pipefail
# shellcheck source=/dev/null # nvidia.sh, checked on its own
source "$(dirname "${BASH_SOURCE[0]}")/nvidia.sh"

MOSHI_SERVER_VERSION=0.6.4
PREFIX=/opt/kyutai-dictate
ETC=/etc/kyutai-dictate
STATE=/var/lib/kyutai-dictate

DRIVER=
CUDA_VERSION=
MODEL=stt-1b-en_fr
BATCH_SIZE=8
PORT=8000
STAMP=
while (($#)); do
  case "$1" in
    --driver-version) DRIVER=$2; shift ;;
    --cuda-version) CUDA_VERSION=$2; shift ;;
    --model) MODEL=$2; shift ;;
    --batch-size) BATCH_SIZE=$2; shift ;;
    --port) PORT=$2; shift ;;
    --stamp) STAMP=$2; shift ;;
    *) echo "container-install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $DRIVER =~ ^[0-9]+(\.[0-9]+)+$ ]] || { echo "container-install.sh: --driver-version X.Y.Z is required" >&2; exit 2; }
[[ -n $CUDA_VERSION ]] || { echo "container-install.sh: --cuda-version is required" >&2; exit 2; }
# The host checked this; checked again here before anything is installed.
cuda_for_driver "$DRIVER" >/dev/null || exit 2
needed=$(driver_for_cuda "$CUDA_VERSION") \
  || { echo "container-install.sh: CUDA $CUDA_VERSION is not one moshi-server can be built with here (12.2, 12.4, 12.6, 12.8)" >&2; exit 2; }
((10#${DRIVER%%.*} >= needed)) \
  || { echo "container-install.sh: CUDA $CUDA_VERSION needs NVIDIA driver $needed or newer; the host has $DRIVER" >&2; exit 2; }
CUDA_PACKAGE=cuda-toolkit-${CUDA_VERSION/./-}
CUDA_HOME=/usr/local/cuda-$CUDA_VERSION

SRC=$PREFIX/src
export DEBIAN_FRONTEND=noninteractive
log() { printf '==> %s\n' "$*" >&2; }

# Writes stdin to a file only if the content differs; prints "changed" when it wrote.
install_file() {
  local target=$1 mode=$2 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [[ ! -s $tmp ]]; then  # what should have written it failed: keep the file there is
    rm -f "$tmp"
    echo "container-install.sh: nothing to write to $target; keeping it as it is" >&2
    return 1
  fi
  if [[ -f $target ]] && cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
  else
    install -D -m "$mode" "$tmp" "$target"
    rm -f "$tmp"
    echo changed
  fi
}

log "system packages"
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg build-essential \
  pkg-config libssl-dev cmake git python3 python3-venv python3-dev espeak-ng sox >/dev/null

log "NVIDIA userspace $DRIVER (no kernel module: the host's is used)"
if [[ $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1) != "$DRIVER" ]]; then
  install_nvidia_userspace "$DRIVER"
fi
nvidia-smi >/dev/null || { echo "container-install.sh: nvidia-smi fails inside the container: check the GPU passthrough lines in /etc/pve/lxc/<ctid>.conf" >&2; exit 1; }

log "CUDA toolkit $CUDA_VERSION for driver $DRIVER ($CUDA_PACKAGE; Debian 12 keeps glibc compatible with its headers)"
if ! dpkg-query -W -f='${Status}' "$CUDA_PACKAGE" 2>/dev/null | grep -q "install ok installed"; then
  curl -fsSL -o /tmp/cuda-keyring.deb \
    https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb
  dpkg -i /tmp/cuda-keyring.deb >/dev/null
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$CUDA_PACKAGE" >/dev/null
fi
# This toolkit, not whichever /usr/local/cuda points at (an earlier install may have left a
# newer one): nvcc from PATH builds the kernels and tells cudarc the version, CUDA_ROOT is
# where cudarc and bindgen_cuda look for headers and libraries.
export PATH=$CUDA_HOME/bin:$PATH CUDA_ROOT=$CUDA_HOME CUDA_PATH=$CUDA_HOME

log "service account and folders"
id -u kyutai >/dev/null 2>&1 || useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin kyutai
install -d -o kyutai -g kyutai "$STATE" "$STATE/huggingface" /var/log/kyutai-dictate
install -d "$PREFIX/bin" "$ETC"

log "moshi-server $MOSHI_SERVER_VERSION (CUDA $CUDA_VERSION)"
LIBDIR=$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
# Rebuilt when the toolkit changes too: kernels from a newer toolkit fail on an older driver.
BUILT="$MOSHI_SERVER_VERSION cuda-$CUDA_VERSION"
if [[ ! -x $PREFIX/bin/moshi-server || $(cat "$PREFIX/.moshi-server-version" 2>/dev/null) != "$BUILT" ]]; then
  if ! command -v "$HOME/.cargo/bin/cargo" >/dev/null; then
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
  CUDA_COMPUTE_CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d '.')
  export CUDA_COMPUTE_CAP
  # --force: the same version built with another toolkit counts as installed for cargo.
  LD_LIBRARY_PATH=$LIBDIR "$HOME/.cargo/bin/cargo" install --locked --force --features cuda \
    --root "$PREFIX" "moshi-server@$MOSHI_SERVER_VERSION"
  echo "$BUILT" >"$PREFIX/.moshi-server-version"
fi

log "proxy"
[[ -x $PREFIX/venv/bin/python ]] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --disable-pip-version-check \
  "websockets>=15,<18" "msgpack>=1.0" "numpy>=1.26" "uvloop>=0.19"

log "configuration"
[[ -s $ETC/token ]] || (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$ETC/token")
[[ -s $ETC/backend-key ]] || (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$ETC/backend-key")
chown root:kyutai "$ETC/token" "$ETC/backend-key"
chmod 640 "$ETC/token" "$ETC/backend-key"
changed=
changed+=$(PYTHONPATH=$SRC "$PREFIX/venv/bin/python" -m server.deploy.stt_config --model "$MODEL" \
  --batch-size "$BATCH_SIZE" --api-key "$(cat "$ETC/backend-key")" \
  --log-dir /var/log/kyutai-dictate --compute-capability "${CUDA_COMPUTE_CAP:-$(nvidia-smi \
  --query-gpu=compute_cap --format=csv,noheader | head -n1)}" | install_file "$ETC/stt.toml" 640)
changed+=$(printf 'LD_LIBRARY_PATH=%s\n' "$CUDA_HOME/lib64:$LIBDIR" | install_file "$ETC/moshi-server.env" 644)
changed+=$(cat <<EOF | install_file "$ETC/proxy.env" 640
KYUTAI_DICTATE_HOST=0.0.0.0
KYUTAI_DICTATE_PORT=$PORT
KYUTAI_DICTATE_MODEL=$MODEL
KYUTAI_DICTATE_BACKEND=ws://127.0.0.1:8998/api/asr-streaming
KYUTAI_DICTATE_BACKEND_KEY=$(cat "$ETC/backend-key")
KYUTAI_DICTATE_TOKEN_FILE=$ETC/token
EOF
)
chown root:kyutai "$ETC/stt.toml" "$ETC/proxy.env"
for unit in kyutai-moshi-server.service kyutai-dictate-proxy.service kyutai-dictate-recover.service; do
  changed+=$(install_file "/etc/systemd/system/$unit" 644 <"$SRC/server/deploy/systemd/$unit")
done

log "smoke test command"
install_file "$PREFIX/bin/smoke-test" 755 >/dev/null <<EOF
#!/usr/bin/env bash
# Streams a spoken sentence through the proxy and checks that words come back.
set -euo pipefail
# The first start downloads and warms up the model before the proxy listens: wait for it.
PYTHONPATH=$SRC exec $PREFIX/venv/bin/python -m server.deploy.smoke_test --wait 1800 \
  --url ws://127.0.0.1:$PORT/v1/stream --token-file $ETC/token
EOF

log "services"
systemctl daemon-reload
systemctl enable --quiet kyutai-moshi-server.service kyutai-dictate-proxy.service
if [[ -n $changed ]] || ! systemctl is-active --quiet kyutai-dictate-proxy.service; then
  systemctl restart kyutai-moshi-server.service kyutai-dictate-proxy.service
fi
[[ -z $STAMP ]] || printf '%s\n' "$STAMP" >"$PREFIX/.installed"
log "installed"
