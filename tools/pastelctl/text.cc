#include "tools/pastelctl/text.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace pastel::ctl {

Result<uint64_t> ParseSize(std::string_view text) {
  const auto bad = [&] {
    return Status::InvalidArgument("'" + EscapeBytes(text) +
                                   "' is not a size (examples: 4096, 64K, 64M, 1G)");
  };
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return Status::InvalidArgument("size '" + EscapeBytes(text) + "' is too large");
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return bad();
  }
  std::string suffix;
  for (; i < text.size(); ++i) {
    suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  }
  // Strip an optional "B" or "iB" after the unit letter ("64M", "64MB", "64MiB").
  if (suffix.size() > 1 && suffix.back() == 'B') {
    suffix.pop_back();
    if (suffix.size() > 1 && suffix.back() == 'I') {
      suffix.pop_back();
    }
  }
  int shift = 0;
  if (suffix.empty() || suffix == "B") {
    shift = 0;
  } else if (suffix == "K") {
    shift = 10;
  } else if (suffix == "M") {
    shift = 20;
  } else if (suffix == "G") {
    shift = 30;
  } else if (suffix == "T") {
    shift = 40;
  } else {
    return bad();
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) {
    return Status::InvalidArgument("size '" + EscapeBytes(text) + "' is too large");
  }
  return value << shift;
}

std::string FormatSize(uint64_t bytes) {
  std::string s = std::to_string(bytes);
  if (bytes < 1024) {
    return s;
  }
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), " (%.1f %s)", v, kUnits[unit]);
  return s + buf;
}

std::string EscapeBytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (b >= 0x20 && b < 0x7f) {
          out += c;
        } else {
          char buf[5];
          std::snprintf(buf, sizeof(buf), "\\x%02x", b);
          out += buf;
        }
    }
  }
  return out;
}

std::string HexString(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::string HexPreview(std::span<const uint8_t> bytes, std::string_view indent) {
  constexpr size_t kPerLine = 16;
  std::string out;
  for (size_t line = 0; line < bytes.size(); line += kPerLine) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "%04zx  ", line);
    out += indent;
    out += buf;
    std::string ascii;
    for (size_t i = line; i < line + kPerLine; ++i) {
      if (i < bytes.size()) {
        std::snprintf(buf, sizeof(buf), "%02x ", bytes[i]);
        out += buf;
        ascii += (bytes[i] >= 0x20 && bytes[i] < 0x7f) ? static_cast<char>(bytes[i]) : '.';
      } else {
        out += "   ";
      }
    }
    out += " |" + ascii + "|\n";
  }
  return out;
}

std::string FormatUnixNs(uint64_t unix_ns) {
  const auto secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) {
    return std::to_string(unix_ns) + " ns since the epoch";
  }
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s.%09llu UTC", date,
                static_cast<unsigned long long>(unix_ns % 1'000'000'000));
  return buf;
}

}  // namespace pastel::ctl
