// The RESP protocol of pastel-kv: parsing commands in place, dispatching them through the command
// table (commands.h), and the answers every command family uses. The commands themselves are in
// kv_strings.cc, kv_keyspace.cc and kv_server.cc.

#include "kv_protocol.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "commands.h"
#include "kv_util.h"

namespace pastel::kv {
namespace {

constexpr std::string_view kFailed =
    "-MISCONF a flush failed: pastel-kv is read-only and this write was not made durable\r\n";
constexpr std::string_view kReadOnly =
    "MISCONF pastel-kv is read-only after a failed flush or checkpoint (reads go on; INFO "
    "persistence says why)";

}  // namespace

KvProtocol::KvProtocol(server::Server& shared, const resp::Limits& limits)
    : shared_(shared), limits_(limits) {
  args_.resize(limits_.max_args);
  // A command spans at most argc + segments - 1 pieces; a 1 MiB value over 512 B buffers is
  // about 2,000 segments.
  pieces_.resize(limits_.max_args + 8192);
  scratch_.resize(4096);
  segments_.reserve(64);
  body_.reserve(64);
}

void KvProtocol::Segments(const Conn& c) {
  segments_.clear();
  for (size_t i = c.head; i < c.segs.size(); ++i) {
    const store::Segment& s = c.segs[i];
    const uint32_t skip = i == c.head ? c.front_off : 0;
    segments_.emplace_back(b_->SegData(s) + skip, s.length - skip);
  }
}

void KvProtocol::Parse(store::Batch& b, Conn& c) {
  b_ = &b;
  while (!c.closing && c.avail > 0 && !b_->Held(c)) {
    Segments(c);
    const resp::Storage storage{args_, pieces_, scratch_};
    const resp::ParseResult r = resp::ParseCommand(segments_, {}, limits_, storage);
    if (r.outcome == resp::Outcome::kNeedMore) {
      return;
    }
    cmd_ = {&c, r.argc, false};
    if (r.outcome != resp::Outcome::kCommand) {
      b_->counters().Add(b_->counters().requests[static_cast<int>(CommandKind::kError)]);
      const size_t begin = Text().size();
      if (r.outcome == resp::Outcome::kError) {
        const size_t n = resp::WriteProtocolError(buf_, sizeof(buf_), r.error);
        Text().append(buf_, n);
      } else {
        Text().append("-ERR Protocol error: a command spread over too many receive buffers\r\n");
      }
      b_->AnswerTextSince(c.id, begin, AnswerClass::kClientError, true);
      c.closing = true;  // as redis-server: the stream cannot be resynchronized
      return;
    }
    if (r.argc > 0) {  // an empty command has no answer
      const CommandKind kind = Execute(r.argc);
      if (b_->room_wanted()) {
        return;  // the loop makes room in the log, then parses c again: the command runs again
      }
      b_->counters().Add(b_->counters().requests[static_cast<int>(kind)]);
    }
    b_->Consume(c, r.bytes);
    if (cmd_.close) {
      c.closing = true;
    }
  }
}

void KvProtocol::OnTimeout(store::Batch& b, Conn& c) {
  b_ = &b;
  cmd_ = {&c, 0, true};
  Err("ERR request not received whole in time: connection closed");
  c.closing = true;
}

std::string_view KvProtocol::ArgView(size_t i, std::string* tmp) const {
  const resp::Arg& a = args_[i];
  if (a.contiguous) {
    return a.view;
  }
  tmp->clear();
  for (const resp::Piece& p : a.pieces) {
    tmp->append(segments_[p.segment].data() + p.offset, p.length);
  }
  return *tmp;
}

void KvProtocol::ArgExtents(const Conn& c, size_t i, std::vector<Extent>* out) const {
  out->clear();
  for (const resp::Piece& p : args_[i].pieces) {
    const store::Segment& s = c.segs[c.head + p.segment];
    const uint32_t skip = p.segment == 0 ? c.front_off : 0;
    out->push_back({s.buffer, static_cast<uint32_t>(s.offset + skip + p.offset),
                    static_cast<uint32_t>(p.length)});
  }
}

void KvProtocol::Simple(std::string_view s) {
  const size_t begin = Text().size();
  Text() += '+';
  Text() += s;
  Text() += resp::kCrlf;
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Err(std::string_view message) {
  const size_t begin = Text().size();
  Text() += '-';
  for (char ch : message) {
    Text() += (ch == '\r' || ch == '\n') ? ' ' : ch;
  }
  Text() += resp::kCrlf;
  const bool server = message.starts_with("OOM") || message.starts_with("MISCONF");
  b_->AnswerTextSince(cmd_.conn->id, begin,
                      server ? AnswerClass::kServerError : AnswerClass::kClientError, cmd_.close);
}

void KvProtocol::Int(int64_t v) {
  b_->AnswerText(cmd_.conn->id, {buf_, resp::WriteInteger(buf_, sizeof(buf_), v)}, AnswerClass::kOk,
                 cmd_.close);
}

void KvProtocol::Bulk(std::string_view s) {
  const size_t begin = Text().size();
  Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
  Text() += s;
  Text() += resp::kCrlf;
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Null() {
  b_->AnswerText(cmd_.conn->id, resp::kNullBulk, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::ArrayHeader(uint64_t n) {
  b_->AnswerText(cmd_.conn->id, {buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), n)},
                 AnswerClass::kOk, cmd_.close);
}

void KvProtocol::WrongArity() {
  std::string name(Printable(args_[0].view));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  Err("ERR wrong number of arguments for '" + name + "' command");
}

void KvProtocol::Refused(store::WriteOutcome w) {
  switch (w) {
    case store::WriteOutcome::kQueued: break;
    case store::WriteOutcome::kReadOnly: Err(kReadOnly); break;
    case store::WriteOutcome::kPoolFull:
      Err("OOM command not allowed: the pool has no free buffers left for values");
      break;
    case store::WriteOutcome::kLogFull:
      Err("OOM command not allowed: the log is full (start with a larger --log-size)");
      break;
    case store::WriteOutcome::kTooLarge: Err("ERR value spans too many buffers"); break;
    case store::WriteOutcome::kInternal: Err("ERR internal error"); break;
    case store::WriteOutcome::kNeedsRoom: break;  // not an answer: the command runs again
  }
}

void KvProtocol::WriteOk(std::string_view ok) {
  b_->AnswerWrite(cmd_.conn->id, ok, kFailed, cmd_.close);
}

void KvProtocol::BulkValue(const Value& v) {
  b_->AnswerValue(cmd_.conn->id, {buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), v.length)}, v,
                  resp::kCrlf, cmd_.close);
}

bool KvProtocol::KeyOk(size_t i) {
  if (args_[i].length == 0 || args_[i].length > kMaxKeyBytes) {
    Err(args_[i].length == 0 ? "ERR empty keys are not supported by pastel-kv" : kKeyTooLong);
    return false;
  }
  return true;
}

bool KvProtocol::ReadValue(const Value& v, size_t max, std::string* out) const {
  out->clear();
  if (v.length > max) {
    return false;
  }
  for (const Extent& e : v.extents) {
    out->append(reinterpret_cast<const char*>(b_->pool().BufferData(e.buffer)) + e.offset,
                e.length);
  }
  return true;
}

CommandKind KvProtocol::Execute(size_t argc) {
  const std::string_view name = args_[0].contiguous ? args_[0].view : std::string_view();
  const CommandSpec* cmd = FindCommand(name);
  if (cmd == nullptr) {
    std::string msg =
        "ERR unknown command '" + Printable(args_[0].view) + "', with args beginning with: ";
    for (size_t i = 1; i < argc && i < 4; ++i) {
      msg += "'" + Printable(args_[i].view) + "' ";
    }
    Err(msg);
    return CommandKind::kError;
  }
  if (!cmd->ArityOk(argc)) {
    WrongArity();
    return CommandKind::kError;
  }
  const CommandKind kind = (cmd->flags & kCmdWrite) != 0      ? CommandKind::kWrite
                           : (cmd->flags & kCmdReadOnly) != 0 ? CommandKind::kRead
                                                              : CommandKind::kOther;
  (this->*cmd->handler)();
  return kind;
}

}  // namespace pastel::kv
