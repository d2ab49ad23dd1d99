#!/usr/bin/env bash
# Creates or updates the kyutai-dictate backend in an LXC container on a Proxmox VE host:
# checks the host's NVIDIA driver and device files, creates an unprivileged Debian 12
# container with nesting, passes the GPU through, then runs the container-side install
# (driver userspace, the CUDA toolkit that driver can run, moshi-server, proxy, systemd units)
# and a smoke test. Idempotent: a second run with the same options changes nothing.
#
# Run it on the Proxmox host, or from anywhere with --host root@pve (over SSH).
# See server/deploy/proxmox/RUNBOOK.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: pve-host.sh [options]
  --host USER@HOST   run on this Proxmox host over SSH (default: this machine is the host)
  --ctid N           container id (default 240)
  --hostname NAME    container hostname (default kyutai-dictate)
  --cores N          CPU cores (default 8)
  --memory MIB       memory in MiB (default 16384)
  --disk GIB         root disk in GiB (default 64)
  --storage NAME     storage for the root disk (default local-lvm)
  --template VOLID   Debian 12 template (default local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst)
  --bridge NAME      network bridge (default vmbr0)
  --ip CIDR|dhcp     container address, e.g. 192.168.1.50/24 (default dhcp)
  --gateway IP       gateway when --ip is static
  --model NAME       stt-1b-en_fr (default) or stt-2.6b-en
  --batch-size N     streams served at once (default 8)
  --port N           proxy port (default 8000)
  --print-token      print the proxy's bearer token (for kyutai-dictate deploy, which
                     keeps it in the keyring); otherwise only where to read it is printed
  --dry-run          print every command that would change something, change nothing
  -h, --help         this help
EOF
}

CTID=240
CT_HOSTNAME=kyutai-dictate
CORES=8
MEMORY=16384
DISK=64
STORAGE=local-lvm
TEMPLATE=local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst
BRIDGE=vmbr0
IP=dhcp
GATEWAY=
MODEL=stt-1b-en_fr
BATCH_SIZE=8
PORT=8000
DRY_RUN=0
PRINT_TOKEN=0
REMOTE=

while (($#)); do
  case "$1" in
    --host) REMOTE=$2; shift ;;
    --ctid) CTID=$2; shift ;;
    --hostname) CT_HOSTNAME=$2; shift ;;
    --cores) CORES=$2; shift ;;
    --memory) MEMORY=$2; shift ;;
    --disk) DISK=$2; shift ;;
    --storage) STORAGE=$2; shift ;;
    --template) TEMPLATE=$2; shift ;;
    --bridge) BRIDGE=$2; shift ;;
    --ip) IP=$2; shift ;;
    --gateway) GATEWAY=$2; shift ;;
    --model) MODEL=$2; shift ;;
    --batch-size) BATCH_SIZE=$2; shift ;;
    --port) PORT=$2; shift ;;
    --dry-run) DRY_RUN=1 ;;
    --print-token) PRINT_TOKEN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "pve-host.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

for number in "$CTID" "$CORES" "$MEMORY" "$DISK" "$BATCH_SIZE" "$PORT"; do
  [[ $number =~ ^[0-9]+$ ]] || { echo "pve-host.sh: '$number' is not a number" >&2; exit 2; }
done
case "$MODEL" in stt-1b-en_fr | stt-2.6b-en) ;; *)
  echo "pve-host.sh: --model must be stt-1b-en_fr or stt-2.6b-en" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
# shellcheck source=/dev/null # nvidia.sh, checked on its own
source "$HERE/nvidia.sh"

# Where Proxmox keeps container configs, the kernel lists device majors and the device files
# are (tests point these at stand-ins).
PVE_LXC_DIR=${PVE_LXC_DIR:-/etc/pve/lxc}
PROC_DEVICES=${PROC_DEVICES:-/proc/devices}
DEV_DIR=${PVE_DEV_DIR:-/dev}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'pve-host.sh: %s\n' "$*" >&2; exit 1; }

