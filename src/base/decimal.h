#pragma once
// Decimal writing for the protocols' answers (HTTP status and lengths, RESP integers and lengths):
// in place, no allocation, no locale.

#include <cstddef>
#include <cstdint>

namespace pastel {

// The digits of v in decimal (1 for 0).
constexpr size_t DecimalDigits(uint64_t v) {
  size_t digits = 1;
  while (v >= 10) {
    v /= 10;
    ++digits;
  }
  return digits;
}

// Writes v in decimal at out, which has room for DecimalDigits(v) bytes; returns the end.
constexpr char* PutDecimal(char* out, uint64_t v) {
  const size_t digits = DecimalDigits(v);
  for (size_t i = digits; i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return out + digits;
}

}  // namespace pastel
