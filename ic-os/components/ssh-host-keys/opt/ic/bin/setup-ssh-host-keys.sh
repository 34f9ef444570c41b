#!/bin/sh
# Generate the ssh host keys that do not exist yet (ssh-keygen -A keeps existing ones).
# Usage: setup-ssh-host-keys.sh   (run by setup-ssh-host-keys.service)
set -eu
ssh-keygen -A
echo "ssh host keys present:" /etc/ssh/ssh_host_*_key.pub
