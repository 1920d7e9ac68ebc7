// pastelctl: create, inspect and verify pastel pool, log and index files (the one tool per
// on-media format, like leveldb's leveldbutil). See commands.h for what each subcommand does.
//
// Exit codes: 0 success, 1 usage error or a file that does not open, 2 verify found damage.
// Nothing is thrown out of main: command-line errors become "pastelctl: InvalidArgument: ...".

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "pastel/index.h"
#include "pastel/status.h"
#include "tools/pastelctl/commands.h"

namespace pastel::ctl {
namespace {

void AddPoolOption(CLI::App& cmd, std::string& pool_path) {
  cmd.add_option("--pool", pool_path, "Pool file; its log is <pool>.log")->capture_default_str();
}

// The index file of `index-*`: --index, else the pool's (<pool>.index).
void AddIndexOptions(CLI::App& cmd, std::string& pool_path, std::string& index_path) {
  cmd.add_option("--pool", pool_path, "Pool file; its index is <pool>.index")
      ->capture_default_str();
  cmd.add_option("--index", index_path, "Index file (instead of <pool>.index)");
}
std::string IndexPath(const std::string& pool_path, const std::string& index_path) {
  return index_path.empty() ? BTree::PathForPool(pool_path) : index_path;
}

int Main(int argc, char** argv) {
  CLI::App app{"pastelctl: create, inspect and verify pastel pool, log and index files",
               "pastelctl"};
  app.set_version_flag("--version", std::string("pastelctl ") + PASTEL_VERSION);
  app.set_help_all_flag("--help-all", "Print the help of every subcommand");
  app.require_subcommand(0, 1);

  CreateOptions create_opts;
  // Parsed into these, then copied into create_opts only when given (see CreateOptions).
  std::string buffer_size;
  std::string size;
  std::string log_stream_size;
  uint32_t buffers = 0;
  uint32_t partitions = 0;
  uint32_t log_streams = 0;
  CLI::App* create = app.add_subcommand(
      "create", "Create a pool file and its log (sizes take K, M, G suffixes: 64M)");
  AddPoolOption(*create, create_opts.pool_path);
  CLI::Option* o_buffer_size = create
                                   ->add_option("--buffer-size", buffer_size,
                                                "Bytes per buffer: a power of two in [512, 65536]")
                                   ->default_str(kDefaultBufferSize);
  CLI::Option* o_buffers = create->add_option("--buffers", buffers, "Number of buffers");
  CLI::Option* o_size = create
                            ->add_option("--size", size,
                                         "Pool file size; as many buffers as fit (default " +
                                             std::string(kDefaultPoolSize) + ")")
                            ->excludes(o_buffers);
  o_buffers->excludes(o_size);
  CLI::Option* o_partitions =
      create->add_option("--partitions", partitions, "Default partitions (threads), 1..256")
          ->default_str(std::to_string(kDefaultPartitions));
  CLI::Option* o_log_streams =
      create->add_option("--log-streams", log_streams, "Log streams (one per thread), 1..256")
          ->default_str(std::to_string(kDefaultLogStreams));
  CLI::Option* o_log_stream_size =
      create
          ->add_option("--log-stream-size", log_stream_size,
                       "Bytes per log stream: a multiple of 4096, at least 8192")
          ->default_str(kDefaultLogStreamSize);
  create->add_flag("--exist-ok", create_opts.exist_ok,
                   "If the pool exists, validate it (read-only) instead of failing");

  std::string info_pool = kDefaultPoolPath;
  CLI::App* info = app.add_subcommand(
      "info", "Print the pool header, the log header and each stream header (read-only)");
  AddPoolOption(*info, info_pool);

  std::string verify_pool = kDefaultPoolPath;
  CLI::App* verify =
      app.add_subcommand("verify",
                         "Recover read-only, report corruption and check buffer ownership "
                         "(exit 0 clean, 1 unusable file, 2 damage found)");
  AddPoolOption(*verify, verify_pool);

  DumpOptions dump_opts;
  uint32_t stream = 0;
  uint64_t limit = 0;
  CLI::App* dump =
      app.add_subcommand("dump", "Print every record of whole batches, then each scan's end");
  AddPoolOption(*dump, dump_opts.pool_path);
  CLI::Option* o_stream = dump->add_option("--stream", stream, "Only this stream");
  CLI::Option* o_limit = dump->add_option("--limit", limit, "Print at most N records");
  dump->add_flag("--values", dump_opts.values, "Hex/ASCII preview of the first 64 value bytes");

  std::string index_verify_pool = kDefaultPoolPath;
  std::string index_verify_path;
  CLI::App* index_verify = app.add_subcommand(
      "index-verify",
      "Open an index file read-only, verifying every page of its committed tree, and print its "
      "superblocks and counts (exit 0 clean, 1 unusable file, 2 damage found)");
  AddIndexOptions(*index_verify, index_verify_pool, index_verify_path);

  IndexDumpOptions index_dump_opts;
  std::string index_dump_pool = kDefaultPoolPath;
  uint64_t index_limit = 0;
  CLI::App* index_dump = app.add_subcommand(
      "index-dump", "Print every entry of an index file in key order (read-only)");
  AddIndexOptions(*index_dump, index_dump_pool, index_dump_opts.index_path);
  CLI::Option* o_index_limit =
      index_dump->add_option("--limit", index_limit, "Print at most N entries");
  index_dump->add_flag("--values", index_dump_opts.values,
                       "Hex/ASCII preview of the first 64 value bytes");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(e);  // --help, --help-all, --version
    }
    const int rc = Fail(Status::InvalidArgument(e.what()));
    std::cerr << "Run with --help for more information.\n";
    return rc;
  }

  if (create->parsed()) {
    if (o_buffer_size->count() > 0) {
      create_opts.buffer_size = buffer_size;
    }
    if (o_buffers->count() > 0) {
      create_opts.buffers = buffers;
    }
    if (o_size->count() > 0) {
      create_opts.size = size;
    }
    if (o_partitions->count() > 0) {
      create_opts.partitions = partitions;
    }
    if (o_log_streams->count() > 0) {
      create_opts.log_streams = log_streams;
    }
    if (o_log_stream_size->count() > 0) {
      create_opts.log_stream_size = log_stream_size;
    }
    return RunCreate(create_opts);
  }
  if (info->parsed()) {
    return RunInfo(info_pool);
  }
  if (verify->parsed()) {
    return RunVerify(verify_pool);
  }
  if (dump->parsed()) {
    if (o_stream->count() > 0) {
      dump_opts.stream = stream;
    }
    if (o_limit->count() > 0) {
      dump_opts.limit = limit;
    }
    return RunDump(dump_opts);
  }
  if (index_verify->parsed()) {
    return RunIndexVerify(IndexPath(index_verify_pool, index_verify_path));
  }
  if (index_dump->parsed()) {
    index_dump_opts.index_path = IndexPath(index_dump_pool, index_dump_opts.index_path);
    if (o_index_limit->count() > 0) {
      index_dump_opts.limit = index_limit;
    }
    return RunIndexDump(index_dump_opts);
  }
  std::cerr << app.help();
  return kExitError;
}

}  // namespace
}  // namespace pastel::ctl

int main(int argc, char** argv) {
  try {
    return pastel::ctl::Main(argc, argv);
  } catch (const std::exception& e) {
    return pastel::ctl::Fail(pastel::Status::IoError(std::string("unexpected error: ") + e.what()));
  } catch (...) {
    return pastel::ctl::Fail(pastel::Status::IoError("unexpected error"));
  }
}
