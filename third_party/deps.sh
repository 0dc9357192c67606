#!/usr/bin/env bash
# Installs what the build and the tests need on a Debian or Ubuntu machine
# that has Go: a C/C++ toolchain for cgo (required), and Python 3 (the REPL),
# Node.js with npm (independent readers in tests), Chromium (the trajectory
# page test) and SLURM with MUNGE (the test that runs the evaluation's job
# scripts on a one-node cluster of its own), whose tests skip cleanly when
# they are absent. Installing SLURM starts no daemon here: the test starts
# and stops its own.
set -uo pipefail

missing_required=()
missing_optional=()
command -v gcc >/dev/null || missing_required+=(gcc)
command -v g++ >/dev/null || missing_required+=(g++)
command -v make >/dev/null || missing_required+=(make)
# CMake builds the CPU kernels (make kernels).
command -v cmake >/dev/null || missing_required+=(cmake)
command -v git >/dev/null || missing_optional+=(git)
command -v python3 >/dev/null || missing_required+=(python3)
command -v npm >/dev/null || missing_optional+=(nodejs npm)
command -v curl >/dev/null || missing_optional+=(curl) # a client in the server's tests
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || missing_optional+=(chromium)
# slurm-wlm brings slurmctld, slurmd, the client commands (sbatch, sinfo,
# sacct, ...) and munge; naming them all keeps a partial install honest.
{ command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; } >/dev/null ||
	missing_optional+=(slurm-wlm slurmctld slurmd munge)

# --required: only what building and running need (make run), not the
# tools some tests use.
if [ "${1-}" = --required ]; then
	missing_optional=()
fi

if [ ${#missing_required[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then sudo="sudo"; fi
fi

if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
	echo "installing: ${missing_required[*]} ${missing_optional[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq || true
	if [ ${#missing_required[@]} -gt 0 ]; then
		$sudo apt-get install -y -qq --no-install-recommends "${missing_required[@]}" || {
			echo "deps: could not install ${missing_required[*]}" >&2; exit 1; }
	fi
	for pkg in "${missing_optional[@]}"; do
		$sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
			echo "deps: optional package $pkg not installed; its tests will skip" >&2
	done
	exit 0
fi

if [ ${#missing_required[@]} -gt 0 ]; then
	echo "deps: missing ${missing_required[*]} and no apt-get to install them; install them and rerun" >&2
	exit 1
fi
echo "deps: optional ${missing_optional[*]} missing; their tests will skip" >&2
