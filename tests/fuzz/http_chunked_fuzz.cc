// libFuzzer target: the in-place chunked-body decoder (http::ChunkedDecoder, include/pastel/http.h)
// on arbitrary bytes. The first byte picks the limits and how the rest is cut into pieces (as
// receive buffers cut a body); the rest is the body as received. Checked beyond the sanitizers:
//   - every step's ranges lie in its piece, data ends its step, a step that is neither the end nor
//     an error takes bytes, and a decoder that needs more has taken every byte;
//   - only the documented statuses (400, 413, 431), and the limits hold: decoded bytes at most
//     max_body, bytes taken at most max_body + (max_body + max_head) of framing;
//   - the answer (status, end, decoded bytes, bytes taken) does not depend on the cut: the same
//     as one piece and as pieces of one byte;
//   - a body that ended decodes to the same bytes when fed only its own bytes.
// Each piece is a heap copy of exactly its size, so ASan catches any over-read.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "pastel/http.h"

namespace {

using pastel::http::ChunkedDecoder;
using pastel::http::Limits;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_chunked_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  int status = 0;
  bool done = false;
  std::string data;
  uint64_t wire = 0;  // bytes taken
  bool operator==(const Outcome&) const = default;
};

// Decodes [p, p + n) cut into pieces of `piece` bytes (0: one piece).
Outcome Decode(const char* p, size_t n, size_t piece, const Limits& limits) {
  ChunkedDecoder d;
  Outcome out;
  size_t begin = 0;
  while (begin < n && out.status == 0 && !out.done) {
    const size_t len = piece == 0 ? n - begin : std::min(piece, n - begin);
    std::vector<char> copy(p + begin, p + begin + len);  // exactly the piece: over-reads trap
    size_t off = 0;
    while (off < len) {
      const ChunkedDecoder::Step st = d.Next(copy.data() + off, len - off, limits);
      Check(st.consumed <= len - off, "step beyond its piece");
      if (st.data_len > 0) {
        Check(st.data_offset + st.data_len == st.consumed, "data does not end its step");
        out.data.append(copy.data() + off + st.data_offset, st.data_len);
      }
      off += st.consumed;
      if (st.status != 0) {
        Check(st.status == 400 || st.status == 413 || st.status == 431, "undocumented status");
        Check(!st.done, "an error that ends the body");
        out.status = st.status;
        break;
      }
      if (st.done) {
        Check(d.done(), "done() disagrees");
        out.done = true;
        break;
      }
      Check(st.consumed > 0, "a step that took nothing");
    }
    begin += off;
    if (out.status == 0 && !out.done) {
      Check(off == len, "a decoder that needs more left bytes");
    }
  }
  out.wire = out.done ? begin : d.wire_bytes();
  Check(d.wire_bytes() <= n, "took more bytes than given");
  Check(d.body_bytes() == out.data.size() || out.status != 0, "body_bytes disagrees");
  Check(out.data.size() <= limits.max_body, "decoded above max_body");
  Check(d.wire_bytes() - d.body_bytes() <= limits.max_body + limits.max_head + 1,
        "framing above its limit");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t mode = data[0];
  const char* p = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;
  Limits limits;
  if ((mode & 1) != 0) {
    limits.max_head = 64;
    limits.max_body = 40;
  }
  const size_t piece = 1 + (mode >> 1) % 64;
  const Outcome whole = Decode(p, n, 0, limits);
  Check(Decode(p, n, piece, limits) == whole, "the answer depends on the cut");
  if (n <= 4096) {
    Check(Decode(p, n, 1, limits) == whole, "the answer depends on the cut (bytewise)");
  }
  if (whole.done) {
    Check(Decode(p, static_cast<size_t>(whole.wire), 0, limits) == whole,
          "the body alone decodes differently");
  }
  return 0;
}
