# shellcheck shell=bash
# NVIDIA facts shared by pve-host.sh (on the Proxmox host) and container-install.sh (in the
# container). Sourced, not run.
#
# Which CUDA toolkit a host driver can run. moshi-server's kernels are PTX that the driver
# compiles at run time, so the toolkit that built them must not be newer than the driver
# (CUDA release notes, "CUDA Toolkit and Corresponding Driver Versions": 12.2 GA needs
# >= 535.54.03, 12.4 GA >= 550.54.14, 12.6 GA >= 560.28.03, 12.8 GA >= 570.26); otherwise it
# fails with CUDA_ERROR_UNSUPPORTED_PTX_VERSION. Which toolkits can build moshi-server 0.6.4:
# its Cargo.lock pins candle 0.9.1, which uses cudarc 0.16.2 with the feature
# cuda-version-from-build-system; cudarc's build.rs (coreylowman/cudarc, v0.16.2) accepts
# nvcc 11.4 to 12.8 and panics on any other version. candle-kernels 0.9.1 needs nothing newer
# than CUDA 11. So every toolkit in the table builds, and 12.8 is the newest one that does.

# The CUDA toolkit for a host driver (prints e.g. 12.4), or a message naming the driver
# needed and status 1.
cuda_for_driver() {
  local driver=$1 series
  if [[ ! $driver =~ ^([0-9]+)\.[0-9]+ ]]; then
    printf 'not an NVIDIA driver version: %s\n' "$driver" >&2
    return 1
  fi
  series=$((10#${BASH_REMATCH[1]}))
  if ((series >= 570)); then
    echo 12.8
  elif ((series >= 560)); then
    echo 12.6
  elif ((series >= 550)); then
    echo 12.4
  elif ((series >= 535)); then
    echo 12.2
  else
    printf '%s\n' "NVIDIA driver $driver is too old for moshi-server (CUDA 12.2 at least):" \
      "install NVIDIA driver 535 or newer on the Proxmox host (570 or newer for CUDA 12.8)" >&2
    return 1
  fi
}

# The lowest driver series that runs a CUDA toolkit of the table.
driver_for_cuda() {
  case "$1" in
    12.2) echo 535 ;; 12.4) echo 550 ;; 12.6) echo 560 ;; 12.8) echo 570 ;;
    *) return 1 ;;
  esac
}

# Where NVIDIA publishes a driver's Linux installer: desktop (GeForce/RTX) releases under
# XFree86/, data-center (Tesla) releases under tesla/. Some versions are only in one.
nvidia_driver_urls() {
  local file="NVIDIA-Linux-x86_64-$1.run"
  printf '%s\n' "https://us.download.nvidia.com/XFree86/Linux-x86_64/$1/$file" \
    "https://us.download.nvidia.com/tesla/$1/$file"
}

# Downloads the installer of driver VERSION to FILE, trying each published path.
download_nvidia_driver() {
  local version=$1 file=$2 url urls
  mapfile -t urls < <(nvidia_driver_urls "$version")
  for url in "${urls[@]}"; do
    if curl -fsSL -o "$file" "$url"; then
      return 0
    fi
    printf '==> NVIDIA driver %s is not at %s\n' "$version" "$url" >&2
  done
  rm -f "$file"
  printf 'NVIDIA driver %s could not be downloaded from %s or %s: the container needs the userspace of exactly the host driver version\n' \
    "$version" "${urls[0]}" "${urls[1]}" >&2
  return 1
}

# Installs the userspace of driver VERSION without its kernel module (the host's is used).
install_nvidia_userspace() {
  local version=$1 run
  # nvidia-installer looks for modprobe, rmmod, lsmod and depmod before anything else, even
  # with --no-kernel-module (NVIDIA/nvidia-installer, nvidia-installer.c: find_module_utils);
  # Debian's LXC template lacks them.
  apt-get install -y -qq --no-install-recommends kmod >/dev/null
  run=$(mktemp "${TMPDIR:-/tmp}/NVIDIA-Linux-x86_64-$version.XXXXXX.run")
  download_nvidia_driver "$version" "$run" || return 1
  sh "$run" --silent --no-kernel-module --no-questions --ui=none || { rm -f "$run"; return 1; }
  rm -f "$run"
}
