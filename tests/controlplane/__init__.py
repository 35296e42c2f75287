"""Tests room: a real Kubernetes control plane for the test suite (see launcher.py, main.go, build.sh)."""