# Runs a command that changes the host, or prints it under --dry-run.
change() {
  if ((DRY_RUN)); then
    printf 'would run:'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

# --- over SSH: ship this folder and the server package, run there -----------------------
if [[ -n $REMOTE ]]; then
  command -v ssh >/dev/null || die "ssh is not installed"
  ssh -o BatchMode=yes -o ConnectTimeout=10 "$REMOTE" true 2>/dev/null \
    || die "cannot reach $REMOTE over SSH (key-based login as root is needed)"
  args=(--ctid "$CTID" --hostname "$CT_HOSTNAME" --cores "$CORES" --memory "$MEMORY"
    --disk "$DISK" --storage "$STORAGE" --template "$TEMPLATE" --bridge "$BRIDGE" --ip "$IP"
    --model "$MODEL" --batch-size "$BATCH_SIZE" --port "$PORT")
  [[ -n $GATEWAY ]] && args+=(--gateway "$GATEWAY")
  ((DRY_RUN)) && args+=(--dry-run)
  ((PRINT_TOKEN)) && args+=(--print-token)
  # The scripts go to a fresh temporary folder on the host, removed afterwards (so a dry run
  # leaves nothing behind either).
  remote_dir=$(ssh -o BatchMode=yes "$REMOTE" "mktemp -d ${KYUTAI_DICTATE_REMOTE_TMP:-/tmp}/kyutai-dictate-deploy.XXXXXX")
  log "copying the deployment files to $REMOTE:$remote_dir"
  tar -C "$REPO" -czf - server | ssh -o BatchMode=yes "$REMOTE" "tar -C $(printf '%q' "$remote_dir") -xzf -"
  status=0
  ssh -o BatchMode=yes "$REMOTE" \
    "bash $(printf '%q' "$remote_dir/server/deploy/proxmox/pve-host.sh") $(printf '%q ' "${args[@]}")" || status=$?
  ssh -o BatchMode=yes "$REMOTE" "rm -rf $(printf '%q' "$remote_dir")"
  exit "$status"
fi

# --- prerequisites ------------------------------------------------------------------------
command -v pct >/dev/null || die "pct not found: run this on a Proxmox VE host (or use --host)"
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: install the NVIDIA driver on the host first"
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1 | tr -d ' ')
[[ $DRIVER =~ ^[0-9]+(\.[0-9]+)+$ ]] || die "could not read the NVIDIA driver version (got '$DRIVER')"
# Before anything changes: a toolkit newer than the driver builds for an hour, then fails.
CUDA_VERSION=$(cuda_for_driver "$DRIVER") || exit 1
log "host NVIDIA driver $DRIVER: the container gets CUDA $CUDA_VERSION"

# CUDA needs /dev/nvidia-uvm and /dev/nvidia-uvm-tools. The nvidia-uvm module makes no device
# files of its own, and the container's mount entries are optional, so without them the
# container starts and CUDA fails inside it: make them (nvidia-modprobe loads the module and
# creates both) or stop.
major_of() { awk -v name="$1" '$2 == name { print $1 }' "$PROC_DEVICES"; }
uvm_ready() { [[ -n $(major_of nvidia-uvm) && -e $DEV_DIR/nvidia-uvm && -e $DEV_DIR/nvidia-uvm-tools ]]; }
if ! uvm_ready; then
  command -v nvidia-modprobe >/dev/null || die "the host has no $DEV_DIR/nvidia-uvm and" \
    "$DEV_DIR/nvidia-uvm-tools (CUDA needs them) and nvidia-modprobe is not installed:" \
    "install it (apt install nvidia-modprobe) and run this again, or create them yourself" \
    "with nvidia-modprobe -u -c=0"
  log "loading nvidia-uvm and creating its device files"
  if ((DRY_RUN)); then
    change nvidia-modprobe -u -c=0
  else
    { nvidia-modprobe -u -c=0 && uvm_ready; } || die "nvidia-modprobe could not load nvidia-uvm" \
      "or create $DEV_DIR/nvidia-uvm: check 'dmesg | grep -i nvidia' and that the host" \
      "driver's kernel modules match the running kernel"
  fi
fi
for node in nvidia0 nvidiactl; do
  [[ -e $DEV_DIR/$node ]] || die "the host has no $DEV_DIR/$node: run nvidia-smi once on the host (it creates it)"
done

NVIDIA_MAJOR=$(major_of nvidia-frontend)
[[ -n $NVIDIA_MAJOR ]] || NVIDIA_MAJOR=195
UVM_MAJOR=$(major_of nvidia-uvm)
[[ -n $UVM_MAJOR ]] || UVM_MAJOR="<nvidia-uvm major>"  # only in a dry run: not loaded yet
log "device majors: nvidia $NVIDIA_MAJOR, nvidia-uvm $UVM_MAJOR"

# --- the container ------------------------------------------------------------------------
if pct status "$CTID" >/dev/null 2>&1; then
  log "container $CTID exists"
