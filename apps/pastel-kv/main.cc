// pastel-kv: a Redis-protocol (RESP2) key-value server that keeps every SET value in place, in the
// packet buffers it was received into, and answers +OK only after the group commit that made it
// durable (docs/kv.md).

#include <CLI/CLI.hpp>
#include <memory>

#include "kv_protocol.h"
#include "pastel/net.h"
#include "pastel/server.h"

int main(int argc, char** argv) {
  pastel::BlockStopSignals();  // before any thread starts

  pastel::server::Config cfg;
  cfg.name = "pastel-kv";
  cfg.listen = "127.0.0.1:6380";
  cfg.pool = "/dev/shm/pastel-kv.pool";
  pastel::resp::Limits limits;
  uint64_t max_value = 1 << 20;
  CLI::App app{"pastel-kv: durable Redis-protocol key-value server (docs/kv.md)"};
  pastel::server::AddOptions(app, &cfg, "an error");
  app.add_option("--max-value", max_value,
                 "largest accepted bulk string (a protocol error and close beyond); K/M suffixes")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  limits.max_bulk = max_value;
  return pastel::server::Serve(cfg, [&](pastel::server::Server& s, uint32_t) {
    return std::make_unique<pastel::kv::KvProtocol>(s, limits);
  });
}
