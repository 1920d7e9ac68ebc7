#!/bin/bash
# Experiment (2026-12-07): is a batch's fdatasync cheaper on a pool file whose blocks are written
# (zeroed) than on one whose blocks are allocated but unwritten (posix_fallocate, as PmFile::Create
# leaves them, so every first write of a block converts its extent: metadata in each sync)?
# The pool is created by pastel-kv and stopped; "zeroed" then overwrites the pool's buffers area
# (from 1 MiB on, all zeros at creation) with zeros, then the page cache is dropped. Durable SET of
# 1 KiB values, 50 connections, -P 1, 30 k requests, server on CPU 0, client on CPU 1.
# Result (p1.txt, ext4 on virtio, 3 interleaved rounds): no. Zeroed is slower, 18.2-19.3 k/s
# against 25.0-27.3 k/s: a first write fault on a page whose block is written reads the block in
# (a read per page), where an unwritten extent gives zeros without I/O. PmFile::Create stays as is.
# Usage: run.sh BIN [ROUNDS] [DIR]
set -u
BIN=$1 ROUNDS=${2:-3} DIR=${3:-/var/tmp}
PORT=17810
POOL=$DIR/zerofill.pool
start() {
  taskset -c 0 "$BIN" --listen 127.0.0.1:$PORT --pool "$POOL" --pool-size 256M > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do redis-cli -p $PORT ping > /dev/null 2>&1 && break; sleep 0.1; done
}
for round in $(seq 1 "$ROUNDS"); do
  for label in fallocated zeroed; do
    rm -f "$POOL"*
    start; kill "$pid"; wait "$pid" 2>/dev/null
    if [ "$label" = zeroed ]; then
      dd if=/dev/zero of="$POOL" bs=1M seek=1 count=255 conv=notrunc status=none
      sync
    fi
    sync; echo 3 > /proc/sys/vm/drop_caches
    w0=$(awk '{print $7}' /sys/block/vda/stat)
    start
    rps=$(taskset -c 1 redis-benchmark -p $PORT -c 50 -P 1 -t set -d 1024 -r 1000000 -n 30000 \
      -q 2>/dev/null | tr '\r' '\n' | grep -o 'SET: [0-9.]* requests' | awk '{print $2}')
    w1=$(awk '{print $7}' /sys/block/vda/stat)
    echo "$label round=$round rps=$rps written_MB=$(( (w1 - w0) * 512 / 1000000 ))"
    kill "$pid"; wait "$pid" 2>/dev/null
  done
done
rm -f "$POOL"*