else
  log "creating container $CTID"
  net="name=eth0,bridge=$BRIDGE,ip=$IP"
  [[ -n $GATEWAY ]] && net+=",gw=$GATEWAY"
  change pct create "$CTID" "$TEMPLATE" --hostname "$CT_HOSTNAME" --cores "$CORES" \
    --memory "$MEMORY" --swap 0 --rootfs "$STORAGE:$DISK" --net0 "$net" \
    --unprivileged 1 --features nesting=1 --onboot 1
fi

# GPU passthrough: allow the devices in the cgroup and bind-mount the nodes. Lines are added
# only when missing, so the config is left alone on a second run.
conf="$PVE_LXC_DIR/$CTID.conf"
gpu_lines=(
  "lxc.cgroup2.devices.allow: c $NVIDIA_MAJOR:* rwm"
  "lxc.cgroup2.devices.allow: c $UVM_MAJOR:* rwm"
)
for node in /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools; do
  gpu_lines+=("lxc.mount.entry: $node ${node#/} none bind,optional,create=file")
done
config_changed=0
for line in "${gpu_lines[@]}"; do
  if ! { [[ -f $conf ]] && grep -qxF -- "$line" "$conf"; }; then
    config_changed=1
    if ((DRY_RUN)); then
      printf 'would append to %s: %s\n' "$conf" "$line"
    else
      printf '%s\n' "$line" >>"$conf"
    fi
  fi
done
status=$(pct status "$CTID" 2>/dev/null || true)
if [[ $status == *running* ]]; then
  if ((config_changed)); then
    log "restarting container $CTID for the new device configuration"
    change pct reboot "$CTID"
  fi
else
  log "starting container $CTID"
  change pct start "$CTID"
fi

# --- install inside the container (skipped when nothing changed) ---------------------------
bundle=$(mktemp -d)
trap 'rm -rf "$bundle"' EXIT
tar -C "$REPO" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  --exclude=__pycache__ -cf "$bundle/server.tar" server
options="driver=$DRIVER cuda=$CUDA_VERSION model=$MODEL batch=$BATCH_SIZE port=$PORT"
stamp=$( { cat "$bundle/server.tar"; echo "$options"; } | sha256sum | cut -d' ' -f1)
installed=$(pct exec "$CTID" -- cat /opt/kyutai-dictate/.installed 2>/dev/null || true)
if [[ $installed == "$stamp" ]]; then
  log "container $CTID is up to date"
else
  log "installing into container $CTID (this builds moshi-server: 15-30 minutes the first time)"
  log "waiting for the container's network"
  # shellcheck disable=SC2016 # expanded inside the container
  change pct exec "$CTID" -- sh -c \
    'for _ in $(seq 60); do getent hosts deb.debian.org >/dev/null && exit 0; sleep 2; done; exit 1'
  change pct push "$CTID" "$bundle/server.tar" /root/kyutai-dictate-server.tar
  change pct exec "$CTID" -- bash -c \
    "mkdir -p /opt/kyutai-dictate/src && tar -C /opt/kyutai-dictate/src -xf /root/kyutai-dictate-server.tar"
  change pct exec "$CTID" -- bash /opt/kyutai-dictate/src/server/deploy/proxmox/container-install.sh \
    --driver-version "$DRIVER" --cuda-version "$CUDA_VERSION" --model "$MODEL" \
    --batch-size "$BATCH_SIZE" --port "$PORT" --stamp "$stamp"
fi

# --- endpoint, then smoke test --------------------------------------------------------------
if ((DRY_RUN)); then
  echo "would run: pct exec $CTID -- /opt/kyutai-dictate/bin/smoke-test"
  exit 0
fi
address=$(pct exec "$CTID" -- hostname -I 2>/dev/null | awk '{print $1}')
printf 'endpoint: ws://%s:%s/v1/stream\n' "${address:-<container address>}" "$PORT"
# The token goes in full only to kyutai-dictate deploy, which keeps it in the keyring (and
# shows it only if that fails); a terminal gets where to read it.
if ((PRINT_TOKEN)); then
  printf 'token: %s\n' "$(pct exec "$CTID" -- cat /etc/kyutai-dictate/token)"
else
  printf 'token: on the Proxmox host, pct exec %s -- cat /etc/kyutai-dictate/token\n' "$CTID"
fi
log "smoke test: streaming speech through the endpoint (the first start downloads the model)"
pct exec "$CTID" -- /opt/kyutai-dictate/bin/smoke-test
