#pragma once
// The subcommands of pastelctl. Each prints its report on stdout and every failure as
// "pastelctl: <Status::ToString()>" on stderr, and returns the process exit code. None throws
// (beyond std::bad_alloc) and none trusts the bytes of the files it opens: a damaged file gives a
// Status, never a crash. Single-threaded.

#include <cstdint>
#include <optional>
#include <string>

#include "pastel/status.h"

namespace pastel::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;    // usage error, or a file that does not open
inline constexpr int kExitCorrupt = 2;  // verify found corruption or broken ownership

inline constexpr char kDefaultPoolPath[] = "/dev/shm/pastel.pool";
inline constexpr char kDefaultBufferSize[] = "2048";
inline constexpr char kDefaultPoolSize[] = "64M";
inline constexpr uint32_t kDefaultPartitions = 1;
inline constexpr uint32_t kDefaultLogStreams = 1;
inline constexpr char kDefaultLogStreamSize[] = "4M";

// Options of `create`. An unset optional was not given on the command line: the default applies,
// and with exist_ok it is not compared with the existing files.
struct CreateOptions {
  std::string pool_path = kDefaultPoolPath;
  std::optional<std::string> buffer_size;
  std::optional<uint32_t> buffers;
  std::optional<std::string> size;
  std::optional<uint32_t> partitions;
  std::optional<uint32_t> log_streams;
  std::optional<std::string> log_stream_size;
  bool exist_ok = false;
};

struct DumpOptions {
  std::string pool_path = kDefaultPoolPath;
  std::optional<uint32_t> stream;  // all streams when unset
  std::optional<uint64_t> limit;   // records in all, across streams
  bool values = false;             // hex/ASCII preview of the first 64 value bytes
};

struct IndexDumpOptions {
  std::string index_path;         // the index file (BTree::PathForPool of the pool by default)
  std::optional<uint64_t> limit;  // entries
  bool values = false;            // hex/ASCII preview of the first 64 value bytes
};

// Creates the pool file and its log (Log::PathForPool). With exist_ok, an existing pair is
// opened read-only and validated instead, and must match every parameter that was given.
int RunCreate(const CreateOptions& o);
// Prints the pool header, the log header and each stream header. Read-only.
int RunInfo(const std::string& pool_path);
// Read-only recovery that reports corruption instead of failing, plus a buffer ownership check.
// kExitOk when clean (a torn tail is not corruption), kExitCorrupt when damage was found.
int RunVerify(const std::string& pool_path);
// Prints every record of whole batches, then why each stream's scan stopped. Read-only.
int RunDump(const DumpOptions& o);
// Opens an index file read-only, which verifies the whole committed tree (docs/formats/index.md),
// and prints its superblock slots and counts. kExitOk when clean, kExitCorrupt when the file is
// damaged (kCorruption, with the first problem), kExitError when it does not open otherwise.
int RunIndexVerify(const std::string& index_path);
// Prints every entry of a verified index in key order (escaped key, value length). Read-only.
int RunIndexDump(const IndexDumpOptions& o);

// Prints "pastelctl: <st.ToString()>" on stderr and returns `exit_code`.
int Fail(const Status& st, int exit_code = kExitError);

}  // namespace pastel::ctl
