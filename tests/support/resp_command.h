#pragma once
// A Redis command as a client sends it: a RESP2 array of bulk strings.

#include <string>
#include <string_view>
#include <vector>

namespace pastel::testing {

inline std::string RespCommand(const std::vector<std::string_view>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

}  // namespace pastel::testing
