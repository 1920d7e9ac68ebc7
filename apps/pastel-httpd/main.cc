// pastel-httpd: an HTTP ingest and key-value server that persists every POST/PUT body in place,
// in the packet buffers it was received into, and answers only after the group commit that made
// it durable (docs/http.md).

#include <CLI/CLI.hpp>
#include <memory>

#include "http_protocol.h"
#include "pastel/net.h"
#include "pastel/server.h"

int main(int argc, char** argv) {
  pastel::BlockStopSignals();  // before any thread starts

  pastel::server::Config cfg;
  cfg.name = "pastel-httpd";
  cfg.listen = "127.0.0.1:8080";
  cfg.pool = "/dev/shm/pastel-httpd.pool";
  pastel::http::Limits limits = pastel::httpd::DefaultLimits();
  CLI::App app{"pastel-httpd: durable HTTP ingest and key-value server (docs/http.md)"};
  pastel::server::AddOptions(app, &cfg, "408");
  app.add_option("--max-body", limits.max_body, "largest accepted body (413 beyond); K/M suffixes")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return pastel::server::Serve(cfg, [&](pastel::server::Server& s, uint32_t) {
    return std::make_unique<pastel::httpd::HttpProtocol>(s, limits);
  });
}
