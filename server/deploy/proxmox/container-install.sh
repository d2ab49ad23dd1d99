#!/usr/bin/env bash
# Installs the kyutai-dictate backend inside a Debian 12 LXC container that has the host's
# NVIDIA devices: NVIDIA userspace matching the host driver, CUDA toolkit, Rust, moshi-server,
# the proxy in a virtual environment, configuration, a token, systemd units, a smoke test.
# Idempotent: each step checks what is there first. Run by pve-host.sh (pct exec, no TTY).
set -euo pipefail

MOSHI_SERVER_VERSION=0.6.4
CUDA_PACKAGE=cuda-toolkit-12-8
PREFIX=/opt/kyutai-dictate
ETC=/etc/kyutai-dictate
STATE=/var/lib/kyutai-dictate

DRIVER=
MODEL=stt-1b-en_fr
BATCH_SIZE=8
PORT=8000
STAMP=
while (($#)); do
  case "$1" in
    --driver-version) DRIVER=$2; shift ;;
    --model) MODEL=$2; shift ;;
    --batch-size) BATCH_SIZE=$2; shift ;;
    --port) PORT=$2; shift ;;
    --stamp) STAMP=$2; shift ;;
    *) echo "container-install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $DRIVER =~ ^[0-9]+(\.[0-9]+)+$ ]] || { echo "container-install.sh: --driver-version X.Y.Z is required" >&2; exit 2; }

SRC=$PREFIX/src
export DEBIAN_FRONTEND=noninteractive
log() { printf '==> %s\n' "$*" >&2; }

# Writes stdin to a file only if the content differs; prints "changed" when it wrote.
install_file() {
  local target=$1 mode=$2 tmp
  tmp=$(mktemp)
  cat >"$tmp"
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
  run=/tmp/NVIDIA-Linux-x86_64-$DRIVER.run
  curl -fsSL -o "$run" "https://us.download.nvidia.com/XFree86/Linux-x86_64/$DRIVER/NVIDIA-Linux-x86_64-$DRIVER.run"
  sh "$run" --silent --no-kernel-module --no-questions --ui=none
  rm -f "$run"
fi
nvidia-smi >/dev/null || { echo "container-install.sh: nvidia-smi fails inside the container: check the GPU passthrough lines in /etc/pve/lxc/<ctid>.conf" >&2; exit 1; }

log "CUDA toolkit ($CUDA_PACKAGE; Debian 12 keeps glibc compatible with its headers)"
if ! dpkg-query -W -f='${Status}' "$CUDA_PACKAGE" 2>/dev/null | grep -q "install ok installed"; then
  curl -fsSL -o /tmp/cuda-keyring.deb \
    https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb
  dpkg -i /tmp/cuda-keyring.deb >/dev/null
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$CUDA_PACKAGE" >/dev/null
fi
export PATH=/usr/local/cuda/bin:$PATH

log "service account and folders"
id -u kyutai >/dev/null 2>&1 || useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin kyutai
install -d -o kyutai -g kyutai "$STATE" "$STATE/huggingface" /var/log/kyutai-dictate
install -d "$PREFIX/bin" "$ETC"

log "moshi-server $MOSHI_SERVER_VERSION"
LIBDIR=$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
if [[ ! -x $PREFIX/bin/moshi-server || $(cat "$PREFIX/.moshi-server-version" 2>/dev/null) != "$MOSHI_SERVER_VERSION" ]]; then
  if ! command -v "$HOME/.cargo/bin/cargo" >/dev/null; then
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
  CUDA_COMPUTE_CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d '.')
  export CUDA_COMPUTE_CAP
  LD_LIBRARY_PATH=$LIBDIR "$HOME/.cargo/bin/cargo" install --locked --features cuda \
    --root "$PREFIX" "moshi-server@$MOSHI_SERVER_VERSION"
  echo "$MOSHI_SERVER_VERSION" >"$PREFIX/.moshi-server-version"
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
  --log-dir /var/log/kyutai-dictate | install_file "$ETC/stt.toml" 640)
changed+=$(printf 'LD_LIBRARY_PATH=%s\n' "$LIBDIR" | install_file "$ETC/moshi-server.env" 644)
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
