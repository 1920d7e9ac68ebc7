# Sourced by reads-cpu.sh, mget-cpu.sh and get-cpu.sh: StartServer BUILD_DIR PORT starts pastel-kv
# (--persist inplace, pool on /dev/shm) or, with BUILD_DIR "redis", redis-server 7.0 without
# persistence, on CPU 0, and sets PID; CpuTicks prints its utime + stime; StopServer ends it.
StartServer() {
  SERVER_DIR=/dev/shm/setreads-$2
  rm -rf $SERVER_DIR; mkdir -p $SERVER_DIR
  if [ "$1" = redis ]; then
    (cd $SERVER_DIR && exec taskset -c 0 redis-server --port $2 --save "" \
      --appendonly no > /dev/null 2>&1) &
  else
    taskset -c 0 $1/apps/pastel-kv/pastel-kv --pool $SERVER_DIR/kv.pool \
      --listen 127.0.0.1:$2 > /dev/null 2>&1 &
  fi
  PID=$!
  sleep 1.5
}
CpuTicks() {
  awk '{print $14+$15}' /proc/$PID/stat
}
StopServer() {
  kill $PID; wait $PID 2>/dev/null
  rm -rf $SERVER_DIR
}
