#pragma once
// Text helpers of pastelctl: sizes with binary suffixes, escaped keys, hex previews and timestamps.
// Pure functions, no state; unit-tested in tests/pastelctl_test.cc.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pastel/status.h"

namespace pastel::ctl {

// "4096", "64K", "64M", "1G", "2T" (binary multiples; "KiB", "MB" and a lower-case suffix are
// accepted too). InvalidArgument on anything else, on a value that overflows 64 bits, or on "".
Result<uint64_t> ParseSize(std::string_view text);

// "67108864 (64.0 MiB)"; below 1 KiB just the number.
std::string FormatSize(uint64_t bytes);

// Printable ASCII as is, except '\\' and '"'; \n \r \t; every other byte as \xNN.
std::string EscapeBytes(std::string_view bytes);

// Two lower-case hex digits per byte, no separators.
std::string HexString(std::span<const uint8_t> bytes);

// A hexdump of `bytes`, 16 per line: "<indent>0010  68 65 6c 6c 6f ...  |hello...|\n".
std::string HexPreview(std::span<const uint8_t> bytes, std::string_view indent);

// "2024-05-01 12:00:00.000000123 UTC".
std::string FormatUnixNs(uint64_t unix_ns);

}  // namespace pastel::ctl
