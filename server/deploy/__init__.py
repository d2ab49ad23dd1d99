"""Deploying the backend: moshi-server configuration, the Modal app, Proxmox scripts."""
