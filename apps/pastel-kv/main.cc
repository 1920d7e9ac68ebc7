// pastel-kv: a Redis-protocol (RESP2) key-value server that keeps every SET value in place, in the
// packet buffers it was received into, and answers +OK only after the group commit that made it
// durable (docs/kv.md).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

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
  std::string requirepass, requirepass_file;
  auto* pass_opt = app.add_option("--requirepass", requirepass,
                                  "clients must AUTH with this password (visible in ps: prefer "
                                  "--requirepass-file)");
  app.add_option("--requirepass-file", requirepass_file,
                 "read the password from this file (its first line)")
      ->excludes(pass_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!requirepass_file.empty()) {
    std::ifstream in(requirepass_file);
    if (!in || !std::getline(in, requirepass)) {
      std::fprintf(stderr, "pastel-kv: cannot read the password from %s\n",
                   requirepass_file.c_str());
      return 2;
    }
    if (!requirepass.empty() && requirepass.back() == '\r') {
      requirepass.pop_back();
    }
  }
  limits.max_bulk = max_value;
  pastel::kv::KvConfig kv_config;  // shared by every loop's protocol (CONFIG SET, AUTH)
  kv_config.SetPassword(requirepass);
  pastel::kv::KvClients clients(cfg.threads);  // CLIENT LIST and KILL, INFO's counters
  return pastel::server::Serve(cfg, [&](pastel::server::Server& s, uint32_t loop) {
    return std::make_unique<pastel::kv::KvProtocol>(s, limits, &kv_config, &clients, loop);
  });
}
